// `pocketlm import FILE.gguf NAME`: add a GGUF to the store under a name (hard link when the
// store is on the same file system, else a copy), without touching the original.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/verbs.h"
#include "store/create.h"

namespace pocketlm::cli {

namespace {

struct import_args {
  std::string file;
  std::string name;
  bool copy = false;
};

int run_import(const import_args& a) {
  auto n = store::parse_name(a.name);
  if (!n) return std::fprintf(stderr, "error: %s\n", n.error_message().c_str()), 1;
  auto s = store::model_store::pocketlm_default();
  auto m = store::import_gguf(s, a.file, *n, a.copy);
  if (!m) return std::fprintf(stderr, "error: %s\n", m.error_message().c_str()), 1;
  std::printf("imported %s as %s\n", a.file.c_str(), n->display().c_str());
  return 0;
}

}  // namespace

void register_import(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<import_args>();
  CLI::App* cmd = app.add_subcommand("import", "Add a GGUF file to the model store under a name");
  cmd->add_option("file", a->file, "GGUF file")->required();
  cmd->add_option("name", a->name, "model name, e.g. mymodel:latest")->required();
  cmd->add_flag("--copy", a->copy, "copy the bytes even where a hard link would do");
  cmd->callback([a, &exit_code] { exit_code = run_import(*a); });
}

}  // namespace pocketlm::cli
