// `pocketlm eval`: runs token ids through the model and reports logits, for differential tests
// against llama.cpp and for checking a model file by hand.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "cli/verbs.h"
#include "model/model.h"

namespace pocketlm::cli {

namespace {

struct eval_args {
  std::string model_path;
  std::string tokens;
  std::string logits_out;
  bool all = false;
  bool decode = false;
  engine_flags engine;
  int64_t n_ctx = 0;
  int n_generate = 0;
  std::string rope_override;
  int64_t window_override = -1;
  float softcap_override = -1.0f;
};

result<std::vector<int32_t>> parse_tokens(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(',', i);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(i, end - i);
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return error{"--tokens: '" + item + "' is not a token id"};
    }
    i = end + 1;
  }
  if (ids.empty()) return error{"--tokens: no token ids given"};
  return ids;
}

int32_t argmax(const float* logits, int64_t n) {
  return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

nlohmann::json top_k(const float* logits, int64_t n, int k) {
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  k = static_cast<int>(std::min<int64_t>(k, n));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < k; ++i) out.push_back({idx[i], logits[idx[i]]});
  return out;
}

// Evaluates the prompt in one batch or token by token; returns the kept logits.
result<std::vector<float>> run_prompt(model& m, const std::vector<int32_t>& ids, bool all, bool decode) {
  if (!decode) return m.eval(ids, all);
  std::vector<float> kept;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto r = m.eval({ids[i]}, false);
    if (!r) return r.err();
    if (all || i + 1 == ids.size()) kept.insert(kept.end(), r->begin(), r->end());
  }
  return kept;
}

int run_eval(const eval_args& a) {
  using clock = std::chrono::steady_clock;
  auto ids = parse_tokens(a.tokens);
  if (!ids) return report(ids.err());
  auto engine = engine_options(a.engine);
  if (!engine) return report(engine.err());
  model_options opt = std::move(*engine);
  opt.n_ctx = a.n_ctx;
  if (!a.rope_override.empty()) {
    opt.override_rope = true;
    opt.rope_override = a.rope_override == "neox" ? kernels::rope_mode::neox : kernels::rope_mode::normal;
  }
  opt.window_override = a.window_override;
  opt.attn_softcap_override = a.softcap_override;
  const auto t0 = clock::now();
  auto m = model::load(a.model_path, opt);
  if (!m) return report(m.err());
  if (!(*m)->load_notice().empty()) std::fprintf(stderr, "note: %s\n", (*m)->load_notice().c_str());
  const auto t1 = clock::now();
  auto logits = run_prompt(**m, *ids, a.all, a.decode);
  if (!logits) return report(logits.err());
  const auto t2 = clock::now();
  const int64_t n_vocab = (*m)->params().n_vocab;
  const float* last = logits->data() + logits->size() - n_vocab;

  nlohmann::json out;
  out["argmax"] = argmax(last, n_vocab);
  out["top"] = top_k(last, n_vocab, 10);
  out["n_tokens"] = ids->size();
  if (a.n_generate > 0) {
    std::vector<int32_t> gen{argmax(last, n_vocab)};
    while (static_cast<int>(gen.size()) < a.n_generate) {
      auto next = (*m)->eval({gen.back()}, false);
      if (!next) return report(next.err());
      gen.push_back(argmax(next->data(), n_vocab));
    }
    out["generated"] = gen;
  }
  const auto t3 = clock::now();
  if (!a.logits_out.empty()) {
    std::ofstream f(a.logits_out, std::ios::binary);
    f.write(reinterpret_cast<const char*>(logits->data()),
            static_cast<std::streamsize>(logits->size() * sizeof(float)));
    if (!f) return std::fprintf(stderr, "error: cannot write %s\n", a.logits_out.c_str()), 1;
  }
  std::printf("%s\n", out.dump().c_str());
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::fprintf(stderr, "load %.1f ms | prompt %zu tokens in %.1f ms (%.1f tok/s)", ms(t1 - t0), ids->size(),
               ms(t2 - t1), 1000.0 * static_cast<double>(ids->size()) / ms(t2 - t1));
  if (a.n_generate > 0) {
    std::fprintf(stderr, " | generated %d tokens in %.1f ms (%.1f tok/s)", a.n_generate, ms(t3 - t2),
                 1000.0 * a.n_generate / ms(t3 - t2));
  }
  std::fprintf(stderr, "\n");
  return 0;
}

}  // namespace

void register_eval(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<eval_args>();
  CLI::App* cmd = app.add_subcommand("eval", "Run token ids through a model and print logits");
  cmd->add_option("-m,--model", args->model_path, "GGUF model file")->required();
  cmd->add_option("--tokens", args->tokens, "comma-separated token ids")->required();
  cmd->add_option("--logits-out", args->logits_out, "write logits as little-endian float32");
  cmd->add_flag("--all", args->all, "keep every position's logits, not only the last");
  cmd->add_flag("--decode", args->decode, "evaluate one token at a time instead of one batch");
  add_engine_flags(cmd, args->engine);
  cmd->add_option("-c,--ctx-size", args->n_ctx, "context size (default: min(train, 4096))")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("--generate", args->n_generate, "greedily generate N tokens after the prompt")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--rope-override", args->rope_override, "test hook: force a RoPE variant")
      ->check(CLI::IsMember({"normal", "neox"}));
  cmd->add_option("--window-override", args->window_override,
                  "test hook: force the sliding window of a model that has one (0: none)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--softcap-override", args->softcap_override,
                  "test hook: force the attention logit soft-cap (0: none)")
      ->check(CLI::Range(0.0f, 1e6f));
  cmd->callback([args, &exit_code] { exit_code = run_eval(*args); });
}

}  // namespace pocketlm::cli
