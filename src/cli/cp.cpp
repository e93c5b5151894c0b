// `pocketlm cp SRC DST`: a second name for a model (same manifest bytes, so the same ID). A
// source in Ollama's store has its blobs hard-linked (else copied) into pocketlm's.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/verbs.h"
#include "store/store.h"

namespace pocketlm::cli {

namespace {

int run_cp(const std::string& src, const std::string& dst) {
  auto from = store::parse_name(src);
  if (!from) return report(from.err());
  auto to = store::parse_name(dst);
  if (!to) return report(to.err());
  auto mine = store::model_store::pocketlm_default();
  const auto ollama = store::model_store::ollama_default();
  auto loc = store::locate(*from, mine, ollama);
  if (!loc) return report(loc.err());
  if (auto st = mine.copy_from(*loc->where, *from, *to); !st) return report(st.err());
  std::printf("copied '%s' to '%s'\n", from->display().c_str(), to->display().c_str());
  return 0;
}

}  // namespace

void register_cp(CLI::App& app, int& exit_code) {
  auto names = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = app.add_subcommand("cp", "Copy a model to a new name");
  cmd->add_option("source", names->first, "existing model")->required();
  cmd->add_option("destination", names->second, "new name")->required();
  cmd->callback([names, &exit_code] { exit_code = run_cp(names->first, names->second); });
}

}  // namespace pocketlm::cli
