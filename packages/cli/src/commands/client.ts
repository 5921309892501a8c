import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CofferError } from '@coffer/core';
import {
  type Address,
  AGREEMENT_KDFS,
  type AgreementKdf,
  ASYMMETRIC_ENCRYPTIONS,
  type AsymmetricEncryption,
  CIPHER_MODES,
  CIPHER_PADDINGS,
  type CipherMode,
  type CipherPadding,
  type CofferClient,
  connect,
  HASH_ALGORITHMS,
  type HashAlgorithm,
  isCofferSdkError,
  type KeyInfo,
  MAC_ALGORITHMS,
  type MacAlgorithm,
  SIGNATURE_ALGORITHMS,
  SIGNATURE_FORMATS,
  type SignatureAlgorithm,
  SM2_CIPHERTEXT_FORMATS,
  WRAP_ALGORITHMS,
  type WrapAlgorithm,
} from '@coffer/sdk';
import type { Command } from 'commander';
import type { Printer } from '../output.js';
import { collect } from '../output.js';
import { promptHidden, readSecretFile } from '../secrets.js';

/**
 * `coffer client …`: the crypto service from a terminal through the SDK (manual §5), one operation
 * per command. Bytes come from `--in FILE` (`-` for stdin) or `--text`; results go to `--out FILE`
 * (raw bytes unless --format says otherwise) or to stdout (hex unless --format says otherwise).
 * A refusal prints `error CODE: message` on stderr and exits 1; `verify` and `verify-mac` print
 * `valid` or `invalid` and exit 1 when invalid (as `openssl dgst -verify` does).
 */

type Format = 'hex' | 'base64' | 'raw';
const FORMATS: readonly Format[] = ['hex', 'base64', 'raw'];

interface ClientOptions {
  license?: string;
  pinFile?: string;
  address: string[];
  format?: string;
  timeout?: string;
}

function usage(message: string): never {
  throw new CofferError('ERR_BAD_REQUEST', message);
}

function oneOf<T extends string>(name: string, values: readonly T[]) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value))
      usage(`--${name} must be one of ${values.join(', ')}; not '${value}'.`);
    return value as T;
  };
}

function int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
      usage(`--${name} must be a whole number from ${min} to ${max}, not '${value}'.`);
    return Number(value);
  };
}

function hex(name: string) {
  return (value: string): Buffer => {
    const clean = value.replace(/\s+/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(clean)) usage(`--${name} must be hex digits, not '${value}'.`);
    return Buffer.from(clean, 'hex');
  };
}

/** `host:port`, `[v6]:port`. */
export function parseAddress(text: string): Address {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535)
    usage(`--address must be host:port (e.g. 127.0.0.1:1813), not '${text}'.`);
  return { host: m[1] ?? m[2]!, port };
}

function readFile(path: string, what: string): Buffer {
  try {
    return path === '-' ? readFileSync(0) : readFileSync(path);
  } catch (error) {
    return usage(`Cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/** The input bytes: exactly one of --in FILE and --text. */
function input(o: { in?: string; text?: string }): Buffer {
  if ((o.in === undefined) === (o.text === undefined))
    usage('Give the input with exactly one of --in FILE (- for stdin) and --text.');
  return o.text !== undefined ? Buffer.from(o.text, 'utf8') : readFile(o.in!, 'the input');
}

function encode(bytes: Buffer, format: Format): string {
  return format === 'base64' ? bytes.toString('base64') : bytes.toString('hex');
}

/** Writes bytes to --out (raw unless --format is given) or to stdout (hex unless --format is given). */
function emit(bytes: Buffer, out: string | undefined, format: Format | undefined): void {
  if (out !== undefined) {
    const f = format ?? 'raw';
    writeFileSync(out, f === 'raw' ? bytes : `${encode(bytes, f)}\n`, { mode: 0o600 });
    return;
  }
  const f = format ?? 'hex';
  if (f === 'raw') process.stdout.write(bytes);
  else process.stdout.write(`${encode(bytes, f)}\n`);
}

/** Several named results: JSON with --json, else `name: value` lines (hex or base64). */
function emitFields(
  print: Printer,
  fields: Record<string, Buffer | undefined>,
  format: Format | undefined,
): void {
  const f: Format = format === 'base64' ? 'base64' : 'hex';
  const entries = Object.entries(fields).filter((e): e is [string, Buffer] => e[1] !== undefined);
  if (print.json) {
    process.stdout.write(
      `${JSON.stringify(Object.fromEntries(entries.map(([k, v]) => [k, encode(v, f)])))}\n`,
    );
    return;
  }
  for (const [k, v] of entries) process.stdout.write(`${k}: ${encode(v, f)}\n`);
}

async function licencePin(o: ClientOptions): Promise<string> {
  if (o.pinFile) return readSecretFile(o.pinFile);
  const env = process.env['COFFER_LICENCE_PIN'] ?? process.env['COFFER_PIN'];
  if (env !== undefined) return env;
  return promptHidden('licence PIN: ');
}

/**
 * Registers `coffer client`. Every subcommand connects with the licence (one connection), does one
 * operation, and closes.
 */
export function registerClient(program: Command, print: Printer): void {
  const client = program
    .command('client')
    .description('use the crypto service with an operator licence (manual §5): sign, encrypt, MAC, …')
    .option('--license <file>', 'the operator licence file (else $COFFER_LICENSE)')
    .option(
      '--pin-file <file>',
      'file holding the licence PIN (else $COFFER_LICENCE_PIN or $COFFER_PIN, else a prompt)',
    )
    .option(
      '--address <host:port>',
      'device address; repeat for failover (default: the licence’s)',
      collect,
      [],
    )
    .option('--format <format>', 'output encoding: hex, base64 or raw (default: raw to --out, hex to stdout)')
    .option('--timeout <ms>', 'request timeout in milliseconds', '30000');

  const run = (fn: (hsm: CofferClient, format: Format | undefined) => Promise<void>) => async () => {
    const o = client.opts() as ClientOptions;
    const format = o.format === undefined ? undefined : oneOf('format', FORMATS)(o.format);
    const license = o.license ?? process.env['COFFER_LICENSE'];
    if (!license) usage('Give the licence file with --license FILE.');
    const pin = await licencePin(o);
    let hsm: CofferClient | undefined;
    try {
      hsm = await connect({
        license: resolve(license),
        pin,
        poolSize: 1,
        ...(o.address.length > 0 ? { addresses: o.address.map(parseAddress) } : {}),
        timeoutMs: int('timeout', 1)(o.timeout ?? '30000'),
        keepAliveMs: 0,
      });
      await fn(hsm, format);
    } catch (error) {
      if (!isCofferSdkError(error)) throw error;
      process.stderr.write(`error ${error.code}: ${error.message}\n`);
      if (print.json)
        process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
      process.exitCode = 1;
    } finally {
      await hsm?.close();
    }
  };

  const verdict = (valid: boolean) => {
    if (print.json) process.stdout.write(`${JSON.stringify({ valid })}\n`);
    else process.stdout.write(valid ? 'valid\n' : 'invalid\n');
    if (!valid) process.exitCode = 1;
  };

  client
    .command('random')
    .description('random bytes from the device')
    .requiredOption('--length <n>', 'how many bytes (1–65536)', int('length', 1, 65_536))
    .option('--out <file>', 'write them here')
    .action((o: { length: number; out?: string }) =>
      run(async (hsm, format) => emit(await hsm.random(o.length), o.out, format))(),
    );

  client
    .command('hash')
    .description(`a digest (${HASH_ALGORITHMS.join(', ')})`)
    .requiredOption('--alg <algorithm>', 'the hash', oneOf('alg', HASH_ALGORITHMS))
    .option('--in <file>', 'input file (- for stdin)')
    .option('--text <text>', 'input text (UTF-8)')
    .option('--out <file>', 'write the digest here')
    .action((o: { alg: HashAlgorithm; in?: string; text?: string; out?: string }) =>
      run(async (hsm, format) => emit(await hsm.hash({ algorithm: o.alg, data: input(o) }), o.out, format))(),
    );

  client
    .command('sm2-digest')
    .description('e = SM3(Z ‖ data) for an SM2 key and signer ID (what an SM2 signature covers)')
    .option('--key <n>', 'a stored SM2 key', int('key', 1))
    .option('--public-key <file>', 'or an SM2 public key (SPKI PEM or DER)')
    .option('--id <text>', 'signer ID (default 1234567812345678)')
    .option('--in <file>', 'input file (- for stdin)')
    .option('--text <text>', 'input text (UTF-8)')
    .action((o: { key?: number; publicKey?: string; id?: string; in?: string; text?: string }) =>
      run(async (hsm, format) => {
        const r = await hsm.sm2Digest({
          ...keyOrPublicKey(o),
          ...(o.id !== undefined ? { id: Buffer.from(o.id, 'utf8') } : {}),
          data: input(o),
        });
        emitFields(print, { digest: r.digest, z: r.z }, format);
      })(),
    );

  client
    .command('mac')
    .description(`a MAC with a stored key (${MAC_ALGORITHMS.join(', ')})`)
    .requiredOption('--key <n>', 'key index', int('key', 1))
    .requiredOption('--alg <algorithm>', 'the MAC', oneOf('alg', MAC_ALGORITHMS))
    .option('--length <n>', 'truncate to this many bytes (≥ 8)', int('length', 8, 64))
    .option('--in <file>', 'input file (- for stdin)')
    .option('--text <text>', 'input text (UTF-8)')
    .option('--out <file>', 'write the MAC here')
    .action(
      (o: { key: number; alg: MacAlgorithm; length?: number; in?: string; text?: string; out?: string }) =>
        run(async (hsm, format) =>
          emit(
            await hsm.mac({
              key: o.key,
              algorithm: o.alg,
              data: input(o),
              ...(o.length !== undefined ? { length: o.length } : {}),
            }),
            o.out,
            format,
          ),
        )(),
    );

  client
    .command('verify-mac')
    .description('check a MAC with a stored key (prints valid or invalid; exit 1 when invalid)')
    .requiredOption('--key <n>', 'key index', int('key', 1))
    .requiredOption('--alg <algorithm>', 'the MAC', oneOf('alg', MAC_ALGORITHMS))
    .option('--mac <file>', 'the MAC, raw bytes')
    .option('--mac-hex <hex>', 'or the MAC in hex', hex('mac-hex'))
    .option('--in <file>', 'input file (- for stdin)')
    .option('--text <text>', 'input text (UTF-8)')
    .action(
      (o: { key: number; alg: MacAlgorithm; mac?: string; macHex?: Buffer; in?: string; text?: string }) =>
        run(async (hsm) => {
          const mac =
            o.macHex ??
            (o.mac ? readFile(o.mac, 'the MAC') : usage('Give the MAC with --mac FILE or --mac-hex.'));
          verdict(await hsm.verifyMac({ key: o.key, algorithm: o.alg, data: input(o), mac }));
        })(),
    );

  const cipherOptions = (c: Command) =>
    c
      .requiredOption('--key <n>', 'key index (AES, SM4 or 3DES)', int('key', 1))
      .option('--mode <mode>', `${CIPHER_MODES.join(', ')}`, oneOf('mode', CIPHER_MODES), 'gcm')
      .option(
        '--padding <padding>',
        `CBC and ECB: ${CIPHER_PADDINGS.join(' or ')}`,
        oneOf('padding', CIPHER_PADDINGS),
      )
      .option('--aad-file <file>', 'GCM: additional authenticated data')
      .option('--in <file>', 'input file (- for stdin)')
      .option('--text <text>', 'input text (UTF-8)')
      .option('--out <file>', 'write the result here');
  interface CipherOpts {
    key: number;
    mode: CipherMode;
    padding?: CipherPadding;
    aadFile?: string;
    iv?: Buffer;
    tag?: Buffer;
    ivOut?: string;
    tagOut?: string;
    in?: string;
    text?: string;
    out?: string;
  }
  const cipherRequest = (o: CipherOpts) => ({
    key: o.key,
    mode: o.mode,
    ...(o.padding ? { padding: o.padding } : {}),
    ...(o.iv ? { iv: o.iv } : {}),
    ...(o.aadFile ? { aad: readFile(o.aadFile, 'the AAD') } : {}),
    data: input(o),
  });

  cipherOptions(client.command('encrypt'))
    .description('symmetric encryption with a stored key; prints the IV and GCM tag the device used')
    .option(
      '--iv <hex>',
      'the IV (default: drawn by the device; never reuse a GCM IV under one key)',
      hex('iv'),
    )
    .option('--iv-out <file>', 'write the IV here (raw)')
    .option('--tag-out <file>', 'write the GCM tag here (raw)')
    .action((o: CipherOpts) =>
      run(async (hsm, format) => {
        const r = await hsm.encrypt(cipherRequest(o));
        if (o.ivOut && r.iv) writeFileSync(o.ivOut, r.iv);
        if (o.tagOut && r.tag) writeFileSync(o.tagOut, r.tag);
        if (o.out !== undefined) {
          emit(r.ciphertext, o.out, format);
          emitFields(print, { iv: o.ivOut ? undefined : r.iv, tag: o.tagOut ? undefined : r.tag }, format);
        } else {
          emitFields(print, { ciphertext: r.ciphertext, iv: r.iv, tag: r.tag }, format);
        }
      })(),
    );

  cipherOptions(client.command('decrypt'))
    .description('symmetric decryption with a stored key (a wrong tag or padding is ERR_CIPHERTEXT)')
    .option('--iv <hex>', 'the IV (not for ECB)', hex('iv'))
    .option('--iv-file <file>', 'or the IV, raw bytes')
    .option('--tag <hex>', 'GCM: the tag', hex('tag'))
    .option('--tag-file <file>', 'or the tag, raw bytes')
    .action((o: CipherOpts & { ivFile?: string; tagFile?: string }) =>
      run(async (hsm, format) => {
        const iv = o.iv ?? (o.ivFile ? readFile(o.ivFile, 'the IV') : undefined);
        const tag = o.tag ?? (o.tagFile ? readFile(o.tagFile, 'the tag') : undefined);
        emit(
          await hsm.decrypt({ ...cipherRequest({ ...o, ...(iv ? { iv } : {}) }), ...(tag ? { tag } : {}) }),
          o.out,
          format,
        );
      })(),
    );

  interface SignOpts {
    key?: number;
    publicKey?: string;
    alg: SignatureAlgorithm;
    id?: string;
    prehashed?: boolean;
    sigFormat?: 'der' | 'raw';
    saltLength?: number;
    in?: string;
    text?: string;
    out?: string;
    sig?: string;
    sigHex?: Buffer;
  }
  const signExtras = (o: SignOpts) => ({
    ...(o.id !== undefined ? { id: Buffer.from(o.id, 'utf8') } : {}),
    ...(o.prehashed ? { prehashed: true } : {}),
    ...(o.sigFormat ? { format: o.sigFormat } : {}),
    ...(o.saltLength !== undefined ? { saltLength: o.saltLength } : {}),
  });
  const signatureOptions = (c: Command) =>
    c
      .requiredOption(
        '--alg <algorithm>',
        SIGNATURE_ALGORITHMS.join(', '),
        oneOf('alg', SIGNATURE_ALGORITHMS),
      )
      .option('--id <text>', 'SM2 signer ID (default 1234567812345678)')
      .option('--prehashed', 'the input is the digest (SM2: e from sm2-digest)')
      .option(
        '--sig-format <format>',
        'ECDSA and SM2: der (default) or raw r‖s',
        oneOf('sig-format', SIGNATURE_FORMATS),
      )
      .option(
        '--salt-length <n>',
        'RSA-PSS salt length (default the digest length)',
        int('salt-length', 0, 1024),
      )
      .option('--in <file>', 'input file (- for stdin)')
      .option('--text <text>', 'input text (UTF-8)');

  signatureOptions(client.command('sign'))
    .description(
      'sign with a stored private key (PKCS#1/PSS for RSA, DER for ECDSA and SM2, raw for Ed25519)',
    )
    .requiredOption('--key <n>', 'key index', int('key', 1))
    .option('--out <file>', 'write the signature here')
    .action((o: SignOpts) =>
      run(async (hsm, format) =>
        emit(
          await hsm.sign({ key: o.key!, algorithm: o.alg, data: input(o), ...signExtras(o) }),
          o.out,
          format,
        ),
      )(),
    );

  signatureOptions(client.command('verify'))
    .description(
      'verify a signature with a stored key or a public key (prints valid or invalid; exit 1 when invalid)',
    )
    .option('--key <n>', 'key index', int('key', 1))
    .option('--public-key <file>', 'or a public key (SPKI PEM or DER)')
    .option('--sig <file>', 'the signature, raw bytes')
    .option('--sig-hex <hex>', 'or the signature in hex', hex('sig-hex'))
    .action((o: SignOpts) =>
      run(async (hsm) => {
        const signature =
          o.sigHex ??
          (o.sig
            ? readFile(o.sig, 'the signature')
            : usage('Give the signature with --sig FILE or --sig-hex.'));
        verdict(
          await hsm.verify({
            ...keyOrPublicKey(o),
            algorithm: o.alg,
            data: input(o),
            signature,
            ...signExtras(o),
          }),
        );
      })(),
    );

  client
    .command('asym-encrypt')
    .description(
      `public-key encryption (${ASYMMETRIC_ENCRYPTIONS.join(', ')}) to a stored key or a public key`,
    )
    .option('--key <n>', 'key index', int('key', 1))
    .option('--public-key <file>', 'or a public key (SPKI PEM or DER)')
    .requiredOption(
      '--alg <algorithm>',
      ASYMMETRIC_ENCRYPTIONS.join(', '),
      oneOf('alg', ASYMMETRIC_ENCRYPTIONS),
    )
    .option('--label-file <file>', 'RSA-OAEP label')
    .option(
      '--sm2-format <format>',
      'SM2: der (default) or c1c3c2',
      oneOf('sm2-format', SM2_CIPHERTEXT_FORMATS),
    )
    .option('--in <file>', 'input file (- for stdin)')
    .option('--text <text>', 'input text (UTF-8)')
    .option('--out <file>', 'write the ciphertext here')
    .action(
      (o: {
        key?: number;
        publicKey?: string;
        alg: AsymmetricEncryption;
        labelFile?: string;
        sm2Format?: 'der' | 'c1c3c2';
        in?: string;
        text?: string;
        out?: string;
      }) =>
        run(async (hsm, format) =>
          emit(
            await hsm.asymEncrypt({
              ...keyOrPublicKey(o),
              algorithm: o.alg,
              data: input(o),
              ...(o.labelFile ? { label: readFile(o.labelFile, 'the label') } : {}),
              ...(o.sm2Format ? { format: o.sm2Format } : {}),
            }),
            o.out,
            format,
          ),
        )(),
    );

  client
    .command('asym-decrypt')
    .description('decrypt with a stored RSA or SM2 private key')
    .requiredOption('--key <n>', 'key index', int('key', 1))
    .requiredOption(
      '--alg <algorithm>',
      ASYMMETRIC_ENCRYPTIONS.join(', '),
      oneOf('alg', ASYMMETRIC_ENCRYPTIONS),
    )
    .option('--label-file <file>', 'RSA-OAEP label')
    .option('--in <file>', 'input file (- for stdin)')
    .option('--out <file>', 'write the plaintext here')
    .action((o: { key: number; alg: AsymmetricEncryption; labelFile?: string; in?: string; out?: string }) =>
      run(async (hsm, format) =>
        emit(
          await hsm.asymDecrypt({
            key: o.key,
            algorithm: o.alg,
            data: input(o),
            ...(o.labelFile ? { label: readFile(o.labelFile, 'the label') } : {}),
          }),
          o.out,
          format,
        ),
      )(),
    );

  client
    .command('data-key')
    .description('a fresh data key, in plaintext and wrapped under a stored key-encryption key')
    .requiredOption('--key <n>', 'the KEK', int('key', 1))
    .requiredOption('--alg <algorithm>', WRAP_ALGORITHMS.join(', '), oneOf('alg', WRAP_ALGORITHMS))
    .option('--length <n>', 'data-key bytes', int('length', 1, 8192), 32)
    .option('--out <file>', 'write the plaintext key here')
    .option('--wrapped-out <file>', 'write the wrapped key here')
    .action((o: { key: number; alg: WrapAlgorithm; length: number; out?: string; wrappedOut?: string }) =>
      run(async (hsm, format) => {
        const r = await hsm.generateDataKey({ key: o.key, algorithm: o.alg, length: o.length });
        if (o.out) emit(r.plaintext, o.out, format);
        if (o.wrappedOut) emit(r.wrapped, o.wrappedOut, format);
        emitFields(
          print,
          { plaintext: o.out ? undefined : r.plaintext, wrapped: o.wrappedOut ? undefined : r.wrapped },
          format,
        );
      })(),
    );

  for (const [name, what] of [
    ['wrap', 'wrap key material under a stored KEK'],
    ['unwrap', 'unwrap key material under a stored KEK (a failed integrity check is ERR_CIPHERTEXT)'],
  ] as const) {
    client
      .command(name)
      .description(what)
      .requiredOption('--key <n>', 'the KEK', int('key', 1))
      .requiredOption('--alg <algorithm>', WRAP_ALGORITHMS.join(', '), oneOf('alg', WRAP_ALGORITHMS))
      .option('--in <file>', 'input file (- for stdin)')
      .option('--out <file>', 'write the result here')
      .action((o: { key: number; alg: WrapAlgorithm; in?: string; out?: string }) =>
        run(async (hsm, format) => {
          const data = input(o);
          const result =
            name === 'wrap'
              ? await hsm.wrap({ key: o.key, algorithm: o.alg, keyMaterial: data })
              : await hsm.unwrap({ key: o.key, algorithm: o.alg, wrapped: data });
          emit(result, o.out, format);
        })(),
      );
  }

  client
    .command('derive')
    .description('ECDH with a stored EC key and a peer public key, optionally through HKDF')
    .requiredOption('--key <n>', 'key index', int('key', 1))
    .requiredOption('--peer <file>', 'the peer public key (SPKI PEM or DER)')
    .option('--kdf <kdf>', AGREEMENT_KDFS.join(', '), oneOf('kdf', AGREEMENT_KDFS))
    .option('--salt <hex>', 'HKDF salt', hex('salt'))
    .option('--info <hex>', 'HKDF info', hex('info'))
    .option('--length <n>', 'HKDF output bytes (default 32)', int('length', 1, 16_320))
    .option('--out <file>', 'write the secret here')
    .action(
      (o: {
        key: number;
        peer: string;
        kdf?: AgreementKdf;
        salt?: Buffer;
        info?: Buffer;
        length?: number;
        out?: string;
      }) =>
        run(async (hsm, format) =>
          emit(
            await hsm.derive({
              key: o.key,
              publicKey: readFile(o.peer, 'the peer public key'),
              ...(o.kdf ? { kdf: o.kdf } : {}),
              ...(o.salt ? { salt: o.salt } : {}),
              ...(o.info ? { info: o.info } : {}),
              ...(o.length !== undefined ? { length: o.length } : {}),
            }),
            o.out,
            format,
          ),
        )(),
    );

  client
    .command('public-key')
    .description('the public key of a stored asymmetric key (SPKI PEM)')
    .requiredOption('--key <n>', 'key index', int('key', 1))
    .option('--out <file>', 'write the PEM here')
    .action((o: { key: number; out?: string }) =>
      run(async (hsm) => {
        const pem = await hsm.publicKey(o.key);
        if (o.out) writeFileSync(o.out, pem);
        else if (print.json) process.stdout.write(`${JSON.stringify({ publicKey: pem })}\n`);
        else process.stdout.write(pem.endsWith('\n') ? pem : `${pem}\n`);
      })(),
    );

  client
    .command('key-info')
    .description('the attributes of a key bound to the operator')
    .requiredOption('--key <n>', 'key index', int('key', 1))
    .action((o: { key: number }) =>
      run(async (hsm) => {
        const info = await hsm.keyInfo(o.key);
        if (print.json) return print.value(info);
        for (const [k, v] of Object.entries(info)) {
          if (k === 'publicKey') continue;
          process.stdout.write(`${k.padEnd(12)} ${Array.isArray(v) ? v.join(',') : String(v)}\n`);
        }
        if (info.publicKey)
          process.stdout.write(info.publicKey.endsWith('\n') ? info.publicKey : `${info.publicKey}\n`);
      })(),
    );

  client
    .command('keys')
    .description('the keys bound to the operator')
    .action(() =>
      run(async (hsm) => {
        const { total, keys } = await hsm.listKeys();
        if (print.json) return print.value({ total, keys });
        table(keys);
        process.stdout.write(`${total} key(s)\n`);
      })(),
    );

  client
    .command('info')
    .description('the server: protocol version, frame and batch limits, version')
    .action(() => run(async (hsm) => print.value(await hsm.info()))());
}

function keyOrPublicKey(o: { key?: number; publicKey?: string }): { key: number } | { publicKey: Buffer } {
  if ((o.key === undefined) === (o.publicKey === undefined))
    usage('Give exactly one of --key N and --public-key FILE.');
  return o.key !== undefined ? { key: o.key } : { publicKey: readFile(o.publicKey!, 'the public key') };
}

function table(keys: KeyInfo[]): void {
  const rows = keys.map((k) => [
    String(k.index),
    k.type,
    k.status,
    k.usage.join(','),
    k.expiresAt,
    k.description,
  ]);
  const head = ['index', 'type', 'status', 'usage', 'expires', 'description'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows])
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
}

/** What `coffer dev` prints: a ready-to-paste command that signs a message with the demo licence. */
export function devClientExample(dev: {
  service: { host: string; port: number } | null;
  operator: { license: string; pin: string } | null;
  keys: { index: number; type: string }[];
}): string | null {
  const algorithms: Record<string, string> = {
    'EC-P256': 'ecdsa-sha256',
    Ed25519: 'ed25519',
    'RSA-2048': 'rsa-pss-sha256',
    SM2: 'sm2-sm3',
  };
  const key = Object.keys(algorithms)
    .map((type) => dev.keys.find((k) => k.type === type))
    .find((k) => k !== undefined);
  if (!dev.service || !dev.operator || !key) return null;
  const main = resolve(process.argv[1] ?? 'coffer');
  return (
    `COFFER_LICENCE_PIN=${dev.operator.pin} node ${main} client --license ${dev.operator.license} ` +
    `--address ${dev.service.host}:${dev.service.port} sign --key ${key.index} --alg ${algorithms[key.type]} ` +
    `--text 'hello, Coffer' --format base64`
  );
}
