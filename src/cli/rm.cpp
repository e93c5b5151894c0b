// `pocketlm rm NAME...`: delete models from the pocketlm store; a blob goes only when no other
// manifest still references it. Models in Ollama's store are never touched.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/verbs.h"
#include "store/store.h"

namespace pocketlm::cli {

namespace {

int remove_one(store::model_store& s, const std::string& name) {
  auto n = store::parse_name(name);
  if (!n) return report(n.err());
  if (!s.contains(*n)) {
    const auto ollama = store::model_store::ollama_default();
    if (ollama && ollama->contains(*n)) {
      std::fprintf(stderr, "error: '%s' is in Ollama's store (%s); pocketlm only reads it (use `ollama rm`)\n",
                   n->display().c_str(), ollama->root().c_str());
    } else {
      std::fprintf(stderr, "error: model '%s' not found\n", n->display().c_str());
    }
    return 1;
  }
  if (auto st = s.remove(*n); !st) return report(st.err());
  std::printf("deleted '%s'\n", n->display().c_str());
  return 0;
}

}  // namespace

void register_rm(CLI::App& app, int& exit_code) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("rm", "Remove models from the store");
  cmd->add_option("names", *names, "model names")->required();
  cmd->callback([names, &exit_code] {
    auto s = store::model_store::pocketlm_default();
    exit_code = 0;
    for (const auto& n : *names) exit_code |= remove_one(s, n);
  });
}

}  // namespace pocketlm::cli
