// `pocketlm list`: the models of the pocketlm store and, read in place, of the Ollama stores
// (~/.ollama/models or $OLLAMA_MODELS, then those inside proot-distro roots), as Ollama prints
// them (NAME, ID, SIZE, MODIFIED; newest first). A name held by several stores is listed once,
// from the store store::locate picks; when a proot-distro store contributes, a SOURCE column
// says where each model comes from.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "cli/verbs.h"
#include "store/format.h"
#include "store/store.h"

namespace pocketlm::cli {

namespace {

int run_list() {
  const auto mine = store::model_store::pocketlm_default();
  const auto ollama = store::model_store::ollama_default();
  const auto all = store::list_all(mine, ollama);
  const bool sources = std::any_of(all.begin(), all.end(), [](const auto& l) { return l.owned != nullptr; });
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SIZE", "MODIFIED"}};
  if (sources) rows[0].push_back("SOURCE");
  const int64_t now = std::time(nullptr);
  for (const auto& [where, e, owned] : all) {
    rows.push_back({e.name.display(), e.id.substr(0, 12), store::human_bytes(e.m.total_size()),
                    store::human_age(now - e.modified)});
    if (sources) rows.back().push_back(where->source());
  }
  std::fputs(store::format_table(rows).c_str(), stdout);
  return 0;
}

}  // namespace

void register_list(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("list", "List models (pocketlm's store, then Ollama's)");
  cmd->alias("ls");
  cmd->callback([&exit_code] { exit_code = run_list(); });
}

}  // namespace pocketlm::cli
