// cli/: owns the `pocketlm` command line: one file per verb, each registering a CLI11 subcommand.
// May call every layer below (runtime, model, ...); nothing calls cli.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/result.h"
#include "model/model.h"

namespace pocketlm::cli {

// Each verb adds its subcommand and sets its callback; the callback's return code is stored in
// `exit_code`. Errors are printed as one line "error: ..." on stderr.

// The exit code of a failure of this kind: the one place where codes come from kinds.
// 1 internal or I/O, 2 invalid input, 3 not found, 4 unsupported, 5 exhausted (memory, disk),
// 130 cancelled.
int exit_code_of(error_kind kind);
// Prints "error: MESSAGE" on stderr; returns exit_code_of(e.kind).
int report(const error& e);
void register_eval(CLI::App& app, int& exit_code);
void register_quantize(CLI::App& app, int& exit_code);
void register_tokenize(CLI::App& app, int& exit_code);
void register_detokenize(CLI::App& app, int& exit_code);
void register_embed(CLI::App& app, int& exit_code);
void register_run(CLI::App& app, int& exit_code);
void register_plan(CLI::App& app, int& exit_code);
void register_devices(CLI::App& app, int& exit_code);

// Flags shared by the verbs that load a model: -t, --cpu-mask, --ram, --kv-type.
struct engine_flags {
  int n_threads = 0;  // 0: the performance cores (or the --cpu-mask CPUs)
  std::string cpu_mask;
  std::string ram;  // empty: MemAvailable minus a reserve
  std::string kv_type = "f16";
};
void add_engine_flags(CLI::App* cmd, engine_flags& f);
// Threads, pinning, RAM budget and KV type for model::load; errors name the bad flag.
result<model_options> engine_options(const engine_flags& f);

// Model store verbs (store/): pull, push, import, create, list, show, rm, cp, export, ps.
void register_pull(CLI::App& app, int& exit_code);
void register_push(CLI::App& app, int& exit_code);  // only in builds with HTTP, as pull
void register_import(CLI::App& app, int& exit_code);
void register_create(CLI::App& app, int& exit_code);
void register_list(CLI::App& app, int& exit_code);
void register_show(CLI::App& app, int& exit_code);
void register_rm(CLI::App& app, int& exit_code);
void register_cp(CLI::App& app, int& exit_code);
void register_export(CLI::App& app, int& exit_code);
void register_ps(CLI::App& app, int& exit_code);
void register_bench(CLI::App& app, int& exit_code);
// `pocketlm serve` (server/): only in builds with HTTP.
void register_serve(CLI::App& app, int& exit_code);

}  // namespace pocketlm::cli
