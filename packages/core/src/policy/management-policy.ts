import type { CardRole } from '../store/port.js';

/** The three manager roles that log in to the management service (manual §4.4). */
export type ManagerRole = Exclude<CardRole, 'device-manager'>;

/**
 * Every management function, named `area.verb`. Routes declare one; the CLI and the web UI use the
 * same names. Adding a function means adding it here and to the table below.
 */
export const MANAGEMENT_ACTIONS = [
  // everyone logged in
  'session.logout',
  'session.whoami',
  'device.info',
  'jobs.read',
  // System Manager (§4.4.1)
  'operators.list',
  'operators.read',
  'operators.add',
  'operators.delete',
  'licences.download',
  'whitelist.list',
  'whitelist.read',
  'whitelist.add',
  'whitelist.delete',
  // Safe Manager (§4.4.2)
  'keys.list',
  'keys.read',
  'keys.add',
  'keys.import',
  'keys.backup',
  'keys.restore',
  'keys.discard',
  'keys.restore-status',
  'keys.invalidate',
  'keys.delete',
  'keys.bind',
  'keys.unbind',
  'operators.names',
  // Audit Manager (§4.4.3)
  'logs.manager',
  'logs.operator',
  'logs.export',
  'logs.verify',
  'running-log.settings.read',
  'running-log.settings.write',
  'running-log.read',
  'network.read',
] as const;

export type ManagementAction = (typeof MANAGEMENT_ACTIONS)[number];

/** What an action is applied to, when it matters for the decision. */
export interface ActionTarget {
  /** The account the action is about (e.g. a session of another manager). */
  account?: string;
}

export type Decision = { allow: true } | { allow: false; reason: string };

const ALL: readonly ManagerRole[] = ['system-manager', 'safe-manager', 'audit-manager'];
const SYS: readonly ManagerRole[] = ['system-manager'];
const SAFE: readonly ManagerRole[] = ['safe-manager'];
const AUDIT: readonly ManagerRole[] = ['audit-manager'];

/**
 * Who may do what (manual §4.4: each role has an independent set of rights):
 *
 * | action                         | System | Safe | Audit |
 * |--------------------------------|:------:|:----:|:-----:|
 * | session.*, device.info         |   ✔    |  ✔   |   ✔   |
 * | jobs.read (own jobs only)      |   ✔    |  ✔   |   ✔   |
 * | operators.*, licences.*        |   ✔    |      |       |
 * | whitelist.* (service)          |   ✔    |      |       |
 * | operators.names (for binding)  |        |  ✔   |       |
 * | keys.*                         |        |  ✔   |       |
 * | logs.*, running-log.*          |        |      |   ✔   |
 * | network.read                   |        |      |   ✔   |
 *
 * `operators.names` lets the Safe Manager pick operators in the bind dialog without the System
 * Manager's operator details.
 */
export const MANAGEMENT_POLICY: Readonly<Record<ManagementAction, readonly ManagerRole[]>> = {
  'session.logout': ALL,
  'session.whoami': ALL,
  'device.info': ALL,
  'jobs.read': ALL,
  'operators.list': SYS,
  'operators.read': SYS,
  'operators.add': SYS,
  'operators.delete': SYS,
  'licences.download': SYS,
  'whitelist.list': SYS,
  'whitelist.read': SYS,
  'whitelist.add': SYS,
  'whitelist.delete': SYS,
  'keys.list': SAFE,
  'keys.read': SAFE,
  'keys.add': SAFE,
  'keys.import': SAFE,
  'keys.backup': SAFE,
  'keys.restore': SAFE,
  'keys.discard': SAFE,
  'keys.restore-status': SAFE,
  'keys.invalidate': SAFE,
  'keys.delete': SAFE,
  'keys.bind': SAFE,
  'keys.unbind': SAFE,
  'operators.names': SAFE,
  'logs.manager': AUDIT,
  'logs.operator': AUDIT,
  'logs.export': AUDIT,
  'logs.verify': AUDIT,
  'running-log.settings.read': AUDIT,
  'running-log.settings.write': AUDIT,
  'running-log.read': AUDIT,
  'network.read': AUDIT,
};

const ROLE_WORDS: Record<ManagerRole, string> = {
  'system-manager': 'the System Manager',
  'safe-manager': 'the Safe Manager',
  'audit-manager': 'the Audit Manager',
};

/** The one authorisation decision of the management service: a pure function of the table above. */
export function authorizeManagement(
  role: ManagerRole,
  action: ManagementAction,
  _target: ActionTarget = {},
): Decision {
  const allowed = MANAGEMENT_POLICY[action];
  if (!allowed) return { allow: false, reason: `'${action}' is not a management function.` };
  if (allowed.includes(role)) return { allow: true };
  return {
    allow: false,
    reason: `${action} is a function of ${allowed.map((r) => ROLE_WORDS[r]).join(' or ')}; you are logged in as ${ROLE_WORDS[role]}.`,
  };
}
