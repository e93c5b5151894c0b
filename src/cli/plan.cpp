// `pocketlm plan`: what a model needs in RAM at a context (the numbers model::load checks), the
// largest context and prefill chunk that fit a budget, and with --device the speed ceilings and
// phone fit on a chip from the devices table. Also the engine flags shared with eval and run.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/verbs.h"
#include "kernels/cpu_topology.h"
#include "runtime/devices.h"
#include "runtime/planner.h"

namespace pocketlm::cli {

namespace {

constexpr int k_phone_ram_gb[] = {8, 12, 16};

struct plan_args {
  std::string model_path;
  std::string ram;
  std::string device;
  int64_t n_ctx = 0;
  int64_t n_batch = 512;
  int n_threads = 0;
  std::string kv_type = "f16";
  std::string output = "text";
};

kv_type parse_kv(const std::string& s) { return s == "q8_0" ? kv_type::q8_0 : kv_type::f16; }

nlohmann::json device_json(const device_spec& d, const memory_plan& p) {
  const token_traffic& t = p.traffic;
  const device_projection pr = project(d, t.weight_bytes + t.kv_bytes, t.n_params, t.quantized);
  nlohmann::json phones = nlohmann::json::array();
  for (int gb : k_phone_ram_gb) {
    const uint64_t usable = usable_ram(device_kind::phone, gb);
    phones.push_back({{"ram_gb", gb}, {"usable", usable}, {"fits", p.needs.total() <= usable}});
  }
  return {{"name", d.name},
          {"bytes_per_token", t.weight_bytes + t.kv_bytes},
          {"decode_tokens_per_s", pr.decode_tokens_per_s},
          {"prefill_tokens_per_s", pr.prefill_tokens_per_s},
          {"prefill_basis", pr.prefill_basis},
          {"phones", phones},
          {"phone_os_share", os_share(device_kind::phone)}};
}

nlohmann::json plan_json(const memory_plan& p, const device_spec* d) {
  const memory_needs& n = p.needs;
  nlohmann::json j = {{"n_ctx", p.shape.n_ctx},
                      {"n_batch", p.shape.n_batch},
                      {"n_threads", p.shape.n_threads},
                      {"kv_type", p.shape.kv == kv_type::q8_0 ? "q8_0" : "f16"},
                      {"weights", n.weights},
                      {"metadata", n.metadata},
                      {"kv", n.kv},
                      {"compute", n.compute},
                      {"overhead", n.overhead},
                      {"total", n.total()},
                      {"budget", p.budget.bytes},
                      {"budget_source", p.budget.source},
                      {"fits", p.fits},
                      {"max_ctx", p.max_ctx},
                      {"n_ctx_train", p.hp.n_ctx_train},
                      {"max_batch", p.max_batch},
                      {"n_params", p.traffic.n_params}};
  if (d != nullptr) j["device"] = device_json(*d, p);
  return j;
}

void print_device(const device_spec& d, const memory_plan& p) {
  const token_traffic& t = p.traffic;
  const uint64_t per_token = t.weight_bytes + t.kv_bytes;
  const device_projection pr = project(d, per_token, t.n_params, t.quantized);
  std::printf("\n%s: %.1f GB/s, NPU %g INT8 TOPS, GPU %g FP16 TFLOPS, RAM %d-%d GB, CPU %s\n",
              std::string(d.name).c_str(), d.mem_bw_gbs, d.npu_int8_tops, d.gpu_fp16_tflops, d.ram_gb_min, d.ram_gb_max,
              std::string(d.cpu_layout).c_str());
  std::printf("  decode ceiling   %8.1f tokens/s  (%s read per token: weights %s + KV %s at -c %lld)\n",
              pr.decode_tokens_per_s, format_bytes(per_token).c_str(), format_bytes(t.weight_bytes).c_str(),
              format_bytes(t.kv_bytes).c_str(), static_cast<long long>(p.shape.n_ctx));
  std::printf("  prefill ceiling  %8.1f tokens/s  (2 x %.1fM params FLOPs per token on the %s)\n",
              pr.prefill_tokens_per_s, static_cast<double>(t.n_params) / 1e6, pr.prefill_basis.c_str());
  for (int gb : k_phone_ram_gb) {
    const uint64_t usable = usable_ram(device_kind::phone, gb);
    std::printf("  %2d GB phone      %s (usable %s after the OS's %.0f%%)\n", gb,
                p.needs.total() <= usable ? "fits" : "does not fit", format_bytes(usable).c_str(),
                100 * os_share(device_kind::phone));
  }
}

void print_plan(const memory_plan& p) {
  const memory_needs& n = p.needs;
  std::printf("context %lld, prefill chunk %lld, %d threads, KV %s\n", static_cast<long long>(p.shape.n_ctx),
              static_cast<long long>(p.shape.n_batch), p.shape.n_threads, p.shape.kv == kv_type::q8_0 ? "q8_0" : "f16");
  const auto row = [](const char* name, uint64_t b) {
    std::printf("  %-10s %12s  %14llu B\n", name, format_bytes(b).c_str(), static_cast<unsigned long long>(b));
  };
  row("weights", n.weights);
  row("metadata", n.metadata);
  row("KV cache", n.kv);
  row("compute", n.compute);
  row("runtime", n.overhead);
  row("total", n.total());
  std::printf("budget %s (%s): %s\n", format_bytes(p.budget.bytes).c_str(), p.budget.source.c_str(),
              p.fits ? "fits" : "does NOT fit");
  std::printf("largest context that fits: %lld (trained: %lld)\n", static_cast<long long>(p.max_ctx),
              static_cast<long long>(p.hp.n_ctx_train));
  std::printf("largest prefill chunk that fits at -c %lld: %lld\n", static_cast<long long>(p.shape.n_ctx),
              static_cast<long long>(p.max_batch));
}

int run_plan(const plan_args& a) {
  const device_spec* dev = nullptr;
  if (!a.device.empty() && (dev = find_device(a.device)) == nullptr) {
    std::fprintf(stderr, "error: --device: unknown '%s' (known: %s)\n", a.device.c_str(), device_names().c_str());
    return 1;
  }
  plan_request req{a.model_path,        a.n_ctx,
                   a.n_batch,           a.n_threads > 0 ? a.n_threads : kernels::default_thread_count(),
                   parse_kv(a.kv_type), {}};
  if (dev != nullptr) {  // --device excludes --ram
    req.budget = {usable_ram(dev->kind, dev->ram_gb_min),
                  std::string(dev->name) + " " + std::to_string(dev->ram_gb_min) + " GB - OS share"};
  } else {
    auto b = resolve_budget(a.ram);
    if (!b) return report(b.err());
    req.budget = *b;
  }
  auto p = make_plan(req);
  if (!p) return report(p.err());
  if (a.output == "json") {
    std::printf("%s\n", plan_json(*p, dev).dump(2).c_str());
    return 0;
  }
  print_plan(*p);
  if (dev != nullptr) print_device(*dev, *p);
  return 0;
}

}  // namespace

void add_engine_flags(CLI::App* cmd, engine_flags& f) {
  cmd->add_option("-t,--threads", f.n_threads, "threads (default: the performance cores)")->check(CLI::Range(1, 256));
  cmd->add_option("--cpu-mask", f.cpu_mask, "hex mask of CPUs to pin worker threads to (e.g. 0xf0)");
  cmd->add_option("--ram", f.ram, "RAM budget, e.g. 6G (default: MemAvailable minus a reserve)");
  cmd->add_option("--kv-type", f.kv_type, "KV cache type")->check(CLI::IsMember({"f16", "q8_0"}));
}

result<model_options> engine_options(const engine_flags& f) {
  model_options opt;
  if (!f.cpu_mask.empty()) {
    auto cpus = kernels::parse_cpu_mask(f.cpu_mask);
    if (!cpus) return cpus.err();
    opt.cpus = std::move(*cpus);
  }
  opt.n_threads = f.n_threads > 0     ? f.n_threads
                  : !opt.cpus.empty() ? static_cast<int>(opt.cpus.size())
                                      : kernels::default_thread_count();
  auto budget = resolve_budget(f.ram);
  if (!budget) return budget.err();
  opt.ram_budget = budget->bytes;
  opt.budget_source = budget->source;
  opt.kv = parse_kv(f.kv_type);
  return opt;
}

void register_plan(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<plan_args>();
  CLI::App* cmd = app.add_subcommand("plan", "Show the RAM a model needs and what fits a budget");
  cmd->add_option("-m,--model", a->model_path, "GGUF model file")->required();
  auto* ram = cmd->add_option("--ram", a->ram, "RAM budget, e.g. 8G, 512M, 6GiB");
  cmd->add_option("--device", a->device, "device from `pocketlm devices`: ceilings, phone fit")->excludes(ram);
  cmd->add_option("-c,--ctx-size", a->n_ctx, "context size (default: min(train, 4096))")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("-b,--batch-size", a->n_batch, "prefill chunk")->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("-t,--threads", a->n_threads, "threads (default: the performance cores)")->check(CLI::Range(1, 256));
  cmd->add_option("--kv-type", a->kv_type, "KV cache type")->check(CLI::IsMember({"f16", "q8_0"}));
  cmd->add_option("-o,--output", a->output, "text or json")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([a, &exit_code] { exit_code = run_plan(*a); });
}

}  // namespace pocketlm::cli
