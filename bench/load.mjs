#!/usr/bin/env node
// The load generator of `npm run bench` (bench/run.mjs starts it in its own process): drives one
// operation through the SDK (binary protocol: N connections × M requests in flight), through the REST
// API (a small keep-alive HTTP/1.1 client over TLS, so that the client costs little), or holds many
// connections each sending one request a second. Prints one JSON line with the counts and latencies.
//
//   node bench/load.mjs '<json config>'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';
import { connect, openLicence, readLicence } from '@coffer/sdk';

const config = JSON.parse(process.argv[2]);
const DATA = Buffer.alloc(64, 0x61);

/** The request of each benchmarked operation (binary: SDK method and request; REST: path and JSON). */
function operation(op, keys) {
  const b64 = DATA.toString('base64');
  switch (op) {
    case 'rsa':
      return sign(keys.rsa, 'rsa-pkcs1-sha256');
    case 'rsa-pss':
      return sign(keys.rsa, 'rsa-pss-sha256');
    case 'ecdsa':
      return sign(keys.ec, 'ecdsa-sha256');
    case 'ed25519':
      return sign(keys.ed25519, 'ed25519');
    case 'sm2':
      return sign(keys.sm2, 'sm2-sm3');
    case 'aes':
      return {
        method: 'encrypt',
        request: { key: keys.aes, mode: 'gcm', data: DATA },
        path: '/v1/encrypt',
        json: { key: keys.aes, mode: 'gcm', data: b64 },
      };
    case 'hmac':
      return {
        method: 'mac',
        request: { key: keys.hmac, algorithm: 'hmac-sha256', data: DATA },
        path: '/v1/mac',
        json: { key: keys.hmac, algorithm: 'hmac-sha256', data: b64 },
      };
    default:
      throw new Error(`unknown operation ${op}`);
  }
  function sign(key, algorithm) {
    return {
      method: 'sign',
      request: { key, algorithm, data: DATA },
      path: '/v1/sign',
      json: { key, algorithm, data: b64 },
    };
  }
}

/**
 * Tells the orchestrator this process reached `event` and waits for its word to go on: several load
 * generators then measure over the same window (none still connecting or already closing).
 */
const stdinLines = (async function* () {
  let buffered = '';
  for await (const chunk of process.stdin) {
    buffered += chunk;
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      yield buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
    }
  }
})();
async function barrier(event, extra = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...extra })}\n`);
  await stdinLines.next();
}

/** Latencies in ms, kept whole so that percentiles are exact. */
class Recorder {
  samples = new Float64Array(1 << 16);
  count = 0;
  errors = 0;
  codes = {};
  add(ms) {
    if (this.count === this.samples.length) {
      const bigger = new Float64Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.count++] = ms;
  }
  fail(error) {
    this.errors += 1;
    const code = error?.code ?? 'unknown';
    this.codes[code] = (this.codes[code] ?? 0) + 1;
    if (this.errors === 1) process.stderr.write(`load: first error: ${code}: ${error?.message}\n`);
  }
  summary(seconds) {
    const s = this.samples.subarray(0, this.count).sort();
    const at = (q) => (s.length === 0 ? null : round(s[Math.min(s.length - 1, Math.floor(q * s.length))]));
    return {
      ops: this.count,
      seconds: round(seconds),
      opsPerSec: Math.round(this.count / seconds),
      p50Ms: at(0.5),
      p90Ms: at(0.9),
      p99Ms: at(0.99),
      maxMs: s.length ? round(s[s.length - 1]) : null,
      errors: this.errors,
      errorCodes: this.codes,
    };
  }
}

/** CLOCK_MONOTONIC in µs: the clock of V8's CPU profiles, so a phase's window can be cut out of the device's. */
function monotonicUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

function round(x) {
  return Math.round(x * 1000) / 1000;
}

/** Runs `workers` loops of `fn` for warm-up then `seconds`, recording only the measured window. */
async function closedLoop(workers, seconds, warmup, fn) {
  const rec = new Recorder();
  let measuring = false;
  let running = true;
  const loop = async () => {
    while (running) {
      const t0 = performance.now();
      try {
        await fn();
        if (measuring) rec.add(performance.now() - t0);
      } catch (error) {
        if (measuring) rec.fail(error);
        else await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await barrier('ready');
  const loops = Array.from({ length: workers }, loop);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const windowStart = monotonicUs();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  loopDelay.disable();
  const windowUs = [windowStart, monotonicUs()];
  // Keep the load on until every generator is done measuring.
  await barrier('done');
  running = false;
  await Promise.all(loops);
  return {
    windowUs,
    ...rec.summary(elapsed),
    clientCpu: round((cpu.user + cpu.system) / 1e6 / elapsed),
    clientLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
  };
}

async function binary() {
  const op = operation(config.op, config.keys);
  const hsm = await connect({
    license: config.license,
    pin: config.pin,
    addresses: [config.address],
    poolSize: config.connections,
    timeoutMs: 30_000,
  });
  try {
    const method = hsm[op.method].bind(hsm);
    return await closedLoop(config.connections * config.inFlight, config.seconds, config.warmup, () =>
      method(op.request),
    );
  } finally {
    await hsm.close();
  }
}

/** A keep-alive HTTP/1.1 connection over TLS with the licence's certificate; requests may be pipelined. */
class RestConnection {
  #queue = [];
  #buffer = Buffer.alloc(0);
  constructor(socket) {
    this.socket = socket;
    socket.on('data', (chunk) => this.#read(chunk));
    const fail = (error) => {
      for (const q of this.#queue.splice(0)) q.reject(error ?? new Error('closed'));
    };
    socket.on('error', fail);
    socket.on('close', () =>
      fail(Object.assign(new Error('the server closed the connection'), { code: 'closed' })),
    );
  }
  static open(opened, address) {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({
        host: address.host,
        port: address.port,
        ca: [opened.caPem],
        cert: opened.certPem,
        key: opened.keyPem,
        ALPNProtocols: ['http/1.1'],
      });
      socket.once('secureConnect', () => {
        socket.setNoDelay(true);
        socket.off('error', reject);
        resolve(new RestConnection(socket));
      });
      socket.once('error', reject);
    });
  }
  request(bytes) {
    return new Promise((resolve, reject) => {
      this.#queue.push({ resolve, reject });
      this.socket.write(bytes);
    });
  }
  #read(chunk) {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.#buffer.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.#buffer.length < end + 4 + length) return;
      const status = Number(head.slice(9, 12));
      const body = this.#buffer.subarray(end + 4, end + 4 + length);
      this.#buffer = this.#buffer.subarray(end + 4 + length);
      const q = this.#queue.shift();
      if (!q) continue;
      if (status === 200) q.resolve(body);
      else {
        let code = `HTTP ${status}`;
        try {
          code = JSON.parse(body.toString()).code ?? code;
        } catch {}
        q.reject(Object.assign(new Error(body.toString()), { code }));
      }
    }
  }
}

async function rest() {
  const op = operation(config.op, config.keys);
  const opened = await openLicence(await readLicence(config.license), config.pin);
  const body = Buffer.from(JSON.stringify(op.json));
  const request = Buffer.concat([
    Buffer.from(
      `POST ${op.path} HTTP/1.1\r\nHost: ${config.address.host}:${config.address.port}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    ),
    body,
  ]);
  const connections = await Promise.all(
    Array.from({ length: config.connections }, () => RestConnection.open(opened, config.address)),
  );
  try {
    let next = 0;
    return await closedLoop(config.connections * config.inFlight, config.seconds, config.warmup, () => {
      const c = connections[next++ % connections.length];
      return c.request(request);
    });
  } finally {
    for (const c of connections) c.socket.destroy();
  }
}

/** Many connections, each its own client with one connection, each sending one request a second. */
async function hold() {
  const op = operation(config.op, config.keys);
  const opened = await openLicence(await readLicence(config.license), config.pin);
  const clients = [];
  let failed = 0;
  const failures = {};
  const t0 = performance.now();
  const batch = config.connectBatch ?? 200;
  for (let i = 0; i < config.connections; i += batch) {
    const made = await Promise.allSettled(
      Array.from({ length: Math.min(batch, config.connections - i) }, () =>
        connect({
          license: opened,
          addresses: [config.address],
          poolSize: 1,
          timeoutMs: 30_000,
          connectTimeoutMs: 30_000,
        }),
      ),
    );
    for (const m of made) {
      if (m.status === 'fulfilled') clients.push(m.value);
      else {
        failed += 1;
        failures[m.reason?.code ?? 'unknown'] = (failures[m.reason?.code ?? 'unknown'] ?? 0) + 1;
        if (failed === 1)
          process.stderr.write(`load: first connect failure: ${m.reason?.code}: ${m.reason?.message}\n`);
      }
    }
  }
  const rampSeconds = (performance.now() - t0) / 1000;
  await barrier('ready', { connections: clients.length, rampSeconds: round(rampSeconds) });
  const rec = new Recorder();
  let running = true;
  let measuring = true;
  const timers = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const windowStart = monotonicUs();
  const slow = new Map();
  for (const hsm of clients) {
    const method = hsm[op.method].bind(hsm);
    const tick = async () => {
      if (!running) return;
      const t = performance.now();
      try {
        await method(op.request);
        const ms = performance.now() - t;
        if (measuring) rec.add(ms);
        // When the slow ones were sent (100 ms buckets): a stall shows as a burst, not a spread.
        if (measuring && ms > 50) {
          const bucket = Math.floor((t - start) / 100) * 100;
          slow.set(bucket, (slow.get(bucket) ?? 0) + 1);
        }
      } catch (error) {
        if (measuring) rec.fail(error);
      }
    };
    const first = setTimeout(() => {
      void tick();
      timers.push(setInterval(tick, 1000));
    }, Math.random() * 1000);
    timers.push(first);
  }
  await new Promise((r) => setTimeout(r, config.seconds * 1000));
  measuring = false;
  const windowUs = [windowStart, monotonicUs()];
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  loopDelay.disable();
  const stillOpen = clients.filter((c) => c.connections.length > 0).length;
  // Keep every connection busy until every generator is done measuring.
  await barrier('done');
  running = false;
  for (const t of timers) clearInterval(t);
  await Promise.all(clients.map((c) => c.close({ force: true })));
  return {
    ...rec.summary(elapsed),
    windowUs,
    connected: clients.length,
    connectFailures: failed,
    connectFailureCodes: failures,
    stillOpen,
    rampSeconds: round(rampSeconds),
    clientCpu: round((cpu.user + cpu.system) / 1e6 / elapsed),
    clientRssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    clientLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
    clientLoopDelayMaxMs: round(loopDelay.max / 1e6),
    // Requests over 50 ms by when they were sent (ms into the window): the worst 100 ms buckets.
    slowBursts: [...slow.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([atMs, count]) => ({ atMs, count })),
  };
}

const modes = { binary, rest, hold };
const result = await modes[config.mode]();
const used = process.cpuUsage();
// All the CPU this process used, set-up included: the orchestrator tells the machine's other work apart with it.
result.totalCpuSeconds = round((used.user + used.system) / 1e6);
process.stdout.write(`${JSON.stringify({ event: 'result', ...result })}\n`);
process.exit(0);
