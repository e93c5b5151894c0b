// `pocketlm import FILE.gguf NAME`: add a copy of a GGUF to the store under a name (a reflink
// where the file system can), without touching the original; the store's copy is read-only, so
// later changes to the original never reach it.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/progress.h"
#include "cli/verbs.h"
#include "store/create.h"

namespace pocketlm::cli {

namespace {

struct import_args {
  std::string file;
  std::string name;
  bool copy = false;  // accepted for old scripts: import always copies
};

int run_import(const import_args& a) {
  auto n = store::parse_name(a.name);
  if (!n) return report(n.err());
  auto s = store::model_store::pocketlm_default();
  progress_bar bar(/*tty_only=*/true);
  auto m = store::import_gguf(s, a.file, *n, [&](std::string_view what, int64_t done, int64_t total) {
    bar.update(std::string(what) + " " + a.file, done, total);
  });
  bar.finish();
  if (!m) return report(m.err());
  std::printf("imported %s as %s\n", a.file.c_str(), n->display().c_str());
  return 0;
}

}  // namespace

void register_import(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<import_args>();
  CLI::App* cmd = app.add_subcommand("import", "Add a GGUF file to the model store under a name");
  cmd->add_option("file", a->file, "GGUF file")->required();
  cmd->add_option("name", a->name, "model name, e.g. mymodel:latest")->required();
  cmd->add_flag("--copy", a->copy, "no effect: import always copies (or reflinks); kept for scripts");
  cmd->callback([a, &exit_code] { exit_code = run_import(*a); });
}

}  // namespace pocketlm::cli
