export { AdminClient, type AdminClientOptions, type LoginReply, type RawReply } from './admin-client.js';
export { type DevCard, type DevJson, initialise, randomPin } from './commands/dev.js';
export { PanelClient } from './panel-client.js';
