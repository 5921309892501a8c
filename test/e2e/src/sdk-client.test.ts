import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  constants,
  createECDH,
  createHash,
  createPublicKey,
  type KeyObject,
  publicEncrypt,
  randomBytes,
  verify,
} from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { DevJson } from '@coffer/cli';
import { type CofferClient, CofferLicenceError, CofferServiceError, connect } from '@coffer/sdk';
import { ROOT, runCli, spawnCli, stopChild, tempDir } from './support.js';

const sh = promisify(execFile);

/*
 * The SDK and `coffer client` against a `coffer dev` device over real TLS (manual §5, issue 4):
 * the demo licence opens in the SDK, operations are cross-checked with Node's crypto and the
 * `openssl` command line, refusals arrive as typed errors, and the command `coffer dev` prints works.
 */
describe('the SDK and coffer client against a coffer dev device', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dev: Awaited<ReturnType<typeof spawnCli>>;
  let data: string;
  let json: DevJson;
  let hsm: CofferClient;
  const key = (type: string) => json.keys.find((k) => k.type === type)!.index;
  const publicKeys = new Map<number, KeyObject>();
  const publicKey = async (index: number) => {
    if (!publicKeys.has(index)) publicKeys.set(index, createPublicKey(await hsm.publicKey(index)));
    return publicKeys.get(index)!;
  };

  before(async () => {
    tmp = await tempDir();
    data = join(tmp.dir, 'dev');
    dev = await spawnCli(
      ['dev', '--data', data, '--panel-port', '0', '--management-port', '0', '--service-port', '0'],
      /try it:\s+(.+)\n/,
    );
    json = JSON.parse(readFileSync(join(data, 'dev.json'), 'utf8'));
    hsm = await connect({ license: json.operator!.license, pin: json.operator!.pin });
  });
  after(async () => {
    await hsm?.close();
    if (dev) await stopChild(dev.child);
    await tmp?.cleanup();
  });

  it('connects with the demo licence to the address in it, and lists the operator’s keys', async () => {
    assert.equal(hsm.licence.operator, json.operator!.name);
    assert.equal(hsm.serverInfo?.protocolVersion, 1);
    const { total, keys } = await hsm.listKeys();
    assert.equal(total, json.keys.length);
    assert.deepEqual(
      keys.map((k) => [k.index, k.type]),
      json.keys.map((k) => [k.index, k.type]),
    );
    const info = await hsm.keyInfo(key('EC-P256'));
    assert.equal(info.status, 'normal');
    assert.ok(info.usage.includes('sign'));
  });

  it('signs with every demo signing key, and Node verifies each signature with the exported public key', async () => {
    const data = Buffer.from('The quick brown fox jumps over the lazy dog');
    const cases = [
      {
        index: key('EC-P256'),
        algorithm: 'ecdsa-sha256',
        check: (pub: KeyObject, sig: Buffer) => verify('sha256', data, pub, sig),
      },
      {
        index: key('Ed25519'),
        algorithm: 'ed25519',
        check: (pub: KeyObject, sig: Buffer) => verify(null, data, pub, sig),
      },
      {
        index: key('RSA-2048'),
        algorithm: 'rsa-pkcs1-sha256',
        check: (pub: KeyObject, sig: Buffer) => verify('sha256', data, pub, sig),
      },
      {
        index: key('RSA-2048'),
        algorithm: 'rsa-pss-sha256',
        check: (pub: KeyObject, sig: Buffer) =>
          verify('sha256', data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig),
      },
    ] as const;
    for (const c of cases) {
      const signature = await hsm.sign({ key: c.index, algorithm: c.algorithm, data });
      assert.ok(c.check(await publicKey(c.index), signature), `${c.algorithm} verifies`);
      assert.equal(await hsm.verify({ key: c.index, algorithm: c.algorithm, data, signature }), true);
    }
  });

  it('hashes as Node does, and draws random bytes', async () => {
    const data = randomBytes(1000);
    for (const algorithm of ['sha256', 'sha512', 'sha3-256', 'sm3'] as const) {
      assert.deepEqual(
        await hsm.hash({ algorithm, data }),
        createHash(algorithm).update(data).digest(),
        algorithm,
      );
    }
    const r = await hsm.random(64);
    assert.equal(r.length, 64);
    assert.notDeepEqual(r, await hsm.random(64));
  });

  it('decrypts what Node encrypted to the device’s RSA key (OAEP-SHA256), and agrees on an ECDH secret', async () => {
    const message = Buffer.from('a data key, say');
    const ciphertext = publicEncrypt(
      {
        key: await publicKey(key('RSA-2048')),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      },
      message,
    );
    assert.deepEqual(
      await hsm.asymDecrypt({ key: key('RSA-2048'), algorithm: 'rsa-oaep-sha256', data: ciphertext }),
      message,
    );
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    const peerSpki = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: b64url(peer.getPublicKey().subarray(1, 33)),
        y: b64url(peer.getPublicKey().subarray(33)),
      },
      format: 'jwk',
    }).export({ format: 'der', type: 'spki' });
    const devicePoint = (await publicKey(key('EC-P256'))).export({ format: 'jwk' });
    const expected = peer.computeSecret(
      Buffer.concat([
        Buffer.of(4),
        Buffer.from(devicePoint.x!, 'base64url'),
        Buffer.from(devicePoint.y!, 'base64url'),
      ]),
    );
    assert.deepEqual(await hsm.derive({ key: key('EC-P256'), publicKey: peerSpki }), expected);
  });

  it('encrypts and decrypts with the AES key, wraps and unwraps, and refuses a tampered ciphertext (ERR_CIPHERTEXT)', async () => {
    const aes = key('AES-256');
    const data = Buffer.from('sixty-four bytes of secret data for AES-256-GCM on the device..');
    const sealed = await hsm.encrypt({ key: aes, mode: 'gcm', data, aad: Buffer.from('order 42') });
    const request = {
      key: aes,
      mode: 'gcm' as const,
      iv: sealed.iv,
      tag: sealed.tag,
      aad: Buffer.from('order 42'),
    };
    assert.deepEqual(await hsm.decrypt({ ...request, data: sealed.ciphertext }), data);
    const tampered = Buffer.from(sealed.ciphertext);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    await assert.rejects(
      hsm.decrypt({ ...request, data: tampered }),
      (e) => e instanceof CofferServiceError && e.code === 'ERR_CIPHERTEXT',
    );
    const dataKey = await hsm.generateDataKey({ key: aes, algorithm: 'aes-kwp', length: 32 });
    assert.deepEqual(
      await hsm.unwrap({ key: aes, algorithm: 'aes-kwp', wrapped: dataKey.wrapped }),
      dataKey.plaintext,
    );
  });

  it('pipelines many requests and batches, every signature verifying', async () => {
    const ec = key('EC-P256');
    const pub = await publicKey(ec);
    const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i}`));
    const signatures = await Promise.all(
      messages.map((data) => hsm.sign({ key: ec, algorithm: 'ecdsa-sha256', data })),
    );
    for (const [i, s] of signatures.entries()) assert.ok(verify('sha256', messages[i]!, pub, s));
    const batch = await hsm.batch(
      'sign',
      messages.slice(0, 20).map((data) => ({ key: ec, algorithm: 'ecdsa-sha256' as const, data })),
    );
    for (const [i, r] of batch.entries())
      assert.ok(r.ok && verify('sha256', messages[i]!, pub, r.value.signature));
  });

  it('refuses a key the operator may not use, and an unknown key, with the device’s codes', async () => {
    await assert.rejects(
      hsm.sign({ key: key('AES-256'), algorithm: 'ecdsa-sha256', data: Buffer.alloc(1) }),
      (e) => e instanceof CofferServiceError && /^ERR_(KEY_USAGE_NOT_ALLOWED|ALGORITHM)$/.test(e.code),
    );
    await assert.rejects(
      hsm.sign({ key: 9999, algorithm: 'ecdsa-sha256', data: Buffer.alloc(1) }),
      (e) => e instanceof CofferServiceError && e.code === 'ERR_KEY_NOT_FOUND',
    );
    await assert.rejects(
      connect({ license: json.operator!.license, pin: '0000000A' }),
      (e) => e instanceof CofferLicenceError && e.code === 'ERR_PIN_WRONG',
    );
  });

  it('a client over the licence’s connection limit is refused with ERR_CONNECTION_LIMIT', async () => {
    const limit = hsm.licence.maxConnections;
    const open = hsm.connections.length;
    const filler = await connect({
      license: json.operator!.license,
      pin: json.operator!.pin,
      poolSize: limit - open,
    });
    try {
      await waitFor(() => filler.connections.length === limit - open);
      await assert.rejects(
        connect({ license: json.operator!.license, pin: json.operator!.pin, poolSize: 1 }),
        (e) => e instanceof CofferServiceError && e.code === 'ERR_CONNECTION_LIMIT' && e.connectionLevel,
      );
    } finally {
      await filler.close();
    }
  });

  it('coffer client sign … --out writes signatures that openssl verifies, with public-key --out giving the SPKI PEM', async () => {
    const client = [
      'client',
      '--license',
      json.operator!.license,
      '--address',
      `${json.service!.host}:${json.service!.port}`,
    ];
    const env = { COFFER_LICENCE_PIN: json.operator!.pin };
    const message = join(tmp.dir, 'message.txt');
    writeFileSync(message, 'pay 100 to Alice\n');
    const cases = [
      { type: 'EC-P256', alg: 'ecdsa-sha256', openssl: ['dgst', '-sha256'] },
      { type: 'RSA-2048', alg: 'rsa-pkcs1-sha256', openssl: ['dgst', '-sha256'] },
      {
        type: 'RSA-2048',
        alg: 'rsa-pss-sha256',
        openssl: ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1'],
      },
      { type: 'SM2', alg: 'sm2-sm3', openssl: ['dgst', '-sm3', '-sigopt', 'distid:1234567812345678'] },
    ];
    for (const c of cases) {
      const pem = join(tmp.dir, `${c.alg}.pub.pem`);
      const sig = join(tmp.dir, `${c.alg}.sig`);
      const pk = await runCli([...client, 'public-key', '--key', String(key(c.type)), '--out', pem], { env });
      assert.equal(pk.code, 0, pk.stderr);
      assert.match(readFileSync(pem, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
      const signed = await runCli(
        [...client, 'sign', '--key', String(key(c.type)), '--alg', c.alg, '--in', message, '--out', sig],
        { env },
      );
      assert.equal(signed.code, 0, signed.stderr);
      const out = execFileSync('openssl', [...c.openssl, '-verify', pem, '-signature', sig, message], {
        encoding: 'utf8',
      });
      assert.match(out, /Verified OK/, c.alg);
    }
    // Ed25519 signs the message itself (no digest): openssl pkeyutl -rawin.
    const pem = join(tmp.dir, 'ed.pub.pem');
    const sig = join(tmp.dir, 'ed.sig');
    assert.equal(
      (await runCli([...client, 'public-key', '--key', String(key('Ed25519')), '--out', pem], { env })).code,
      0,
    );
    assert.equal(
      (
        await runCli(
          [
            ...client,
            'sign',
            '--key',
            String(key('Ed25519')),
            '--alg',
            'ed25519',
            '--in',
            message,
            '--out',
            sig,
          ],
          { env },
        )
      ).code,
      0,
    );
    const out = execFileSync(
      'openssl',
      ['pkeyutl', '-verify', '-pubin', '-inkey', pem, '-rawin', '-in', message, '-sigfile', sig],
      {
        encoding: 'utf8',
      },
    );
    assert.match(out, /Signature Verified Successfully/);
  });

  it('coffer client prints error CODE: message and exits non-zero when refused', async () => {
    const client = ['client', '--license', json.operator!.license];
    const env = { COFFER_LICENCE_PIN: json.operator!.pin };
    const r = await runCli([...client, 'sign', '--key', '9999', '--alg', 'ecdsa-sha256', '--text', 'x'], {
      env,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^error ERR_KEY_NOT_FOUND: /m);
    const wrong = await runCli([...client, 'random', '--length', '8'], {
      env: { COFFER_LICENCE_PIN: '0000000A' },
    });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /^error ERR_PIN_WRONG: /m);
  });

  it('the first program of docs/integration.md runs as written against the demo licence', async () => {
    const doc = readFileSync(join(ROOT, 'docs/integration.md'), 'utf8');
    const code = /<!-- example:first-program[^>]*-->\s*```js\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(code, 'docs/integration.md has the example block');
    // Inside the repository, so that `@coffer/sdk` resolves as it does for an application.
    const file = join(ROOT, 'test/e2e/dist', `first-program-${process.pid}.mjs`);
    writeFileSync(file, code);
    try {
      const { stdout } = await sh(process.execPath, [file], {
        env: {
          ...process.env,
          COFFER_LICENSE: json.operator!.license,
          COFFER_LICENCE_PIN: json.operator!.pin,
          SIGNING_KEY: String(key('EC-P256')),
          KEK: String(key('AES-256')),
        },
      });
      assert.match(stdout, /signature valid: true/);
      assert.match(stdout, /signed 3 more orders/);
      assert.match(stdout, /document opened: the quarterly report/);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('removing the operator’s whitelist entry cuts its connections: requests fail with ERR_IP_NOT_ALLOWED', async () => {
    const admin = ['admin', '--data', data, '--as', 'B1', 'whitelist'];
    const removed = await runCli([...admin, 'delete', '127.0.0.1', '--operator', json.operator!.name]);
    assert.equal(removed.code, 0, removed.stderr);
    try {
      await waitFor(async () => {
        try {
          await hsm.random(1);
          return false;
        } catch (e) {
          return e instanceof CofferServiceError && e.code === 'ERR_IP_NOT_ALLOWED';
        }
      });
    } finally {
      const added = await runCli([...admin, 'add', '127.0.0.1', '--operator', json.operator!.name]);
      assert.equal(added.code, 0, added.stderr);
    }
    // The pool comes back by itself once the address is allowed again.
    await waitFor(async () => (await hsm.random(2).catch(() => null))?.length === 2);
  });

  it('the command coffer dev prints signs with the demo licence, and the signature verifies', async () => {
    const command = dev.match[1]!;
    assert.match(command, / client --license .* sign --key \d+ --alg ecdsa-sha256 /);
    const { stdout } = await sh('sh', ['-c', command]);
    const signature = Buffer.from(stdout.trim(), 'base64');
    assert.ok(verify('sha256', Buffer.from('hello, Coffer'), await publicKey(key('EC-P256')), signature));
  });
});

/** Polls `condition` every 100 ms for up to 10 s. */
async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out waiting for the condition');
}

function b64url(b: Buffer): string {
  return b.toString('base64url');
}
