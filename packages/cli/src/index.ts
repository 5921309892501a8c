export { type DevCard, type DevJson, initialise, randomPin } from './commands/dev.js';
export { PanelClient } from './panel-client.js';
