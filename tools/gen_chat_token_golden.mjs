#!/usr/bin/env node
// Regenerates tests/golden/chat/jinja/tokens.json: llama.cpp's token ids (node-llama-cpp,
// special tokens parsed, nothing added) for Python Jinja2's rendering of the benign conversations
// (tests/golden/chat/jinja/expected, made by tools/chat_template_reference.py) through the
// templates whose vocabulary pocketlm-gen-model carries: the real Qwen3 vocabulary (qwen3-tiny
// preset) for the Qwen templates and the real Llama 3 one (llama3-tiny) for the Llama 3 ones.
// tests/unit/chat/jinja_corpus_test.cpp renders the same conversations with pocketlm's engine and
// tokenizer (template pieces with special tokens, data pieces without) and compares the ids.
//
// usage: node tools/gen_chat_token_golden.mjs [--gen-model build/bin/pocketlm-gen-model]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama } from "node-llama-cpp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const corpus = path.join(root, "tests/golden/chat/jinja");
const argIdx = process.argv.indexOf("--gen-model");
const genModel = argIdx > 0 ? process.argv[argIdx + 1]
  : ["build", "build-jinja", "build-gen", "build-lead"].flatMap((d) => ["bin", "tools/gen_model"].map((s) => path.join(root, d, s, "pocketlm-gen-model")))
    .find((p) => fs.existsSync(p));

// vocab (the golden name the C++ test maps to its fixture) -> preset and the templates written for it.
const vocabs = {
  qwen3: { preset: "qwen3-tiny", templates: ["qwen2.5-7b-instruct", "qwen2-instruct", "qwen3-0.6b", "qwen3-b", "qwq-32b", "qwen3-coder"] },
  llama3: { preset: "llama3-tiny", templates: ["llama-3-8b-instruct", "llama-3-instruct-b", "llama-3.1-8b-instruct", "llama-3.2-3b-instruct", "functionary-medium-v3.1"] },
};

async function main() {
  if (!genModel) throw new Error("pocketlm-gen-model not found; pass --gen-model PATH");
  const conversations = JSON.parse(fs.readFileSync(path.join(corpus, "conversations.json"), "utf8")).conversations;
  const benign = conversations.filter((c) => c.benign).map((c) => c.id);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "chattok-"));
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  const out = {
    comment: "llama.cpp's ids (special tokens parsed, no BOS added) for the Jinja2 renderings in expected/ of the benign " +
      "conversations; made by tools/gen_chat_token_golden.mjs.",
    vocabs: {},
  };
  for (const [vocab, v] of Object.entries(vocabs)) {
    const p = path.join(tmp, `${vocab}.gguf`);
    execFileSync(genModel, ["--preset", v.preset, "--type", "f32", "--n-layer", "1", "-o", p], { stdio: "inherit" });
    const model = await llama.loadModel({ modelPath: p, vocabOnly: true });
    const templates = {};
    let n = 0;
    for (const name of v.templates) {
      const expected = JSON.parse(fs.readFileSync(path.join(corpus, "expected", `${name}.json`), "utf8"));
      templates[name] = {};
      for (const id of benign) {
        if (typeof expected[id] !== "string") continue;  // the template raised on it
        templates[name][id] = Array.from(model.tokenize(expected[id], true));
        n++;
      }
    }
    out.vocabs[vocab] = { preset: v.preset, templates };
    console.log(`${vocab}: ${v.templates.length} templates, ${n} prompts`);
    await model.dispose();
  }
  // One prompt per line keeps the file diffable.
  const lines = JSON.stringify(out, null, 1).replace(/\[\n\s+([\d,\n\s]+?)\n\s+\]/g, (_, ids) => `[${ids.replace(/\s+/g, "")}]`);
  fs.writeFileSync(path.join(corpus, "tokens.json"), lines + "\n");
  fs.rmSync(tmp, { recursive: true, force: true });
}

await main();
