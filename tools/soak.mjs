// Soak: the release build under a mixed merchant load for a long time, to see memory and files
// level off (issue 9). `make soak`, or `node tools/soak.mjs`.
//
// Starts build/kasse on a temp database, runs SOAK_CONNS concurrent clients (keep-alive, one
// connection each) doing the crash test's flows (tests/api/mixed-load.mjs: session → authorize →
// order → captures → refunds, revisits, over-captures, reads, about half keyed) plus now and then
// a page of GET /kasse/v1/orders, and prints every SOAK_INTERVAL_S seconds: the server's RSS
// (VmRSS of /proc/PID/status) at the end of the interval and the highest of the interval's
// once-a-second samples, its threads, the WAL and database sizes, the request log's rows and
// size, requests and errors in the interval, p50/p99 latency. At the end it stops the server with
// SIGTERM (exit 0 expected) and checks RSS (the end-of-interval samples; rss_max_mb shows
// the spikes between them): after the first two intervals no sample may pass
// SOAK_MAX_RSS_MB, and the last may not exceed the third by more than SOAK_MAX_GROWTH_MB (the
// third is the first at steady state). A failed check, errors or an unclean exit → exit 1.
//
// Environment (all optional):
//   SOAK_MINUTES        duration (default 30)
//   SOAK_INTERVAL_S     seconds between report lines (default 60)
//   SOAK_CONNS          concurrent clients/connections (default 64)
//   SOAK_LIST_RATE      share of flows that read a page of the order list (default 0.01)
//   SOAK_READ_ONLY_AFTER_MIN  from this minute on, the clients only read back orders and
//                       sessions they made (a read-mostly server: its read connections' page
//                       caches are no longer dropped by commits); default: never
//   SOAK_KEEP_ORDERS    orders the clients remember for revisits and reads (default 2000)
//   SOAK_MAX_RSS_MB     RSS bound at steady state (default 100; 0 = no check)
//   SOAK_MAX_GROWTH_MB  growth allowed from the third sample to the last (default 15)
//   SOAK_KEEP=1         keep the temp dir (database, request log, server output)
//   KASSE_BIN           server binary (default build/kasse)
//   KASSE_THREADS       kasse serve --threads (default: the server's default)
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, basic } from '../tests/api/harness.mjs';
import { makeRng, newJournal, worker } from '../tests/api/mixed-load.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const num = (v, d) => (v === undefined || v === '' ? d : Number(v));
const MINUTES = num(env.SOAK_MINUTES, 30);
const INTERVAL_S = num(env.SOAK_INTERVAL_S, 60);
const CONNS = num(env.SOAK_CONNS, 64);
const LIST_RATE = num(env.SOAK_LIST_RATE, 0.01);
const MAX_RSS_MB = num(env.SOAK_MAX_RSS_MB, 100);
const MAX_GROWTH_MB = num(env.SOAK_MAX_GROWTH_MB, 15);
const BIN = path.resolve(root, env.KASSE_BIN ?? 'build/kasse');
const USER = 'soak';
const SECRET = 'soak-secret-0123456789abcdef';

if (!fs.existsSync(BIN)) {
  console.error(`soak: ${BIN} not built (make build/kasse)`);
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kasse-soak-'));
const db = path.join(dir, 'kasse.db');
const logDb = path.join(dir, 'kasse-log.db');
const port = await freePort();
const args = ['serve', '--listen', `127.0.0.1:${port}`, '--db', db, '--public-url', `http://127.0.0.1:${port}`];
if (env.KASSE_THREADS) args.push('--threads', env.KASSE_THREADS);
const out = fs.openSync(path.join(dir, 'kasse.out'), 'w');
const server = spawn(BIN, args, { env: { ...env, KASSE_MERCHANTS: `${USER}:${SECRET}` }, stdio: ['ignore', out, out] });
let exited = null;
const exit = new Promise((resolve) => server.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
const cleanup = () => {
  if (!exited) server.kill('SIGKILL');
  if (!env.SOAK_KEEP) fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const serverOutput = () => fs.readFileSync(path.join(dir, 'kasse.out'), 'utf8');
for (let i = 0; !serverOutput().includes('kasse: listening on'); i++) {
  if (exited || i > 200) {
    console.error(`soak: kasse did not start:\n${serverOutput()}`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}

// ---- the client: keep-alive, at most CONNS connections ----
const agent = new http.Agent({ keepAlive: true, maxSockets: CONNS, maxFreeSockets: CONNS });
const auth = basic(USER, SECRET);
let lat = [];           // latencies (ms) of this interval's replies
let netErrors = 0;      // this interval: requests without a whole reply
let requests = 0;       // total
let stopping = false;

function send(method, p, body, headers) {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const h = { authorization: auth, ...headers };
  if (payload) { h['content-type'] = 'application/json'; h['content-length'] = String(payload.length); }
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        requests++;
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', (e) => { netErrors++; reject(e); });
    });
    req.setTimeout(30000, () => req.destroy(new Error('timeout after 30 s')));
    req.on('error', (e) => { if (!stopping) netErrors++; reject(e); });
    if (payload) req.write(payload);
    req.end();
  });
}

const READ_ONLY_AFTER_MIN = num(env.SOAK_READ_ONLY_AFTER_MIN, Infinity);
const journal = newJournal({ keep: num(env.SOAK_KEEP_ORDERS, 2000) });
const ctx = { send, journal, rng: makeRng(Date.now() % 1e9), listRate: LIST_RATE, stopping: false };
const clients = Array.from({ length: CONNS }, async () => {
  while (!ctx.stopping && !exited) {
    await worker(ctx);             // returns after a request without a reply: go on
  }
});

// ---- reporting ----
const mb = (bytes) => (bytes / 1048576).toFixed(1);
const size = (f) => { try { return fs.statSync(f).size; } catch { return 0; } };
function procStatus(field) {
  try {
    const m = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : NaN;
  } catch { return NaN; }
}
let sqliteCli = true;
function logRows() {
  if (!sqliteCli) return '-';
  try {
    return execFileSync('sqlite3', ['-readonly', logDb, 'SELECT count(*) FROM request_log'],
      { encoding: 'utf8', timeout: 20000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (e) {
    if (e.code === 'ENOENT') sqliteCli = false;
    return '?';
  }
}
function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

console.log(`soak: ${BIN} (pid ${server.pid}), ${CONNS} connections, ${MINUTES} min, a line every ${INTERVAL_S} s, dir ${dir}`);
const cols = ['time', 'rss_mb', 'rss_max_mb', 'threads', 'wal_mb', 'db_mb', 'log_rows', 'log_mb', 'log_wal_mb', 'requests', 'req/s',
  'p50_ms', 'p99_ms', 'errors'];
console.log(cols.map((c, i) => (i ? c.padStart(11) : c.padEnd(6))).join(''));
const samples = [];
let errorsTotal = 0;
let firstUnexpected = null;
const t0 = Date.now();
const end = t0 + MINUTES * 60000;
let seen = 0;
while (Date.now() < end && !exited) {
  const next = Math.min(end, t0 + (samples.length + 1) * INTERVAL_S * 1000);
  let peak = 0;                    // the interval's highest RSS, sampled every second
  while (Date.now() < next && !exited) {
    await new Promise((r) => setTimeout(r, Math.min(1000, next - Date.now())));
    peak = Math.max(peak, procStatus('VmRSS') / 1024 || 0);
  }
  if (exited) break;
  if (!ctx.readOnly && Date.now() - t0 >= READ_ONLY_AFTER_MIN * 60000) {
    ctx.readOnly = true;
    console.log(`soak: from now on the clients only read (${journal.orders.size} orders remembered)`);
  }
  const l = lat;
  lat = [];
  l.sort((a, b) => a - b);
  const unexpected = journal.unexpected.length - seen;
  seen = journal.unexpected.length;
  if (unexpected && !firstUnexpected) firstUnexpected = journal.unexpected[seen - unexpected];
  if (journal.unexpected.length > 1000) { journal.unexpected = []; seen = 0; }
  const errors = netErrors + unexpected;   // a 5xx is also an unexpected reply
  errorsTotal += errors;
  netErrors = 0;
  const rss = procStatus('VmRSS') / 1024;
  samples.push(rss);
  const secs = (Date.now() - t0) / 1000;
  const row = [`${Math.floor(secs / 60)}:${String(Math.floor(secs % 60)).padStart(2, '0')}`, rss.toFixed(1),
    Math.max(peak, rss).toFixed(1),
    procStatus('Threads'), mb(size(`${db}-wal`)), mb(size(db)), logRows(), mb(size(logDb)), mb(size(`${logDb}-wal`)),
    l.length, (l.length / INTERVAL_S).toFixed(0), pct(l, 0.5).toFixed(1), pct(l, 0.99).toFixed(1), errors];
  console.log(row.map((c, i) => (i ? String(c).padStart(11) : String(c).padEnd(6))).join(''));
}

ctx.stopping = true;
stopping = true;
const failures = [];
if (exited) {
  failures.push(`kasse exited during the soak (code ${exited.code}, signal ${exited.signal}):\n${serverOutput().slice(-4000)}`);
} else {
  await Promise.race([Promise.all(clients), new Promise((r) => setTimeout(r, 35000))]);
  server.kill('SIGTERM');
  const r = await Promise.race([exit, new Promise((res) => setTimeout(() => res({ timeout: true }), 20000))]);
  if (r.timeout) failures.push('kasse did not stop within 20 s of SIGTERM');
  else if (r.code !== 0) failures.push(`kasse exit code ${r.code} signal ${r.signal}:\n${serverOutput().slice(-4000)}`);
}
agent.destroy();
console.log(`soak: ${requests} requests, ${journal.acked} writes acknowledged, ${errorsTotal} errors`);
if (firstUnexpected) failures.push(`unexpected reply, e.g. ${firstUnexpected}`);
if (errorsTotal) failures.push(`${errorsTotal} errors`);
if (MAX_RSS_MB > 0 && samples.length >= 3) {
  const steady = samples.slice(2);
  const peak = Math.max(...steady);
  if (peak > MAX_RSS_MB) failures.push(`RSS reached ${peak.toFixed(1)} MB at steady state (bound ${MAX_RSS_MB} MB)`);
  const growth = samples[samples.length - 1] - samples[2];
  if (growth > MAX_GROWTH_MB) {
    failures.push(`RSS grew ${growth.toFixed(1)} MB from the third sample to the last (allowed ${MAX_GROWTH_MB} MB)`);
  }
  console.log(`soak: RSS at steady state ${Math.min(...steady).toFixed(1)}..${peak.toFixed(1)} MB, `
    + `growth ${growth.toFixed(1)} MB (bounds ${MAX_RSS_MB} MB, +${MAX_GROWTH_MB} MB)`);
}
if (failures.length) {
  console.log(`soak: FAILED\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('soak: ok');
