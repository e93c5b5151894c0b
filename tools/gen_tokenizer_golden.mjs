#!/usr/bin/env node
// Regenerates tests/golden/tokenizer/<vocab>.inp/.out with llama.cpp (node-llama-cpp) as the
// reference tokenizer. Inputs are hex-encoded bytes, one per line, so any byte string
// (including invalid UTF-8) survives; <base>-<pre>.out (a base vocabulary under another
// tokenizer.ggml.pre) uses <base>.inp. Each .out line is JSON: [ids without parse_special,
// ids with parse_special] (add_special off, as node-llama-cpp's tokenize), or null where
// llama.cpp cannot be given those bytes (see llamaEquivalent).
//
// usage: node tools/gen_tokenizer_golden.mjs [--gen-model build/tools/gen_model/pocketlm-gen-model]
// Qwen3 / Llama 3 vocab GGUFs come from pocketlm-gen-model (1-layer f32 presets); the C++ golden
// test rebuilds the same vocabularies from the same tokenizer.json files.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama } from "node-llama-cpp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.join(root, "tests/golden/tokenizer");
const argIdx = process.argv.indexOf("--gen-model");
const genModel = argIdx > 0 ? process.argv[argIdx + 1]
  : ["build", "build-gen", "build-lead", "build-tok"].flatMap((d) => ["bin", "tools/gen_model"].map((s) => path.join(root, d, s, "pocketlm-gen-model")))
    .find((p) => fs.existsSync(p));

// Deterministic PRNG (mulberry32) so the corpus is the same on every run.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = (s) => Buffer.from(s, "utf8");
const handWritten = [
  "", " ", "  ", "\n", "\n\n\n", "\t", "\r\n", " \n ", "Hello world", " Hello world", "Hello  world",
  "hello\tworld\n", "I'm sure you'll see they've done it, haven't they? I'd", "THEY'RE WE'LL I'M IT'S",
  "don't DON'T Don'T 's 't 're 've 'm 'll 'd", "'''", "1", "12", "123", "1234", "12345678901234567890",
  "3.14159 2,718 1e-9 0x1F", "٣٤٥ ١٢ ４５６", "Ⅻ ½ ²³", "你好，世界！", "我爱北京天安门。", "日本語のテキストです。カタカナ、ひらがな。",
  "한국어 텍스트", "Привет, мир!", "مرحبا بالعالم", "नमस्ते दुनिया", "Ελληνικά", "café naïve résumé Ångström",
  "🙂", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸🇯🇵", "❤️‍🔥", "emoji 😀😃😄 mid 🚀 text",
  "def f(x):\n    return x ** 2  # square\n", "int main() { printf(\"%d\\n\", 42); }",
  "    indented\n\t\ttabs\n", "a  b   c    d", "trailing   ", "   leading", "line1\r\nline2\rline3\n",
  "\u00a0nbsp\u00a0", "\u3000ideographic\u3000space", "\u2028\u2029", "\u0085next line", "zero\u200bwidth",
  "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>", "<|endoftext|>", "a<|im_end|>b",
  "<think>reasoning</think>", "<tool_call>{}</tool_call>", "<|begin_of_text|>Hello<|eot_id|>",
  "<|start_header_id|>user<|end_header_id|>\n\n", "<s>x</s>", "<unk>", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
  "<|im_end", "|im_end|>", "<<|im_end|>>", "<|im_end|><|im_end|>", " <|im_end|> ",
  "\u2581already\u2581escaped", "\u0000nul\u0000", "\u007f\u0001\u001b[0m", "ß ẞ ǅ ﬁ",
];
const invalidUtf8 = [
  [0x80], [0xbf], [0xc3], [0xe4, 0xbd], [0xf0, 0x9f, 0x98], [0xff], [0xfe, 0xff], [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0x61, 0x80, 0x62], [0x61, 0xc3, 0x28, 0x62], [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0xbc], [0xc3, 0xa9, 0x80, 0xc3, 0xa9], [0x3c, 0x7c, 0x69, 0x6d, 0xe0, 0x5f, 0x65],
  [0x20, 0xff, 0x20, 0xfe, 0x20], [0x48, 0x69, 0xf0, 0x9f, 0x98],
];

const pools = {
  english: "the quick brown fox jumps over lazy dog tokenizer merges byte level model weights inference cache".split(" "),
  contractions: ["I'm", "you're", "it's", "we'll", "they've", "she'd", "DON'T", "Can't", "o'clock", "'s", "'LL"],
  chinese: [..."的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明"],
  japanese: [..."あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキクケコ漢字仮名東京"],
  emoji: ["😀", "😂", "🥲", "👍", "👍🏻", "👩‍💻", "🏳️‍🌈", "🇩🇪", "✨", "🔥", "❤️", "🤖", "🧠", "🍣"],
  code: ["{", "}", "(", ")", "=>", "==", "!=", "&&", "||", "::", "->", "/*", "*/", "//", ";", "#include", "fn", "let", "const", "0x7f", "i++", "[i]", "\"str\"", "'c'", "`tpl`", "$var", "@decorator", "\\n"],
  space: [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\u00a0", "\u3000", "        "],
  digits: ["0", "7", "42", "123", "2024", "31415926535", "٣", "４２", "1,000", "3.5", "1e10"],
  specials: ["<|im_end|>", "<|im_start|>", "<|endoftext|>", "<think>", "</think>", "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>", "<s>", "</s>", "<unk>", "<|fim_pad|>", "<|reserved_special_token_3|>"],
  other: ["é", "ñ", "ü", "Ω", "ж", "ش", "क्", "한", "ก", "ა", "€", "£", "©", "™", "→", "∑", "√", "…", "—", "“", "”", "«", "»"],
};
const poolNames = Object.keys(pools);

function generated(count) {
  const r = rng(20250101);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const out = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(r() * 12);
    let s = "";
    const focus = pick(poolNames);
    for (let k = 0; k < n; k++) {
      s += pick(pools[r() < 0.6 ? focus : pick(poolNames)]);
      if (r() < 0.45) s += " ";
    }
    out.push(enc(s));
  }
  // Long runs of whitespace and digits, and a long mixed paragraph.
  for (const len of [16, 33, 100, 257]) {
    out.push(enc(" ".repeat(len) + "x"), enc("\n".repeat(len)), enc("9".repeat(len)), enc("\t ".repeat(len)));
  }
  out.push(enc(handWritten.slice(8, 60).join(" ").repeat(4)));
  // Invalid UTF-8 spliced into text at random places.
  for (let i = 0; i < 60; i++) {
    const base = enc(pick(pools.english) + pick(pools.chinese) + pick(pools.emoji) + " " + pick(pools.english));
    const cut = Math.floor(r() * (base.length + 1));
    out.push(Buffer.concat([base.subarray(0, cut), Buffer.from(pick(invalidUtf8)), base.subarray(cut)]));
  }
  return out;
}

// llama.cpp's lenient decoder (unicode_cpts_from_utf8): undecodable bytes become U+FFFD,
// overlong forms decode. A byte-level BPE vocab re-encodes those code points, so llama.cpp
// tokenizes the bytes exactly as this equivalent string. Returns null where no JS string can
// carry it (surrogates, > U+10FFFF).
function llamaEquivalent(bytes) {
  const cps = [];
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    let n = 0, cp = 0;
    if (b < 0x80) { cps.push(b); i++; continue; }
    if ((b & 0xe0) === 0xc0) { n = 2; cp = b & 0x1f; } else if ((b & 0xf0) === 0xe0) { n = 3; cp = b & 0x0f; }
    else if ((b & 0xf8) === 0xf0) { n = 4; cp = b & 0x07; }
    let ok = n > 0 && i + n <= bytes.length;
    for (let k = 1; ok && k < n; k++) {
      if ((bytes[i + k] & 0xc0) !== 0x80) ok = false; else cp = (cp << 6) | (bytes[i + k] & 0x3f);
    }
    if (!ok) { cps.push(0xfffd); i++; continue; }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
    cps.push(cp);
    i += n;
  }
  return String.fromCodePoint(...cps);
}

function isValidUtf8(bytes) {
  try { new TextDecoder("utf-8", { fatal: true }).decode(bytes); return true; } catch { return false; }
}

// [golden stem, base vocabulary, tokenizer.ggml.pre]; the C++ golden test lists the same.
const prePresets = [
  ["qwen3-gpt-4o", "qwen3", "gpt-4o"],
  ["qwen3-tekken", "qwen3", "tekken"],
  ["qwen3-smollm", "qwen3", "smollm"],
  ["qwen3-deepseek-llm", "qwen3", "deepseek-llm"],
  ["qwen3-deepseek-v3", "qwen3", "deepseek-v3"],
  ["qwen3-falcon", "qwen3", "falcon"],
  ["qwen3-bloom", "qwen3", "bloom"],
  ["qwen3-chameleon", "qwen3", "chameleon"],
  ["qwen3-superbpe", "qwen3", "superbpe"],
  ["qwen3-afmoe", "qwen3", "afmoe"],
  ["qwen3-tiny-aya", "qwen3", "tiny_aya"],
  ["qwen3-exaone-moe", "qwen3", "exaone-moe"],
  ["qwen3-spark2-5", "qwen3", "spark2_5"],
  ["qwen3-youtu", "qwen3", "youtu"],
  ["qwen3-granite-embed-multi-97m", "qwen3", "granite-embed-multi-97m"],
  ["qwen3-seed-coder", "qwen3", "seed-coder"],
  ["qwen3-ufakzeka", "qwen3", "ufakzeka"],
  ["qwen3-laguna", "qwen3", "laguna"],
  ["qwen3-minicpm5", "qwen3", "minicpm5"],
  ["qwen3-kimi-k2", "qwen3", "kimi-k2"],
  ["llama3-jais-2", "llama3", "jais-2"],
  ["llama3-viking", "llama3", "viking"],
];

// A copy of a GGUF (v2/v3) with one string key set to `value`; tensor data is moved to the new
// aligned offset unchanged.
function withStringKey(buf, key, value) {
  let o = 0;
  const u32 = () => { const v = buf.readUInt32LE(o); o += 4; return v; };
  const u64 = () => { const v = Number(buf.readBigUInt64LE(o)); o += 8; return v; };
  const str = () => { const n = u64(); const v = buf.toString("utf8", o, o + n); o += n; return v; };
  const sizes = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const skip = (type) => {
    if (type === 8) { str(); return; }
    if (type === 9) { const t = u32(); const n = u64(); for (let i = 0; i < n; i++) skip(t); return; }
    if (!(type in sizes)) throw new Error(`gguf: value type ${type}`);
    o += sizes[type];
  };
  if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error("not a GGUF file");
  o = 4;
  u32();
  const nTensors = u64(), nKv = u64();
  const kvs = [];
  let alignment = 32, found = false;
  for (let i = 0; i < nKv; i++) {
    const start = o;
    const k = str();
    const type = u32();
    const valueAt = o;
    skip(type);
    if (k === "general.alignment") alignment = buf.readUInt32LE(valueAt);
    if (k === key) {
      if (type !== 8) throw new Error(`${key}: not a string`);
      found = true;
      continue;
    }
    kvs.push(buf.subarray(start, o));
  }
  const lenBuf = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  const keyBytes = Buffer.from(key, "utf8"), valBytes = Buffer.from(value, "utf8");
  const typeBuf = Buffer.alloc(4);
  typeBuf.writeUInt32LE(8);
  kvs.push(Buffer.concat([lenBuf(keyBytes.length), keyBytes, typeBuf, lenBuf(valBytes.length), valBytes]));
  const tensorsAt = o;
  for (let i = 0; i < nTensors; i++) { str(); const nd = u32(); o += 8 * nd + 4 + 8; }
  const tensorInfo = buf.subarray(tensorsAt, o);
  const dataAt = Math.ceil(o / alignment) * alignment;
  const head = Buffer.alloc(24);
  buf.copy(head, 0, 0, 16);
  head.writeBigUInt64LE(BigInt(found ? nKv : nKv + 1), 16);
  const header = Buffer.concat([head, ...kvs, tensorInfo]);
  const pad = Buffer.alloc(Math.ceil(header.length / alignment) * alignment - header.length);
  return Buffer.concat([header, pad, buf.subarray(dataAt)]);
}

async function main() {
  const corpus = [...handWritten.map(enc), ...invalidUtf8.map((b) => Buffer.from(b)), ...generated(1000)];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tokgold-"));
  const vocabs = [{ name: "stories260K", path: path.join(root, "../shared/models/stories260K.gguf"), byteLevel: false }];
  for (const [name, preset] of [["qwen3", "qwen3-tiny"], ["llama3", "llama3-tiny"]]) {
    if (!genModel) throw new Error("pocketlm-gen-model not found; pass --gen-model PATH");
    const p = path.join(tmp, `${name}.gguf`);
    execFileSync(genModel, ["--preset", preset, "--type", "f32", "--n-layer", "1", "-o", p], { stdio: "inherit" });
    vocabs.push({ name, path: p, byteLevel: true });
  }
  // The same vocabularies under other pre-tokenizers: llama.cpp splits with their regexes.
  for (const [name, base, pre] of prePresets) {
    const p = path.join(tmp, `${name}.gguf`);
    fs.writeFileSync(p, withStringKey(fs.readFileSync(path.join(tmp, `${base}.gguf`)), "tokenizer.ggml.pre", pre));
    vocabs.push({ name, path: p, byteLevel: true, sharesInputsOf: base });
  }
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  for (const v of vocabs) {
    const model = await llama.loadModel({ modelPath: v.path, vocabOnly: true });
    const inp = [], out = [];
    for (const bytes of corpus) {
      const text = isValidUtf8(bytes) ? bytes.toString("utf8") : v.byteLevel ? llamaEquivalent(bytes) : null;
      inp.push(bytes.toString("hex"));
      out.push(text === null ? "null"
        : JSON.stringify([Array.from(model.tokenize(text, false)), Array.from(model.tokenize(text, true))]));
    }
    if (!v.sharesInputsOf) fs.writeFileSync(path.join(outDir, `${v.name}.inp`), inp.join("\n") + "\n");
    fs.writeFileSync(path.join(outDir, `${v.name}.out`), out.join("\n") + "\n");
    console.log(`${v.name}: ${corpus.length} inputs`);
    await model.dispose();
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

await main();
