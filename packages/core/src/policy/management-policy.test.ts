import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authorizeManagement,
  MANAGEMENT_ACTIONS,
  MANAGEMENT_POLICY,
  type ManagerRole,
} from './management-policy.js';

const ROLES: ManagerRole[] = ['system-manager', 'safe-manager', 'audit-manager'];

describe('the management policy table', () => {
  it('names every action exactly once', () => {
    assert.deepEqual(Object.keys(MANAGEMENT_POLICY).sort(), [...MANAGEMENT_ACTIONS].sort());
  });

  for (const action of MANAGEMENT_ACTIONS) {
    for (const role of ROLES) {
      const allowed = MANAGEMENT_POLICY[action].includes(role);
      it(`${allowed ? 'allows' : 'refuses'} ${action} for the ${role}`, () => {
        const d = authorizeManagement(role, action);
        assert.equal(d.allow, allowed);
        if (!d.allow) assert.match(d.reason, /you are logged in as/);
      });
    }
  }

  it('gives each role its own rights: no key function to the System Manager, no operator function to the Audit Manager', () => {
    assert.equal(authorizeManagement('system-manager', 'keys.add').allow, false);
    assert.equal(authorizeManagement('audit-manager', 'operators.add').allow, false);
    assert.equal(authorizeManagement('safe-manager', 'logs.manager').allow, false);
  });
});
