// Writes a model into an Ollama-layout store exactly as Ollama does (node, no dependencies):
//   node make_ollama_store.mjs ROOT NAME GGUF SHAPE [--params JSON] [--system TEXT]
//                              [--license TEXT] [--template TEXT]
// NAME is host/namespace/model/tag. SHAPE is
//   pulled  what `ollama pull` leaves: the registry's manifest bytes verbatim (compact JSON, no
//           trailing newline), blobs named sha256-<hex>
//   created what `ollama create` wrote in versions that named blobs sha256:<hex>: Go's
//           json.Encoder output (trailing newline) with "from" on reused layers
// Prints the manifest's sha256 (the model ID).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const [root, name, gguf, shape, ...rest] = process.argv.slice(2);
const opts = {};
for (let i = 0; i < rest.length; i += 2) opts[rest[i].replace(/^--/, '')] = rest[i + 1];
const sep = shape === 'created' ? ':' : '-';
fs.mkdirSync(path.join(root, 'blobs'), { recursive: true });

function addBlob(bytes, mediaType, extra = {}) {
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  const file = path.join(root, 'blobs', `sha256${sep}${hex}`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, bytes, { mode: 0o644 });
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length, ...extra };
}

const layers = [addBlob(fs.readFileSync(gguf), 'application/vnd.ollama.image.model',
                        shape === 'created' ? { from: '/home/user/.ollama/models/blobs/sha256-aaaa' } : {})];
if (opts.template) layers.push(addBlob(Buffer.from(opts.template), 'application/vnd.ollama.image.template'));
if (opts.system) layers.push(addBlob(Buffer.from(opts.system), 'application/vnd.ollama.image.system'));
if (opts.license) layers.push(addBlob(Buffer.from(opts.license), 'application/vnd.ollama.image.license'));
if (opts.params) layers.push(addBlob(Buffer.from(opts.params), 'application/vnd.ollama.image.params'));
const config = addBlob(Buffer.from(JSON.stringify({
  model_format: 'gguf', model_family: 'llama', model_families: ['llama'], model_type: '260K',
  file_type: 'F32', architecture: 'amd64', os: 'linux',
  rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
})), 'application/vnd.docker.container.image.v1+json');
const manifest = { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config, layers };
const text = JSON.stringify(manifest) + (shape === 'created' ? '\n' : '');
const file = path.join(root, 'manifests', ...name.split('/'));
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, text);
console.log(crypto.createHash('sha256').update(text).digest('hex'));
