// pocketlm entry point: dispatches to the verb subcommands registered in verbs.h.
#include <cstdio>
#include <exception>

#include "cli/verbs.h"

int main(int argc, char** argv) {
  CLI::App app{"pocketlm: run GGUF language models on CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pocketlm 0.1.0");
  int exit_code = 0;
  pocketlm::cli::register_eval(app, exit_code);
  pocketlm::cli::register_quantize(app, exit_code);
  pocketlm::cli::register_tokenize(app, exit_code);
  pocketlm::cli::register_detokenize(app, exit_code);
  pocketlm::cli::register_embed(app, exit_code);
  pocketlm::cli::register_run(app, exit_code);
  pocketlm::cli::register_plan(app, exit_code);
  pocketlm::cli::register_devices(app, exit_code);
#ifndef POCKETLM_NO_HTTP  // static builds have no HTTP client
  pocketlm::cli::register_pull(app, exit_code);
  pocketlm::cli::register_push(app, exit_code);
#endif
  pocketlm::cli::register_import(app, exit_code);
  pocketlm::cli::register_create(app, exit_code);
  pocketlm::cli::register_list(app, exit_code);
  pocketlm::cli::register_show(app, exit_code);
  pocketlm::cli::register_rm(app, exit_code);
  pocketlm::cli::register_cp(app, exit_code);
  pocketlm::cli::register_export(app, exit_code);
#ifndef POCKETLM_NO_HTTP
  pocketlm::cli::register_ps(app, exit_code);
  pocketlm::cli::register_serve(app, exit_code);
#endif
  pocketlm::cli::register_bench(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
