import { byId } from './dom.js';
import { Panel } from './panel.js';
import { homeFor } from './screens/home.js';

/** The page's entry point: draws the device into #app and starts talking to it. */
new Panel(homeFor).mount(byId('app'));
