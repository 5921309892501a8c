#!/usr/bin/env node
// `npm run bench`: the crypto service's benchmarks (issue 4). Starts a throw-away device with
// `coffer dev` (ports 0) in its own process, a bench operator with a large connection limit and the
// demo keys bound to it, then for each phase a load generator (bench/load.mjs) in another process;
// runs `openssl speed -multi 2` for the same primitives; prints ops/s, p50/p99 latency and the ratio to
// OpenSSL, and writes bench/results/latest.json.
//
//   npm run bench                         every phase (a few minutes)
//   npm run bench -- --only rsa,aes       some phases (rsa ecdsa ed25519 sm2 aes hmac rest-aes rest-hmac
//                                         rest-ecdsa c5k; "rest" = every rest-* phase)
//   options: --seconds N (per phase, default 5)  --connections N  --in-flight M  --clients K
//            --c5k N (connections of the c5k phase, default 5000)  --c5k-seconds N (default 10)
//            --c5k-clients K (processes sharing those connections, default 2)
//            --no-openssl  --profile (CPU profile of the device, summarised)  --keep (keep the data dir)
//            --profile-client (CPU profiles of the load generators, summarised)
//            --device-flags=--trace-gc,… (node flags of the device)  --device-log FILE (its output)
import { execFileSync, spawn } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'packages/cli/dist/main.js');
const LOAD = join(ROOT, 'bench/load.mjs');
const RESULTS = join(ROOT, 'bench/results');

// ---- options ----------------------------------------------------------------------------------

const argv = process.argv.slice(2);
function arg(name, fallback) {
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return eq.slice(name.length + 3);
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}
const SECONDS = Number(arg('seconds', 5));
const WARMUP = Number(arg('warmup', 1));
const C5K = Number(arg('c5k', 5000));
const C5K_SECONDS = Number(arg('c5k-seconds', 10));
const PROFILE = Boolean(arg('profile', false));
const PROFILE_CLIENT = Boolean(arg('profile-client', false));
/** Extra node flags for the device process (e.g. --trace-gc), and a file for its output. */
const DEVICE_FLAGS = arg('device-flags', '');
const DEVICE_LOG = arg('device-log', null);
const KEEP = Boolean(arg('keep', false));
const OPENSSL = !argv.includes('--no-openssl');

/**
 * Phases: the operation, the protocol, the default shape of the load (connections × in flight ×
 * client processes) and the goal of issue 4.
 */
const PHASES = {
  rsa: { op: 'rsa', mode: 'binary', shape: [2, 32, 1], openssl: 'rsa2048', goal: { ratio: 0.9 } },
  ecdsa: {
    op: 'ecdsa',
    mode: 'binary',
    shape: [4, 64, 1],
    openssl: 'ecdsap256',
    goal: { opsPerSec: 40_000 },
  },
  ed25519: {
    op: 'ed25519',
    mode: 'binary',
    shape: [4, 64, 1],
    openssl: 'ed25519',
    goal: { opsPerSec: 30_000 },
  },
  sm2: { op: 'sm2', mode: 'binary', shape: [2, 32, 1], openssl: 'sm2', goal: { ratio: 0.85 } },
  aes: {
    op: 'aes',
    mode: 'binary',
    shape: [4, 128, 1],
    openssl: 'aes-256-gcm',
    goal: { opsPerSec: 150_000 },
  },
  hmac: {
    op: 'hmac',
    mode: 'binary',
    shape: [4, 128, 1],
    openssl: 'hmac-sha256',
    goal: { opsPerSec: 150_000 },
  },
  'rest-aes': {
    op: 'aes',
    mode: 'rest',
    shape: [64, 1, 1],
    openssl: 'aes-256-gcm',
    goal: { opsPerSec: 30_000 },
  },
  'rest-hmac': {
    op: 'hmac',
    mode: 'rest',
    shape: [64, 1, 1],
    openssl: 'hmac-sha256',
    goal: { opsPerSec: 30_000 },
  },
  'rest-ecdsa': { op: 'ecdsa', mode: 'rest', shape: [64, 1, 1], openssl: 'ecdsap256', goal: null },
  c5k: { op: 'ecdsa', mode: 'hold', shape: [C5K, 1, 2], openssl: null, goal: { p99Ms: 50, rssMb: 1024 } },
};
const only = arg('only', null);
const selected = Object.keys(PHASES).filter((name) => {
  if (!only || only === true) return true;
  return String(only)
    .split(',')
    .some((o) => o === name || (o === 'rest' && name.startsWith('rest-')));
});
if (selected.length === 0) {
  console.error(`no phase matches --only ${only}; phases: ${Object.keys(PHASES).join(', ')}`);
  process.exit(2);
}

// ---- helpers ----------------------------------------------------------------------------------

function log(line) {
  process.stderr.write(`${line}\n`);
}

function cli(args, dataDir, input) {
  return execFileSync(process.execPath, [CLI, '--json', ...args], {
    cwd: dataDir,
    env: { ...process.env, COFFER_INSECURE_TEST_KDF: '1' },
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return {
      rssMb: Math.round(kb('VmRSS') / 1024),
      hwmMb: Math.round(kb('VmHWM') / 1024),
      threads: Number(/^Threads:\s+(\d+)/m.exec(text)?.[1] ?? 0),
    };
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) the process has used, from /proc (clock ticks of 1/100 s). */
function procCpu(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds the whole machine spent busy (all cores), from /proc/stat. */
function machineBusy() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / 100;
  } catch {
    return null;
  }
}

/** Starts `coffer dev` and resolves with the process and dev.json once it has printed it. */
function startDevice(dataDir) {
  const args = [
    ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(dataDir, 'profile')}`] : []),
    ...String(DEVICE_FLAGS || '')
      .split(',')
      .filter(Boolean),
    CLI,
    'dev',
    '--data',
    dataDir,
    '--panel-port',
    '0',
    '--management-port',
    '0',
    '--service-port',
    '0',
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, COFFER_INSECURE_TEST_KDF: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`coffer dev did not come up in 120 s:\n${out}`));
    }, 120_000);
    const onData = (d) => {
      out += d;
      if (/^dev\.json:/m.test(out)) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        if (DEVICE_LOG) {
          const sink = createWriteStream(String(DEVICE_LOG));
          child.stdout.pipe(sink);
          child.stderr.pipe(sink);
        } else {
          child.stdout.resume();
          child.stderr.resume();
        }
        resolveStart({ child, dev: JSON.parse(readFileSync(join(dataDir, 'dev.json'), 'utf8')) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coffer dev exited (${code}) before it was ready:\n${out}`));
    });
  });
}

/** The bench operator: its own licence (10,000 connections), 127.0.0.1 whitelisted, the demo keys and an HMAC key bound. */
function setUpBenchOperator(dataDir, dev) {
  const pin = '1234ABCD';
  const pinFile = join(dataDir, 'bench.pin');
  writeFileSync(pinFile, pin, { mode: 0o600 });
  const license = join(dataDir, 'bench.license');
  // --json prints one JSON value per line; the command's result is the last.
  const admin = (as, args) =>
    JSON.parse(
      cli(['admin', '--data', dataDir, '--as', as, ...args], dataDir)
        .trim()
        .split('\n')
        .at(-1),
    );
  admin('B1', ['operators', 'add', 'bench', '--description', 'npm run bench']);
  admin('B1', [
    'licence',
    'download',
    'bench',
    '--max-connections',
    '10000',
    '--licence-pin-file',
    pinFile,
    '--out',
    license,
  ]);
  admin('B1', ['whitelist', 'add', '127.0.0.1', '--operator', 'bench']);
  const hmac = admin('C1', [
    'keys',
    'add',
    '--type',
    'HMAC-SHA256',
    '--usage',
    'mac',
    '--description',
    'bench HMAC key',
  ]);
  const keys = { hmac: hmac.index };
  const byType = { 'AES-256': 'aes', 'RSA-2048': 'rsa', 'EC-P256': 'ec', SM2: 'sm2', Ed25519: 'ed25519' };
  for (const k of dev.keys) if (byType[k.type]) keys[byType[k.type]] = k.index;
  for (const index of Object.values(keys))
    admin('C1', ['keys', 'bind', String(index), '--operator', 'bench']);
  return { license, pin, keys };
}

/** Runs load generators (K processes) for one phase; sums their results. */
async function runLoad(phase, settings, bench, address, serverPid) {
  const [connections, inFlight, clients] = [
    Number(arg('connections', settings.shape[0])),
    Number(arg('in-flight', settings.shape[1])),
    Number(arg('clients', settings.shape[2])),
  ];
  const holders = Number(arg('c5k-clients', 2));
  const shape =
    settings.mode === 'hold' ? [Math.ceil(C5K / holders), 1, holders] : [connections, inFlight, clients];
  const config = {
    mode: settings.mode,
    op: settings.op,
    keys: bench.keys,
    license: bench.license,
    pin: bench.pin,
    address,
    connections: shape[0],
    inFlight: shape[1],
    seconds: settings.mode === 'hold' ? C5K_SECONDS : SECONDS,
    warmup: WARMUP,
  };
  const cpu0 = procCpu(serverPid);
  const busy0 = machineBusy();
  let peak = procStatus(serverPid);
  const sampler = setInterval(() => {
    const s = procStatus(serverPid);
    if (s && (!peak || s.rssMb > peak.rssMb)) peak = s;
  }, 250);
  const t0 = Date.now();
  // The generators meet at two barriers (all connected; all done measuring), so that they measure
  // over the same window: none is still connecting or already closing while another measures.
  const children = [];
  const waiting = { ready: 0, done: 0 };
  const onEvent = (event) => {
    if (!(event in waiting)) return;
    waiting[event] += 1;
    if (waiting[event] === shape[2]) for (const c of children) c.stdin.write('go\n');
  };
  const results = await Promise.all(
    Array.from({ length: shape[2] }, () => {
      return new Promise((resolveLoad, reject) => {
        const prof = PROFILE_CLIENT
          ? ['--cpu-prof', `--cpu-prof-dir=${join(dataDir, 'client-profile', phase)}`]
          : [];
        const child = spawn(process.execPath, [...prof, LOAD, JSON.stringify(config)], {
          cwd: ROOT,
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        children.push(child);
        child.stdin.on('error', () => undefined);
        let out = '';
        let seen = 0;
        child.stdout.on('data', (d) => {
          out += d;
          const lines = out.split('\n');
          for (const line of lines.slice(seen, -1)) {
            try {
              onEvent(JSON.parse(line).event);
            } catch {}
          }
          seen = lines.length - 1;
        });
        child.on('exit', (code) => {
          const lines = out
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l));
          const result = lines.find((l) => l.event === 'result');
          if (code !== 0 || !result) reject(new Error(`load generator for ${phase} exited ${code}:\n${out}`));
          else resolveLoad(result);
        });
      });
    }),
  );
  clearInterval(sampler);
  const wall = (Date.now() - t0) / 1000;
  const cpu1 = procCpu(serverPid);
  const busy1 = machineBusy();
  const sum = (k) => results.reduce((a, r) => a + (r[k] ?? 0), 0);
  // What the rest of the machine used meanwhile (other programs): the noise in these figures.
  const otherCpuCores =
    busy0 !== null && busy1 !== null && cpu0 !== null && cpu1 !== null
      ? Math.max(0, Math.round(((busy1 - busy0 - (cpu1 - cpu0) - sum('totalCpuSeconds')) / wall) * 100) / 100)
      : null;
  const max = (k) => Math.max(...results.map((r) => r[k] ?? 0));
  const combined = {
    phase,
    operation: settings.op,
    protocol: settings.mode === 'rest' ? 'rest' : 'binary',
    connections: shape[0] * shape[2],
    inFlightPerConnection: shape[1],
    clientProcesses: shape[2],
    ops: sum('ops'),
    opsPerSec: sum('opsPerSec'),
    // Percentiles of several processes: the worst process's (an upper bound).
    p50Ms: max('p50Ms'),
    p99Ms: max('p99Ms'),
    maxMs: max('maxMs'),
    errors: sum('errors'),
    errorCodes: Object.assign({}, ...results.map((r) => r.errorCodes)),
    clientCpuCores: Math.round(sum('clientCpu') * 100) / 100,
    clientLoopDelayP99Ms: max('clientLoopDelayP99Ms'),
    // Over the whole run of the phase (ramp and warm-up included): a rough share of the two cores.
    serverCpuCores: cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / wall) * 100) / 100 : null,
    serverRssMb: peak?.rssMb ?? null,
    serverPeakRssMb: procStatus(serverPid)?.hwmMb ?? null,
    serverThreads: peak?.threads ?? null,
    otherCpuCores,
    // The measured window (CLOCK_MONOTONIC µs), to cut this phase out of the device's CPU profile.
    windowUs: [
      Math.min(...results.map((r) => r.windowUs[0])),
      Math.max(...results.map((r) => r.windowUs[1])),
    ],
  };
  if (settings.mode === 'hold') {
    Object.assign(combined, {
      connected: sum('connected'),
      connectFailures: sum('connectFailures'),
      connectFailureCodes: results[0].connectFailureCodes,
      stillOpen: sum('stillOpen'),
      rampSeconds: max('rampSeconds'),
      clientRssMb: sum('clientRssMb'),
      clientLoopDelayMaxMs: max('clientLoopDelayMaxMs'),
      slowBursts: results.map((r) => r.slowBursts),
    });
  }
  return combined;
}

/** `openssl speed` for the primitives of the selected phases (ops/s with -multi 2). */
function opensslSpeed(names) {
  const seconds = String(Math.max(1, Math.min(SECONDS, 3)));
  const out = {};
  const pk = names.filter((n) => ['rsa2048', 'ecdsap256', 'ed25519', 'sm2'].includes(n));
  const run = (args) => {
    log(`$ openssl speed ${args.join(' ')}`);
    return execFileSync('openssl', ['speed', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  };
  if (pk.length > 0) {
    const text = run(['-multi', '2', '-seconds', seconds, ...pk]);
    const pick = (re) => {
      const m = re.exec(text);
      return m ? Math.round(Number(m[1])) : null;
    };
    if (pk.includes('rsa2048')) out.rsa2048 = pick(/^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)/m);
    if (pk.includes('ecdsap256'))
      out.ecdsap256 = pick(/^\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)/m);
    if (pk.includes('ed25519')) out.ed25519 = pick(/^\s*253 bits EdDSA \(Ed25519\)\s+\S+\s+\S+\s+([\d.]+)/m);
    if (pk.includes('sm2')) out.sm2 = pick(/^\s*256 bits SM2 \(CurveSM2\)\s+\S+\s+\S+\s+([\d.]+)/m);
  }
  // Bulk primitives: thousands of bytes per second over 64-byte blocks → operations per second.
  const bulk = (args, label) => {
    const text = run(['-multi', '2', '-seconds', seconds, '-bytes', '64', ...args]);
    const m = new RegExp(`^${label}\\s+([\\d.]+)k`, 'm').exec(text);
    return m ? Math.round((Number(m[1]) * 1000) / 64) : null;
  };
  if (names.includes('aes-256-gcm'))
    out['aes-256-gcm'] = bulk(['-evp', 'aes-256-gcm'], '(?:evp|AES-256-GCM)');
  // With -multi, OpenSSL 3.0 labels the summed row hmac(md5) whatever the digest (its workers say sha256).
  if (names.includes('hmac-sha256')) out['hmac-sha256'] = bulk(['-hmac', 'sha256'], 'hmac\\(\\w+\\)');
  return out;
}

/**
 * Where a thread's time went during `window` (CLOCK_MONOTONIC µs; the whole profile without one):
 * how busy it was, and the functions with the most self time as a share of its busy time. One entry
 * per thread of the device (main thread and crypto workers).
 */
function summariseProfiles(dir, window) {
  let files;
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return null;
  }
  const threads = [];
  for (const f of files) {
    const profile = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const hits = new Map();
    let t = profile.startTime;
    let total = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      t += profile.timeDeltas[i];
      if (window && (t < window[0] || t > window[1])) continue;
      hits.set(profile.samples[i], (hits.get(profile.samples[i]) ?? 0) + 1);
      total += 1;
    }
    if (total === 0) continue;
    const self = new Map();
    let busy = 0;
    for (const [id, n] of hits) {
      const cf = frames.get(id);
      if (cf.functionName === '(idle)') continue;
      const where = cf.url
        ? `${cf.url.replace(/^file:\/\/.*?\/(packages|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`
        : '';
      const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
      self.set(key, (self.get(key) ?? 0) + n);
      busy += n;
    }
    const top = [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([fn, n]) => ({ fn, percentOfBusy: Math.round((n / Math.max(1, busy)) * 1000) / 10 }));
    threads.push({ thread: f, busyPercent: Math.round((busy / total) * 1000) / 10, top });
  }
  return threads.sort((a, b) => b.busyPercent - a.busyPercent);
}

function formatRow(cols, widths) {
  return cols.map((c, i) => String(c ?? '-').padStart(widths[i])).join('  ');
}

// ---- main -------------------------------------------------------------------------------------

const dataDir = mkdtempSync(join(tmpdir(), 'coffer-bench-'));
let device;
let exitCode = 0;
try {
  // OpenSSL first, while no device runs: the reference figures for the same primitives.
  const openssl = OPENSSL
    ? opensslSpeed([...new Set(selected.map((p) => PHASES[p].openssl).filter(Boolean))])
    : {};
  log(`device: coffer dev --data ${dataDir} (ports 0)`);
  device = await startDevice(dataDir);
  const { dev } = device;
  const address = dev.service;
  log(`device: service on ${address.host}:${address.port}, pid ${device.child.pid}`);
  const bench = setUpBenchOperator(dataDir, dev);
  log(`bench operator: keys ${JSON.stringify(bench.keys)}`);
  const idle = procStatus(device.child.pid);

  const results = [];
  for (const phase of selected) {
    const settings = PHASES[phase];
    log(`phase ${phase}: ${settings.mode} ${settings.op} …`);
    const r = await runLoad(phase, settings, bench, address, device.child.pid);
    r.loadAverage1m = Math.round(loadavg()[0] * 100) / 100;
    results.push(r);
    log(
      `  ${r.opsPerSec} ops/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}; cores used: device ${r.serverCpuCores}, load generators ${r.clientCpuCores}, other programs ${r.otherCpuCores}`,
    );
    if (r.otherCpuCores > 0.2)
      log('  warning: other programs used the CPU during this phase; its figures are low and noisy');
  }

  for (const r of results) {
    const settings = PHASES[r.phase];
    const base = settings.openssl ? openssl[settings.openssl] : null;
    r.openssl = base
      ? { primitive: settings.openssl, opsPerSec: base, command: 'openssl speed -multi 2' }
      : null;
    r.ratioToOpenssl = base ? Math.round((r.opsPerSec / base) * 1000) / 1000 : null;
    const g = settings.goal;
    r.goal = g;
    if (!g) r.goalMet = null;
    else if (g.ratio) r.goalMet = r.ratioToOpenssl !== null ? r.ratioToOpenssl >= g.ratio : null;
    else if (g.opsPerSec) r.goalMet = r.opsPerSec >= g.opsPerSec && r.errors === 0;
    else if (g.p99Ms)
      r.goalMet =
        r.connected >= C5K &&
        r.p99Ms !== null &&
        r.p99Ms < g.p99Ms &&
        r.serverRssMb < g.rssMb &&
        r.errors === 0;
  }

  if (PROFILE_CLIENT) {
    for (const r of results)
      r.clientProfile = summariseProfiles(join(dataDir, 'client-profile', r.phase), r.windowUs);
  }
  let profile = null;
  if (PROFILE) {
    await new Promise((r) => {
      device.child.once('exit', r);
      device.child.kill('SIGTERM');
    });
    for (const r of results) r.serverProfile = summariseProfiles(join(dataDir, 'profile'), r.windowUs);
    profile = true;
  }

  const widths = [11, 9, 10, 9, 9, 11, 7, 8, 6];
  console.log(
    formatRow(['phase', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'openssl/s', 'ratio', 'goal', 'met'], widths),
  );
  for (const r of results) {
    const g = r.goal;
    const goal = !g
      ? ''
      : g.ratio
        ? `≥${g.ratio}×`
        : g.opsPerSec
          ? `≥${g.opsPerSec / 1000}k`
          : `p99<${g.p99Ms}`;
    console.log(
      formatRow(
        [
          r.phase,
          r.opsPerSec,
          r.p50Ms,
          r.p99Ms,
          r.errors,
          r.openssl?.opsPerSec,
          r.ratioToOpenssl,
          goal,
          r.goalMet === null ? '' : r.goalMet ? 'yes' : 'NO',
        ],
        widths,
      ),
    );
  }
  for (const r of results.filter((x) => x.phase === 'c5k')) {
    console.log(
      `c5k: ${r.connected}/${r.connections} connected in ${r.rampSeconds} s (${r.connectFailures} failed), ${r.stillOpen} still open at the end; ` +
        `server RSS ${r.serverRssMb} MiB (peak ${r.serverPeakRssMb} MiB, idle ${idle?.rssMb} MiB), ${r.serverThreads} threads; ` +
        `client event-loop delay p99 ${r.clientLoopDelayP99Ms} ms, max ${r.clientLoopDelayMaxMs} ms`,
    );
  }
  for (const r of results) {
    for (const [who, threads] of [
      ['device', r.serverProfile],
      ['load generator', r.clientProfile],
    ]) {
      for (const t of threads ?? []) {
        console.log(
          `\n${r.phase}: ${who} thread ${t.thread}: ${t.busyPercent}% busy; top self time (% of busy)`,
        );
        for (const f of t.top.slice(0, 8)) console.log(`  ${String(f.percentOfBusy).padStart(5)}%  ${f.fn}`);
      }
    }
  }
  mkdirSync(RESULTS, { recursive: true });
  const report = {
    when: new Date().toISOString(),
    command: `npm run bench -- ${argv.join(' ')}`.trim(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      node: process.version,
      openssl: process.versions.openssl,
    },
    device: { idleRssMb: idle?.rssMb ?? null },
    secondsPerPhase: SECONDS,
    results,
    openssl,
    profiled: { device: Boolean(profile), loadGenerators: PROFILE_CLIENT },
  };
  writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  log(`written: bench/results/latest.json`);
} catch (error) {
  console.error(error instanceof Error ? error.stack : error);
  exitCode = 1;
} finally {
  if (device && device.child.exitCode === null) {
    device.child.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        device.child.kill('SIGKILL');
        r();
      }, 10_000);
      device.child.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
  }
  if (!KEEP) rmSync(dataDir, { recursive: true, force: true });
  else log(`kept: ${dataDir}`);
}
process.exit(exitCode);
