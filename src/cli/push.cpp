// `pocketlm push NAME`: upload a store model to its registry (the name's host, one of those in
// $POCKETLM_REGISTRY), with a progress bar per blob on stderr.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/progress.h"
#include "cli/verbs.h"
#include "store/registry.h"

namespace pocketlm::cli {

namespace {

int run_push(const std::string& name) {
  auto n = store::parse_name(name);
  if (!n) return report(n.err());
  const auto mine = store::model_store::pocketlm_default();
  progress_bar bar;
  store::push_events ev;
  ev.on_status = [&](std::string_view m) {
    bar.finish(), std::fprintf(stderr, "%.*s\n", static_cast<int>(m.size()), m.data());
  };
  ev.on_progress = [&](const std::string& hex, int64_t done, int64_t total) {
    bar.update("pushing " + hex.substr(0, 12), done, total);
  };
  const auto st = store::push(mine, store::model_store::ollama_default(), *n, ev);
  bar.finish();
  if (!st) return report(st.err());
  std::fprintf(stderr, "success\n");
  return 0;
}

}  // namespace

void register_push(CLI::App& app, int& exit_code) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "push",
      "Upload a model to its registry (the name's host, one of those in $POCKETLM_REGISTRY; no authentication)");
  cmd->add_option("name", *name, "model name with its registry, e.g. localhost:5000/team/model:tag")->required();
  cmd->callback([name, &exit_code] { exit_code = run_push(*name); });
}

}  // namespace pocketlm::cli
