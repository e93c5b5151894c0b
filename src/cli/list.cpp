// `pocketlm list`: the models of the pocketlm store and, read in place, of an Ollama store,
// as Ollama prints them (NAME, ID, SIZE, MODIFIED; newest first).
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
  std::vector<store::store_entry> all = mine.list();
  if (ollama) {
    for (auto& e : ollama->list()) {
      // A pocketlm model of the same name shadows Ollama's (names resolve to ours first).
      if (!mine.contains(e.name)) all.push_back(std::move(e));
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.modified > b.modified; });
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SIZE", "MODIFIED"}};
  const int64_t now = std::time(nullptr);
  for (const auto& e : all) {
    rows.push_back({e.name.display(), e.id.substr(0, 12), store::human_bytes(e.m.total_size()),
                    store::human_age(now - e.modified)});
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
