// `pocketlm export NAME FILE.gguf`: write a stored model's GGUF out as an ordinary file.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/verbs.h"
#include "store/model_config.h"

namespace pocketlm::cli {

namespace {

int run_export(const std::string& name, const std::string& out) {
  auto r = store::resolve_model(name);
  if (!r) return report(r.err());
  // Copy beside the destination, then rename: a failed export never leaves a truncated file.
  const std::string tmp = out + ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::copy_file(r->gguf_path, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (!ec) std::filesystem::rename(tmp, out, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    const bool full = ec == std::errc::no_space_on_device || ec == std::errc::file_too_large;
    return report({"cannot write " + out + ": " + ec.message(), full ? error_kind::exhausted : error_kind::io});
  }
  std::printf("exported %s to %s\n", r->display_name.c_str(), out.c_str());
  return 0;
}

}  // namespace

void register_export(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = app.add_subcommand("export", "Write a model's GGUF to a file");
  cmd->add_option("name", args->first, "model name")->required();
  cmd->add_option("file", args->second, "output .gguf path")->required();
  cmd->callback([args, &exit_code] { exit_code = run_export(args->first, args->second); });
}

}  // namespace pocketlm::cli
