// A tiny Ollama-compatible registry for tests (node, no dependencies), on 127.0.0.1.
//   node registry.mjs ROOT [KEY CERT]   ROOT is an Ollama-layout store (manifests/, blobs/) to
//                                       serve; with a PEM key and certificate it speaks HTTPS
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
// Pushes (the OCI distribution upload protocol, as Ollama's push uses it) are accepted too:
//   HEAD /v2/<ns>/<model>/blobs/<digest>        200 when the blob is here, else 404
//   POST /v2/<ns>/<model>/blobs/uploads/         202, Location: /v2/<ns>/<model>/blobs/uploads/<id>
//   PATCH <location>                             appends the body (chunked uploads)
//   PUT <location>?digest=sha256:<hex>           appends the body, checks the digest (400
//                                                DIGEST_INVALID otherwise), stores the blob: 201
//   PUT /v2/<ns>/<model>/manifests/<tag>         stores the manifest once every blob it names is
//                                                here (400 MANIFEST_BLOB_UNKNOWN otherwise): 201
// into ROOT, so that later pulls serve what was pushed. GET /_pushlog returns the push requests
// seen so far: [{method, path}].
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const root = process.argv[2];
let mode = 'normal';
const log = [];
const pushlog = [];
let ps = { models: [] };
let next_upload = 0;

const blob_file = (digest) => path.join(root, 'blobs', digest.replace(':', '-'));
const manifest_file = (ns, model, tag) => path.join(root, 'manifests', 'registry.ollama.ai', ns, model, tag);

function read_body(req, done) {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => done(Buffer.concat(parts)));
}

function oci_error(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

// The upload endpoints; true when the request was one of them.
function handle_push(req, res, url) {
  let m;
  if (req.method === 'HEAD' && (m = /^\/v2\/([^/]+)\/([^/]+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname))) {
    pushlog.push({ method: req.method, path: url.pathname });
    const file = blob_file(m[3]);
    if (!fs.existsSync(file)) { res.writeHead(404); res.end(); return true; }
    res.writeHead(200, { 'Content-Length': fs.statSync(file).size, 'Docker-Content-Digest': m[3] });
    res.end();
    return true;
  }
  if (req.method === 'POST' && (m = /^\/v2\/([^/]+)\/([^/]+)\/blobs\/uploads\/$/.exec(url.pathname))) {
    pushlog.push({ method: req.method, path: url.pathname });
    const id = `u${next_upload++}`;
    fs.mkdirSync(path.join(root, 'uploads'), { recursive: true });
    fs.writeFileSync(path.join(root, 'uploads', id), Buffer.alloc(0));
    read_body(req, () => {
      res.writeHead(202, { Location: `/v2/${m[1]}/${m[2]}/blobs/uploads/${id}`, 'Docker-Upload-UUID': id,
                           Range: '0-0', 'Content-Length': 0 });
      res.end();
    });
    return true;
  }
  if ((req.method === 'PATCH' || req.method === 'PUT') &&
      (m = /^\/v2\/([^/]+)\/([^/]+)\/blobs\/uploads\/(u\d+)$/.exec(url.pathname))) {
    pushlog.push({ method: req.method, path: url.pathname });
    const upload = path.join(root, 'uploads', m[3]);
    if (!fs.existsSync(upload)) { oci_error(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'no such upload'); return true; }
    read_body(req, (body) => {
      fs.appendFileSync(upload, body);
      const size = fs.statSync(upload).size;
      if (req.method === 'PATCH') {
        res.writeHead(202, { Location: url.pathname, Range: `0-${Math.max(0, size - 1)}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      const digest = url.searchParams.get('digest') ?? '';
      const got = 'sha256:' + crypto.createHash('sha256').update(fs.readFileSync(upload)).digest('hex');
      if (!/^sha256:[0-9a-f]{64}$/.test(digest) || got !== digest) {
        fs.rmSync(upload);
        oci_error(res, 400, 'DIGEST_INVALID', `expected ${digest}, got ${got}`);
        return;
      }
      fs.mkdirSync(path.join(root, 'blobs'), { recursive: true });
      fs.renameSync(upload, blob_file(digest));
      res.writeHead(201, { Location: `/v2/${m[1]}/${m[2]}/blobs/${digest}`, 'Docker-Content-Digest': digest,
                           'Content-Length': 0 });
      res.end();
    });
    return true;
  }
  if (req.method === 'PUT' && (m = /^\/v2\/([^/]+)\/([^/]+)\/manifests\/([^/]+)$/.exec(url.pathname))) {
    pushlog.push({ method: req.method, path: url.pathname });
    read_body(req, (body) => {
      let manifest;
      try { manifest = JSON.parse(body.toString()); } catch { oci_error(res, 400, 'MANIFEST_INVALID', 'not JSON'); return; }
      const layers = [...(manifest.layers ?? []), ...(manifest.config ? [manifest.config] : [])];
      const missing = layers.filter((l) => !fs.existsSync(blob_file(String(l.digest))));
      if (missing.length > 0) { oci_error(res, 400, 'MANIFEST_BLOB_UNKNOWN', missing[0].digest); return; }
      const file = manifest_file(m[1], m[2], m[3]);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, body);
      const digest = 'sha256:' + crypto.createHash('sha256').update(body).digest('hex');
      res.writeHead(201, { 'Docker-Content-Digest': digest, 'Content-Length': 0 });
      res.end();
    });
    return true;
  }
  return false;
}

function serveBlob(req, res, digest) {
  const file = blob_file(digest);
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

function handle(req, res) {
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
  if (url.pathname === '/_pushlog') { res.end(JSON.stringify(pushlog)); return; }
  if (handle_push(req, res, url)) return;
  if (url.pathname === '/api/ps') { res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify(ps)); return; }
  if ((m = /^\/v2\/([^/]+)\/([^/]+)\/manifests\/([^/]+)$/.exec(url.pathname))) {
    const file = manifest_file(m[1], m[2], m[3]);
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
}
const server = process.argv[4]
  ? https.createServer({ key: fs.readFileSync(process.argv[3]), cert: fs.readFileSync(process.argv[4]) }, handle)
  : http.createServer(handle);
server.listen(0, '127.0.0.1', () => { console.log(`PORT ${server.address().port}`); });
