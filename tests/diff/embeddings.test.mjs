// Embedding models against llama.cpp (node-llama-cpp's getEmbeddingFor): bert with mean and CLS
// pooling, nomic-bert with mean and last-token pooling, on 50 texts (ASCII, accents, CJK, other
// scripts, punctuation, symbols, unknown characters, long ones). Embeddings come through
// `pocketlm embed` and through a real `pocketlm serve` (/api/embed, /v1/embeddings); each must
// have cosine similarity >= 0.999 with llama.cpp's. Texts are encoded as llama-embedding and
// llama-server (so Ollama) encode them: [CLS] text [SEP], special-token text parsed. The WordPiece
// tokens of every text must equal llama.cpp's exactly, with and without special tokens.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import { open_reference } from "./llama_ref.mjs";
import { env, generated_model, scratch_dir } from "./harness.mjs";
import { make_store, start_server, raw } from "../server/lib.mjs";

const run_file = promisify(execFile);
const min_cosine = 0.999;

const long_en = Array.from({ length: 16 }, (_, i) =>
  `Sentence ${i}: the quick brown fox jumps over the lazy dog, and the children play in the school.`).join(" ");
const long_mixed = Array.from({ length: 10 }, (_, i) =>
  `Café n°${i} — naïve résumé; 日本語の文字 ${i * 7}! Привет, мир? ωmega… «quoted» text.`).join(" ");

export const texts = [
  "Hello, World!",
  "The quick brown fox jumps over the lazy dog.",
  "what is the best way to learn a new language?",
  "search_query: why is the sky blue",
  "search_document: The sky is blue because of Rayleigh scattering.",
  "a",
  "A",
  "I",
  "...",
  "!!!???",
  "don't stop believing; it's 5 o'clock somewhere",
  "e-mail: someone@example.com, web: https://example.com/path?q=1&x=2",
  "3.14159 is pi, 2.71828 is e, and 1,000,000 is a million",
  "C++ and C# (and F#) are languages; x+y=z, a*b/c, 50% off, $20 #tag ~home ^up |pipe|",
  "Café naïve résumé fiancée",
  "ÀÉÎÕÜ àéîõü ÇçÑñ",
  "Crème brûlée à la française",
  "Straße Øresund Łódź Đakovo æther",
  "Ångström Čapek Dvořák Škoda",
  "日本語の文字",
  "東京は日本の首都です。",
  "我是学生，你好世界！",
  "北京天气很好",
  "한국어 텍스트",
  "カタカナ と ひらがな",
  "Привет, мир! Как дела?",
  "Ελληνικά: αβγ δέλτα ωμέγα",
  "مرحبا بالعالم",
  "שלום עולם",
  "नमस्ते दुनिया",
  "emoji 😀 🎉 👍🏽 ok",
  "€5 £10 ¥100 ₹50 ©2024 ™ ®",
  "«guillemets» “curly quotes” ‘single’ — dash – en … ellipsis",
  "¿Qué tal? ¡Muy bien!",
  "tabs\tand\nnew\nlines\r\nand   many    spaces",
  "   leading and trailing spaces   ",
  "MiXeD CaSe WoRdS and ALLCAPS",
  "hyphen-ated and under_scored and camelCaseWords",
  "[CLS] [SEP] [MASK] look like special tokens but are text",
  "<html><body>tags & entities &amp; &lt;</body></html>",
  "def f(x): return x ** 2  # python",
  "{\"json\": [1, 2, 3], \"ok\": true}",
  "zero\u200bwidth and soft\u00adhyphen and nbsp\u00a0here",
  "control\u0007chars\u0001removed",
  "unknownwordsxyzzy qwertyuiop asdfghjkl",
  "embedding models turn sentences into vectors for search",
  "the the the the the the the the",
  "0123456789",
  long_en,
  long_mixed,
];

const models = [
  { label: "bert-tiny f16 (mean)", spec: { preset: "bert-tiny", type: "f16" }, name: "bert:mean" },
  { label: "bge-tiny q8_0 (cls)", spec: { preset: "bge-tiny", type: "q8_0" }, name: "bge:cls" },
  { label: "nomic-bert-tiny f16 (mean)", spec: { preset: "nomic-bert-tiny", type: "f16" }, name: "nomic:mean" },
  { label: "nomic-bert-tiny f32 (last)", spec: { preset: "nomic-bert-tiny", type: "f32", pooling: 3 },
    name: "nomic:last" },
];

function cosine(a, b) {
  assert.equal(a.length, b.length);
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

const worst = {};  // label -> lowest cosine seen
function check_all(label, ours, refs) {
  assert.equal(ours.length, refs.length, `${label}: ${ours.length} embeddings for ${refs.length} texts`);
  for (let i = 0; i < refs.length; i++) {
    const c = cosine(ours[i], refs[i]);
    worst[label] = Math.min(worst[label] ?? 1, c);
    assert.ok(c >= min_cosine, `${label}: text #${i} ${JSON.stringify(texts[i].slice(0, 40))}: cosine ${c}`);
  }
}

let ref;
let server;
let root;
const files = {};
const refs = {};

before(async () => {
  ref = await open_reference({ threads: env.ref_threads, node_modules_dir: env.node_modules });
  for (const m of models) {
    files[m.name] = await generated_model(m.spec);
    refs[m.name] = await ref.embeddings(files[m.name], texts);
  }
  root = scratch_dir("embed-serve");
  await make_store(root, models.map((m) => ({ file: files[m.name], name: m.name })));
  server = await start_server({ root, args: ["--parallel", "1"] });
});

after(async () => {
  await ref?.close();
  await server?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
  process.stderr.write(`embeddings.test.mjs: lowest cosine similarity to llama.cpp over ${texts.length} texts\n`);
  for (const [label, c] of Object.entries(worst)) process.stderr.write(`  ${label.padEnd(48)} ${c.toFixed(7)}\n`);
});

test("WordPiece tokens equal llama.cpp's for every text, with and without special tokens", async () => {
  const model = files["bert:mean"];
  for (const text of texts) {
    const plain = await run_file(env.bin, ["tokenize", "-m", model, "-p", text, "--no-bos", "--no-parse-special"]);
    assert.deepEqual(JSON.parse(plain.stdout), await ref.tokenize(model, text), JSON.stringify(text));
    const special = await run_file(env.bin, ["tokenize", "-m", model, "-p", text]);
    assert.deepEqual(JSON.parse(special.stdout), await ref.tokenize(model, text, { special: true }), JSON.stringify(text));
  }
});

describe(`embeddings agree with llama.cpp's (cosine >= ${min_cosine})`, () => {
  for (const m of models) {
    test(`${m.label}: pocketlm embed`, async () => {
      const { stdout } = await run_file(env.bin, ["embed", "-m", files[m.name], "-t", String(env.threads), ...texts],
                                        { maxBuffer: 1 << 26 });
      const ours = stdout.trim().split("\n").map((l) => JSON.parse(l));
      for (const v of ours) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4, "unit length");
      check_all(`${m.label} cli`, ours, refs[m.name]);
    });
    test(`${m.label}: /api/embed and /v1/embeddings`, async () => {
      const a = await raw(`${server.url}/api/embed`, { body: JSON.stringify({ model: m.name, input: texts }) });
      assert.equal(a.status, 200, a.text);
      check_all(`${m.label} /api/embed`, a.json.embeddings, refs[m.name]);
      const o = await raw(`${server.url}/v1/embeddings`, {
        body: JSON.stringify({ model: m.name, input: texts, encoding_format: "float" }) });
      assert.equal(o.status, 200, o.text);
      check_all(`${m.label} /v1/embeddings`, o.json.data.map((d) => d.embedding), refs[m.name]);
    });
  }
});
