// `pocketlm embed -m MODEL TEXT...`: sentence embeddings of an embedding model (bert,
// nomic-bert, or any GGUF with <arch>.pooling_type), pooled as the GGUF says and L2-normalised,
// as `llama-embedding` (its default --embd-normalize 2) and Ollama's /api/embed return them.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/verbs.h"
#include "store/model_config.h"
#include "tokenizer/tokenizer.h"

namespace pocketlm::cli {
namespace {

struct embed_args {
  std::string model;
  std::vector<std::string> texts;
  bool json = false;
  int64_t n_ctx = 0;
  engine_flags engine;
};

int run_embed(embed_args& a) {
  if (a.texts.empty()) {  // like `echo TEXT | ollama run MODEL`: stdin is the one text
    a.texts.emplace_back(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto resolved = store::resolve_model(a.model);
  if (!resolved) return report(resolved.err());
  auto engine = engine_options(a.engine);
  if (!engine) return report(engine.err());
  model_options opt = std::move(*engine);
  opt.n_ctx = a.n_ctx;
  auto m = model::load(resolved->gguf_path, opt);
  if (!m) return report(m.err());
  if (!(*m)->is_embedding_model()) {
    return report(error{a.model + ": this model does not support embeddings (its GGUF has no pooling type)",
                        error_kind::unsupported});
  }
  auto tok = tokenizer::from_gguf((*m)->file());
  if (!tok) return report(tok.err());
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& text : a.texts) {
    // As llama-embedding and llama-server (Ollama) encode: the model's special tokens around the
    // text (BERT: [CLS] ... [SEP]), special-token text in it parsed.
    const std::vector<int32_t> ids = (*tok)->encode(text, /*add_special=*/true, /*parse_special=*/true);
    auto e = (*m)->embed(0, ids);
    if (!e) return report(e.err());
    if (a.json) {
      all.push_back(std::move(*e));
    } else {
      std::printf("%s\n", nlohmann::json(*e).dump().c_str());
    }
  }
  if (a.json) std::printf("%s\n", nlohmann::json{{"model", a.model}, {"embeddings", all}}.dump().c_str());
  return 0;
}

}  // namespace

void register_embed(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<embed_args>();
  auto* cmd = app.add_subcommand(
      "embed",
      "print the embedding of each TEXT (stdin when none): one JSON array of n_embd floats per line, unit length\n"
      "(L2-normalised, as llama-embedding and Ollama's /api/embed); --json prints /api/embed's\n"
      "{\"model\", \"embeddings\": [[...], ...]} instead. Needs an embedding model (bert, nomic-bert or a GGUF\n"
      "with <arch>.pooling_type): e.g. pocketlm embed -m nomic-embed-text.gguf \"search_query: why\" | jq length");
  cmd->add_option("-m,--model", args->model, "embedding model: a GGUF path or a store name")->required();
  cmd->add_option("text", args->texts, "texts to embed, one embedding each");
  cmd->add_flag("--json", args->json, "one JSON object with every embedding, shaped as /api/embed's answer");
  cmd->add_option("-c,--ctx-size", args->n_ctx, "context (tokens per text; 0: the model's, at most 4096)");
  add_engine_flags(cmd, args->engine);
  cmd->callback([args, &exit_code] { exit_code = run_embed(*args); });
}

}  // namespace pocketlm::cli
