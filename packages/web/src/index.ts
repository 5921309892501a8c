import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a browser application's files are on disk (absolute paths). */
export interface PanelFileDirs {
  /** Static HTML, CSS and SVG (`assets/panel/`); `index.html` is the page. */
  assets: string;
  /** The compiled browser modules (`dist/panel/`), loaded by the page as `/js/…`. */
  scripts: string;
}

/**
 * The directories of the front panel's files, for the daemon to serve on its loopback panel port.
 * Nothing here touches the DOM: the browser code lives in `panel/` and only runs in the page.
 */
export function panelFileDirs(): PanelFileDirs {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return { assets: resolve(here, '../assets/panel'), scripts: resolve(here, 'panel') };
}

/**
 * The directories of the management tool's files (manual §4: the System, Safe and Audit Manager
 * consoles), served by the management service at `/` of its port: `assets/manager/` and
 * `dist/manager/`.
 */
export function managerFileDirs(): PanelFileDirs {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return { assets: resolve(here, '../assets/manager'), scripts: resolve(here, 'manager') };
}
