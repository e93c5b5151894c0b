// The official `openai` and `ollama` npm clients against a `pocketlm serve` (the static aarch64
// binary under qemu in tests/e2e/termux_static.sh): each streams a greedy chat, and the streamed
// text equals the non-streamed answer and the other API's. Then the web page: sent gzipped to a
// client that takes gzip, and the same bytes inflated to one that does not.
//   node termux_clients.mjs BASE_URL MODEL
import assert from "node:assert/strict";
import http from "node:http";
import zlib from "node:zlib";
import OpenAI from "openai";
import { Ollama } from "ollama";

const [base, model] = process.argv.slice(2);
const messages = [{ role: "user", content: "Once upon a time" }];

const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused", maxRetries: 0, timeout: 300000 });
let streamed = "";
let chunks = 0;
for await (const part of await openai.chat.completions.create({ model, messages, stream: true, max_tokens: 8,
                                                                 temperature: 0 })) {
  streamed += part.choices[0]?.delta?.content ?? "";
  chunks++;
}
const whole = await openai.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
assert.ok(chunks > 2, `openai: ${chunks} stream chunks`);
assert.ok(streamed.length > 0, "openai: empty stream");
assert.equal(streamed, whole.choices[0].message.content, "openai: stream differs from the whole answer");

const ollama = new Ollama({ host: base });
let ostreamed = "";
let last;
for await (const part of await ollama.chat({ model, messages, stream: true, options: { num_predict: 8, temperature: 0 } })) {
  ostreamed += part.message.content;
  last = part;
}
assert.equal(last.done, true, "ollama: the last part is not done");
assert.equal(last.eval_count, 8, "ollama: eval_count");
assert.equal(ostreamed, streamed, "ollama's stream differs from openai's");

function get(path, headers) {
  return new Promise((resolve, reject) => {
    http.get(`${base}${path}`, { headers }, (res) => {
      const parts = [];
      res.on("data", (c) => parts.push(c)).on("end", () => resolve({ headers: res.headers, body: Buffer.concat(parts) }));
    }).on("error", reject);
  });
}
const gz = await get("/", { "Accept-Encoding": "gzip, deflate" });
assert.equal(gz.headers["content-encoding"], "gzip");
const plain = await get("/", { "Accept-Encoding": "identity" });
assert.equal(plain.headers["content-encoding"], undefined);
assert.ok(plain.body.toString().toLowerCase().includes("<!doctype html"), "no web page");
assert.deepEqual(zlib.gunzipSync(gz.body), plain.body, "gzipped page differs from the plain one");
console.log(`clients ok: "${streamed}"`);
