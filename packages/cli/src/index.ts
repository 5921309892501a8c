export { PanelClient } from './panel-client.js';
export { initialise, randomPin, type DevJson, type DevCard } from './commands/dev.js';
