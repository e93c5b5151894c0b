// `pocketlm create NAME -f Modelfile`: a model from a Modelfile (FROM, PARAMETER, SYSTEM,
// LICENSE; TEMPLATE is ignored with a note).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/progress.h"
#include "cli/verbs.h"
#include "store/create.h"
#include "store/fsutil.h"

namespace pocketlm::cli {

namespace {

struct create_args {
  std::string name;
  std::string modelfile = "Modelfile";
};

int run_create(const create_args& a) {
  auto n = store::parse_name(a.name);
  if (!n) return report(n.err());
  auto text = store::read_file(a.modelfile, 1 << 20);
  if (!text) return report(text.err());
  auto mf = store::parse_modelfile(*text);
  if (!mf) return report(mf.err());
  // A relative FROM path is relative to the Modelfile, as in Ollama.
  if (store::is_gguf_path(mf->from) && mf->from.front() != '/' && mf->from.front() != '~' &&
      a.modelfile.find('/') != std::string::npos) {
    mf->from = a.modelfile.substr(0, a.modelfile.rfind('/') + 1) + mf->from;
  }
  auto s = store::model_store::pocketlm_default();
  std::vector<std::string> notes;
  progress_bar bar(/*tty_only=*/true);
  auto m = store::create_model(s, store::model_store::ollama_default(), *mf, *n, notes,
                               [&](std::string_view what, int64_t done, int64_t total) {
                                 bar.update(std::string(what) + " " + mf->from, done, total);
                               });
  bar.finish();
  for (const auto& note : notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  if (!m) return report(m.err());
  std::printf("created %s\n", n->display().c_str());
  return 0;
}

}  // namespace

void register_create(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<create_args>();
  CLI::App* cmd = app.add_subcommand("create", "Create a model from a Modelfile");
  cmd->add_option("name", a->name, "model name")->required();
  cmd->add_option("-f,--file", a->modelfile, "Modelfile (default: ./Modelfile)");
  cmd->callback([a, &exit_code] { exit_code = run_create(*a); });
}

}  // namespace pocketlm::cli
