// A local HTTP receiver for Kasse's outgoing callbacks (merchant_urls.authorization,
// merchant_urls.notification): node:http on 127.0.0.1 with a free port, records every request
// and answers per path. Each test uses its own path (receiver.path()) so behaviours and
// recordings do not mix.
//
//   const rx = await startReceiver();
//   const p = rx.path({ fail: 2 });        // first 2 requests to p get 500, then 200
//   const url = rx.url(p);                 // http://127.0.0.1:PORT/cb/<uuid>
//   const reqs = await rx.waitFor(p, 3);   // resolves with >= 3 recorded requests
//   await rx.close();
//
// Behaviours: { fail: N } answers `failStatus` (default 500) to the first N requests (N may be
// Infinity), then `okStatus` (default 200); { hang: N } never answers the first N requests (the
// client times out; N may be Infinity), then behaves as above.
import http from 'node:http';
import { sleep } from './harness.mjs';

export async function startReceiver() {
  const routes = new Map(); // path → { fail, failStatus, okStatus, hang, requests: [] }
  const sockets = new Set();
  const unknown = [];

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json;
      try { json = text.length ? JSON.parse(text) : undefined; } catch { json = undefined; }
      const path = req.url.split('?')[0];
      const rec = { at: Date.now(), method: req.method, url: req.url, path, headers: req.headers, text, json };
      const route = [...routes.entries()].find(([p]) => path === p || path.startsWith(p + '/'))?.[1];
      if (!route) {
        unknown.push(rec);
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no such receiver path');
        return;
      }
      route.requests.push(rec);
      const n = route.requests.length;
      if (n <= route.hang) return; // never answer
      const status = n - route.hang <= route.fail ? route.failStatus : route.okStatus;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'fail');
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  return {
    port,
    unknown,
    /** Register a fresh path with a behaviour; returns the path. */
    path({ fail = 0, failStatus = 500, okStatus = 200, hang = 0, prefix = '/cb' } = {}) {
      const p = `${prefix}/${crypto.randomUUID()}`;
      routes.set(p, { fail, failStatus, okStatus, hang, requests: [] });
      return p;
    },
    url(p, suffix = '') { return `http://127.0.0.1:${port}${p}${suffix}`; },
    requests(p) { return routes.get(p)?.requests ?? []; },
    /** Wait until path p has at least n requests (or time out with what it has). */
    async waitFor(p, n = 1, timeoutMs = 10000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const r = this.requests(p);
        if (r.length >= n) return r;
        await sleep(20);
      }
      throw new Error(`receiver: ${this.requests(p).length} of ${n} request(s) to ${p} within ${timeoutMs} ms`);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
