// The request log is bounded by size (issue 9, item 11): `kasse serve --log-max-mb N` keeps
// kasse-log.db and its body files (kasse-log.db-body0..3, issue 12) within N MiB together (the
// WAL within a quarter of that), deleting the oldest rows first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startKasse, assertJsonOk, runCli, sleep, SQLITE_ONLY } from './harness.mjs';
import { SE_EXAMPLE } from './fixtures.mjs';

const SESSIONS = '/payments/v1/sessions';
const MB = 1 << 20;

let k;
before(async () => { k = await startKasse({ args: ['--log-max-mb', '1'], contract: false }); });
after(async () => { await k?.kill(); });

const size = (f) => { try { return fs.statSync(f).size; } catch { return 0; } };
// The log's files: the SQLite file and the four segments' body files.
const logSize = (logDb) => [0, 1, 2, 3].reduce((n, i) => n + size(`${logDb}-body${i}`), size(logDb));

async function logStatus(cid) {
  return (await k.get(`/kasse/v1/logs/${cid}`)).status;
}

test('--log-max-mb 1: ~3 MB of logged requests leave kasse-log.db and its body files within 1 MiB (+ one batch), its WAL '
  + 'within 1 MiB; the oldest rows went first, the newest are readable', { timeout: 120_000, skip: SQLITE_ONLY }, async (t) => {
  const logDb = path.join(k.dir, 'kasse-log.db');
  const body = { ...SE_EXAMPLE, merchant_data: 'm'.repeat(6000) };
  const cids = [];
  let maxDb = 0;
  let maxWal = 0;
  const sample = () => {
    maxDb = Math.max(maxDb, logSize(logDb));
    maxWal = Math.max(maxWal, size(`${logDb}-wal`));
  };
  for (let round = 0; round < 40; round++) {
    const replies = await Promise.all(Array.from({ length: 8 }, () => k.post(SESSIONS, body)));
    for (const r of replies) {
      assert.equal(r.status, 200, r.text);
      cids.push(r.headers['klarna-correlation-id']);
    }
    sample();
  }
  // Reading a log first writes what is queued: after it, the files hold every row.
  assert.equal(await logStatus(cids.at(-1)), 200, 'the newest request is in the log');
  await sleep(100);
  sample();
  t.diagnostic(`${cids.length} requests; kasse-log.db + body files max ${maxDb} bytes, its WAL max ${maxWal} bytes`);
  assert.ok(size(`${logDb}-body0`) + size(`${logDb}-body1`) > 0, 'the bodies are in the body files');
  assert.ok(maxDb <= MB + MB / 4, `kasse-log.db + body files reached ${maxDb} bytes`);
  assert.ok(maxWal <= MB, `kasse-log.db-wal reached ${maxWal} bytes`);
  assert.equal(await logStatus(cids[0]), 404, 'the oldest request was dropped from the log');
  assert.equal(await logStatus(cids.at(-2)), 200);
});

test('--log-max-mb: 1..1048576, else exit 2 with a message; --help documents it', () => {
  for (const v of ['0', '-1', 'x', '1048577', '']) {
    const r = runCli(['serve', '--log-max-mb', v, '--db', '/nonexistent/never-opened.db']);
    assert.equal(r.code, 2, `--log-max-mb '${v}': ${r.stderr}`);
    assert.match(r.stderr, /--log-max-mb must be 1\.\.1048576/);
  }
  const help = runCli(['serve', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--log-max-mb N .*\n.*\(default 64\)/);
  assert.match(help.stdout, /503 SERVICE_UNAVAILABLE with Retry-After/);
});

test('log bound: clean exit (on SQLite, the closing line counts the rows pruned for size)', async () => {
  const r = await k.stopClean();
  if (!SQLITE_ONLY) assert.match(r.stderr, /request log: [1-9]\d* rows pruned for size/);
});
