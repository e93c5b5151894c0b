// cli/: owns the `pocketlm` command line: one file per verb, each registering a CLI11 subcommand.
// May call every layer below (runtime, model, ...); nothing calls cli.
#pragma once

#include <CLI/CLI.hpp>

namespace pocketlm::cli {

// Each verb adds its subcommand and sets its callback; the callback's return code is stored in
// `exit_code`. Errors are printed as one line "error: ..." on stderr.
void register_eval(CLI::App& app, int& exit_code);
void register_quantize(CLI::App& app, int& exit_code);
void register_tokenize(CLI::App& app, int& exit_code);
void register_detokenize(CLI::App& app, int& exit_code);
void register_run(CLI::App& app, int& exit_code);

}  // namespace pocketlm::cli
