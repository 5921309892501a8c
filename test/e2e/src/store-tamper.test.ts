import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { initialiseDevice, refusal, startTestDevice, tempDir } from './support.js';

const card = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

describe('a store edited behind the device’s back is detected, not obeyed', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(async () => {
    await tmp.cleanup();
  });

  it('reviving a replaced card in the database puts the device in FAULT at the next boot', async () => {
    const data = join(tmp.dir, 'revive');
    let { daemon, api } = await startTestDevice(data);
    const init = await initialiseDevice(api, data);
    const boot = async (x: string, y: string) => {
      const first = await api.post<{ token: string }>('/api/auth2boot/first', {
        card: card(init.card(x).file),
        pin: init.card(x).pin,
      });
      return api.post<{ state: string }>('/api/auth2boot/second', {
        token: first.token,
        card: card(init.card(y).file),
        pin: init.card(y).pin,
      });
    };
    await boot('A1', 'A2');
    const oldC1 = card(init.card('C1').file);
    await api.post('/api/remake/safe-manager', { pin: 'ABCD1234', pinConfirm: 'ABCD1234' });
    await daemon.close();

    // Someone with the database file marks the old C1 card active again.
    const db = new Database(join(data, 'coffer.sqlite'));
    const changed = db
      .prepare("UPDATE cards SET status = 'active', replaced_at = NULL WHERE card_id = ?")
      .run(oldC1.cardId);
    db.close();
    assert.equal(changed.changes, 1);

    ({ daemon, api } = await startTestDevice(data));
    try {
      await refusal(boot('A1', 'A3'), 'ERR_INTEGRITY');
      const s = await api.get<{ state: string; fault: { reason: string; detail: string } }>('/api/status');
      assert.equal(s.state, 'FAULT');
      assert.equal(s.fault.reason, 'Other reasons');
      assert.match(s.fault.detail, /card C1/);
    } finally {
      await daemon.close();
    }
  });

  it('a sealed share moved to another slot does not open', async () => {
    const data = join(tmp.dir, 'move');
    let { daemon, api } = await startTestDevice(data);
    const init = await initialiseDevice(api, data);
    await daemon.close();
    const db = new Database(join(data, 'coffer.sqlite'));
    const a1 = db.prepare("SELECT sealed FROM shares WHERE slot = 'A1'").get() as { sealed: Buffer };
    db.prepare("UPDATE shares SET sealed = ? WHERE slot = 'A2'").run(a1.sealed);
    db.close();
    ({ daemon, api } = await startTestDevice(data));
    try {
      const first = await api.post<{ token: string }>('/api/auth2boot/first', {
        card: card(init.card('A1').file),
        pin: init.card('A1').pin,
      });
      await api.post('/api/auth2boot/second', {
        token: first.token,
        card: card(init.card('A3').file),
        pin: init.card('A3').pin,
      });
      const a2 = init.card('A2');
      const v = await api.post<{ token: string }>('/api/remake/device-manager/verify', {
        mkPartPin: a2.mkPartPin,
        slot: 'A2',
      });
      await refusal(
        api.post('/api/remake/device-manager/card', {
          token: v.token,
          pin: 'ABCD1234',
          pinConfirm: 'ABCD1234',
        }),
        'ERR_DECRYPT',
      );
    } finally {
      await daemon.close();
    }
  });
});
