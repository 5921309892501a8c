/**
 * The management tool (manual §4): logon with a card, then the menu of the manager's role. Pages are
 * addressed as `#/page-id`; a page of another role is drawn and its request refused by the device
 * (ERR_FORBIDDEN), so the refusal shown is the device's, not a hidden menu entry.
 */

import { type ApiError, createApi, type Role, type Session } from './api.js';
import {
  logSettingsPage,
  managerLogPage,
  networkPage,
  operatorLogPage,
  runningLogPage,
} from './audit-pages.js';
import { logIn, parseCard } from './card-login.js';
import { deviceInfoPage, type PageDef } from './page.js';
import { asymmetricKeysPage, symmetricKeysPage } from './safe-pages.js';
import { operatorsPage, whitelistPage } from './system-pages.js';
import { button, clearRefusals, field, h, input, messageBox, showRefusal } from './ui.js';

const ROLE_NAME: Record<Role, string> = {
  'system-manager': 'System Manager',
  'safe-manager': 'Safe Manager',
  'audit-manager': 'Audit Manager',
};

const MENUS: Record<Role, PageDef[]> = {
  'system-manager': [operatorsPage, whitelistPage, deviceInfoPage],
  'safe-manager': [symmetricKeysPage, asymmetricKeysPage, deviceInfoPage],
  'audit-manager': [
    managerLogPage,
    operatorLogPage,
    logSettingsPage,
    runningLogPage,
    networkPage,
    deviceInfoPage,
  ],
};

const PAGES = new Map<string, PageDef>(
  Object.values(MENUS)
    .flat()
    .map((p) => [p.id, p]),
);

const app = document.getElementById('app')!;
let idleTimer: ReturnType<typeof setTimeout> | null = null;

const api = createApi({
  onActivity: () => armIdle(),
  onSessionEnded: (error: ApiError) =>
    endSession(
      error.code === 'ERR_SESSION_EXPIRED'
        ? 'You were logged out because the session was idle for too long. Log on again.'
        : `The session has ended (${error.message}). Log on again.`,
    ),
});

function armIdle(): void {
  if (idleTimer) clearTimeout(idleTimer);
  const session = api.session;
  if (!session) return;
  // The device ends the session after idleTimeoutMs without a request; say so as soon as it does.
  idleTimer = setTimeout(() => {
    const minutes = session.idleTimeoutMs / 60_000;
    const span =
      minutes >= 1
        ? `${Math.round(minutes)} minute${minutes >= 1.5 ? 's' : ''}`
        : `${Math.round(session.idleTimeoutMs / 1000)} seconds`;
    endSession(`You were logged out after ${span} without activity. Log on again.`);
  }, session.idleTimeoutMs + 500);
}

function endSession(reason: string): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  api.session = null;
  for (const o of document.querySelectorAll('.overlay')) o.remove();
  showLogon(reason);
}

function header(extra: HTMLElement | null): HTMLElement {
  return h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'brand' },
      h('img', { src: '/assets/favicon.svg', alt: '', class: 'logo' }),
      h('span', {}, 'Coffer HSM'),
      h('span', { class: 'brand-sub' }, 'Management Tool'),
    ),
    extra,
  );
}

function showLogon(notice?: string): void {
  if (location.hash) history.replaceState(null, '', location.pathname);
  const card = input('card-file', {
    type: 'file',
    accept: '.card,.json,application/json',
    'data-field': 'card',
  });
  const pin = input('pin', { type: 'password', maxlength: 8, autocomplete: 'off', 'data-field': 'pin' });
  const cardName = h('div', { class: 'hint', id: 'card-name' }, 'No card chosen.');
  const message = messageBox('login-message');
  if (notice) message.show('info', notice);
  const go = h('button', { type: 'submit', class: 'primary', id: 'login' }, 'Logon');
  const form = h(
    'form',
    { class: 'logon-form', id: 'logon-form' },
    h('h1', {}, 'Logon'),
    h(
      'p',
      { class: 'hint' },
      'Insert your manager card (its file) and type its PIN. The card is opened in this browser; the PIN never leaves it.',
    ),
    field('Card file', card),
    cardName,
    field('PIN', pin, '8 characters, 0–9 and A–F'),
    message,
    go,
  );
  card.addEventListener('change', async () => {
    const f = card.files?.[0];
    if (!f) return;
    try {
      const c = parseCard(await f.text());
      cardName.textContent = `Card ${c.slot} · ${c.account}`;
    } catch (error) {
      cardName.textContent = '';
      clearRefusals(form);
      showRefusal(form, message, error);
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearRefusals(form);
    message.show('info', '');
    const f = card.files?.[0];
    if (!f) {
      showRefusal(form, message, Object.assign(new Error('Choose your card file.'), {}));
      return;
    }
    go.disabled = true;
    message.show('info', 'Opening the card…');
    try {
      const session = await logIn(api, await f.text(), pin.value);
      pin.value = '';
      showConsole(session);
    } catch (error) {
      message.show('info', '');
      showRefusal(form, message, error);
    } finally {
      go.disabled = false;
    }
  });
  app.replaceChildren(header(null), h('main', { class: 'logon' }, form));
  card.focus();
}

function showConsole(session: Session): void {
  armIdle();
  const menu = MENUS[session.role];
  const nav = h('nav', { class: 'menu', id: 'menu', 'aria-label': ROLE_NAME[session.role] });
  for (const p of menu) nav.append(h('a', { href: `#/${p.id}`, 'data-page': p.id }, p.title));
  const who = h(
    'div',
    { class: 'who' },
    h('span', { class: 'role', id: 'who-role' }, ROLE_NAME[session.role]),
    h('span', { class: 'account', id: 'who-account' }, `${session.account} (${session.slot})`),
    button(
      'Logout',
      async () => {
        try {
          await api.send('POST', '/api/logout');
        } catch {
          // the session may have ended already; leave anyway
        }
        endSession('You have logged out.');
      },
      { id: 'logout' },
    ),
  );
  const content = h('main', { class: 'content', id: 'content' });
  app.replaceChildren(header(who), h('div', { class: 'layout' }, nav, content));
  const route = () => {
    if (!api.session) return;
    const id = location.hash.replace(/^#\//, '') || menu[0]!.id;
    const page = PAGES.get(id);
    for (const a of nav.querySelectorAll('a')) {
      const here = a.dataset['page'] === id;
      a.classList.toggle('active', here);
      if (here) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (!page) {
      content.replaceChildren(h('p', { class: 'message error' }, `There is no page “${id}”.`));
      return;
    }
    void page.render({ api, root: content });
  };
  window.onhashchange = route;
  route();
}

showLogon();
