#!/usr/bin/env node
// Writes CORPUS/tokens.json (CORPUS: the folder tools/chat_corpus.py builds, which runs this):
// llama.cpp's token ids (node-llama-cpp, special tokens parsed, nothing added) for Python Jinja2's
// rendering (CORPUS/expected, made by tools/chat_template_reference.py) of the benign conversations
// through the templates CORPUS/templates.json lists under "vocabs": the real Qwen3 vocabulary
// (pocketlm-gen-model preset qwen3-tiny) for the Qwen templates and the real Llama 3 one
// (llama3-tiny) for the Llama 3 ones. tests/unit/chat/jinja_corpus_test.cpp renders the same
// conversations with pocketlm's engine and tokenizer (template pieces with special tokens, data
// pieces without) and compares the ids.
//
// usage: node tools/gen_chat_token_golden.mjs --corpus DIR --gen-model PATH/pocketlm-gen-model
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama } from "node-llama-cpp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const corpus = arg("--corpus");
const genModel = arg("--gen-model");
const presets = { qwen3: "qwen3-tiny", llama3: "llama3-tiny" };

async function main() {
  if (!corpus || !genModel) throw new Error("usage: gen_chat_token_golden.mjs --corpus DIR --gen-model PATH");
  const conversations = JSON.parse(fs.readFileSync(path.join(root, "tests/golden/chat/jinja/conversations.json"), "utf8")).conversations;
  const vocabs = JSON.parse(fs.readFileSync(path.join(corpus, "templates.json"), "utf8")).vocabs;
  const benign = conversations.filter((c) => c.benign).map((c) => c.id);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "chattok-"));
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  const out = {
    comment: "llama.cpp's ids (special tokens parsed, no BOS added) for the Jinja2 renderings in expected/ of the benign " +
      "conversations; made by tools/gen_chat_token_golden.mjs.",
    vocabs: {},
  };
  for (const [vocab, names] of Object.entries(vocabs)) {
    const v = { preset: presets[vocab], templates: names };
    if (!v.preset) throw new Error(`no pocketlm-gen-model preset for vocabulary ${vocab}`);
    const p = path.join(tmp, `${vocab}.gguf`);
    try {  // its progress lines only matter when it fails
      execFileSync(genModel, ["--preset", v.preset, "--type", "f32", "--n-layer", "1", "-o", p], { stdio: "pipe" });
    } catch (e) {
      process.stderr.write(String(e.stderr ?? ""));
      throw new Error(`${genModel} --preset ${v.preset} failed: ${e.message}`);
    }
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
