// A tiny Ollama-compatible registry for tests (node, no dependencies), on 127.0.0.1.
//   node registry.mjs ROOT        ROOT is an Ollama-layout store (manifests/, blobs/) to serve
// Prints "PORT <n>" once listening. Serves GET /v2/<ns>/<model>/manifests/<tag> (the raw
// manifest file) and /v2/<ns>/<model>/blobs/sha256:<hex> with Range support, plus /api/ps
// (an empty or canned list) so `pocketlm ps` can be pointed at it.
// Test controls: POST /_mode/<mode> where mode is
//   normal    serve everything faithfully
//   drop      every blob response is cut off (socket destroyed) after half its bytes
//   drop-once the next blob response is cut off, later ones are whole
//   stall     blob responses send half their bytes and then hang (the client gets killed)
//   corrupt   blob bodies have one byte flipped
// GET /_log returns the blob requests seen so far: [{digest, range}].
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const root = process.argv[2];
let mode = 'normal';
const log = [];
let ps = { models: [] };

function serveBlob(req, res, digest) {
  const file = path.join(root, 'blobs', digest.replace(':', '-'));
  if (!fs.existsSync(file)) { res.writeHead(404); res.end('blob unknown'); return; }
  let data = fs.readFileSync(file);
  const range = req.headers.range || null;
  log.push({ digest, range });
  let start = 0;
  const m = range && /^bytes=(\d+)-$/.exec(range);
  if (m) {
    start = Number(m[1]);
    if (start >= data.length) { res.writeHead(416); res.end(); return; }
  }
  if (mode === 'corrupt') { data = Buffer.from(data); data[data.length >> 1] ^= 0x55; }
  const body = data.subarray(start);
  const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length };
  if (m) headers['Content-Range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
  res.writeHead(m ? 206 : 200, headers);
  const cut = mode === 'drop' || mode === 'drop-once' || mode === 'stall';
  if (!cut || body.length < 2) { res.end(body); return; }
  const half = body.subarray(0, body.length >> 1);
  if (mode === 'drop-once') mode = 'normal';
  res.write(half, () => {
    if (mode === 'stall') return;  // hang with the socket open
    setTimeout(() => req.socket.destroy(), 50);
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let m;
  if (req.method === 'POST' && (m = /^\/_mode\/([a-z-]+)$/.exec(url.pathname))) {
    mode = m[1]; res.end('ok'); return;
  }
  if (req.method === 'POST' && url.pathname === '/_ps') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { ps = JSON.parse(body); res.end('ok'); });
    return;
  }
  if (url.pathname === '/_log') { res.end(JSON.stringify(log)); return; }
  if (url.pathname === '/api/ps') { res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify(ps)); return; }
  if ((m = /^\/v2\/([^/]+)\/([^/]+)\/manifests\/([^/]+)$/.exec(url.pathname))) {
    const file = path.join(root, 'manifests', 'registry.ollama.ai', m[1], m[2], m[3]);
    if (!fs.existsSync(file)) { res.writeHead(404); res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'); return; }
    res.setHeader('Content-Type', 'application/vnd.docker.distribution.manifest.v2+json');
    res.end(fs.readFileSync(file));
    return;
  }
  if ((m = /^\/v2\/([^/]+)\/([^/]+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname))) {
    serveBlob(req, res, m[3]);
    return;
  }
  res.writeHead(404); res.end();
});
server.listen(0, '127.0.0.1', () => { console.log(`PORT ${server.address().port}`); });
