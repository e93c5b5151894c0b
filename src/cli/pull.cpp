// `pocketlm pull NAME`: download a model from an Ollama-compatible registry into the store,
// with a progress bar (percent, bytes, rate, ETA) on stderr.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/progress.h"
#include "cli/verbs.h"
#include "store/format.h"
#include "store/registry.h"

namespace pocketlm::cli {

namespace {

int run_pull(const std::string& name) {
  auto n = store::parse_name(name);
  if (!n) return report(n.err());
  auto s = store::model_store::pocketlm_default();
  progress_bar bar;
  store::pull_events ev;
  ev.on_status = [&](std::string_view m) {
    bar.finish(), std::fprintf(stderr, "%.*s\n", static_cast<int>(m.size()), m.data());
  };
  ev.on_progress = [&](const std::string& hex, int64_t done, int64_t total) {
    bar.update("pulling " + hex.substr(0, 12), done, total);
  };
  const auto st = store::pull(s, *n, ev);
  bar.finish();
  if (!st) return report(st.err());
  std::fprintf(stderr, "success\n");
  return 0;
}

}  // namespace

void register_pull(CLI::App& app, int& exit_code) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "pull", "Download a model from a registry (those in $POCKETLM_REGISTRY; default registry.ollama.ai,hf.co)");
  cmd->add_option("name", *name, "model name, e.g. qwen2.5:0.5b")->required();
  cmd->callback([name, &exit_code] { exit_code = run_pull(*name); });
}

}  // namespace pocketlm::cli
