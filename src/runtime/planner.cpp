#include "runtime/planner.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "gguf/gguf.h"

namespace pocketlm {

namespace {

constexpr uint64_t k_mib = 1024ull * 1024;

// "g" -> 30 (bits of shift); -1 when the suffix is not a size unit.
int unit_shift(std::string unit) {
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'b') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'i') unit.pop_back();
  if (unit.empty() || unit == "b") return 0;
  static constexpr std::string_view k_units = "kmgt";
  const size_t i = unit.size() == 1 ? k_units.find(unit[0]) : std::string_view::npos;
  return i == std::string_view::npos ? -1 : 10 * static_cast<int>(i + 1);
}

token_traffic traffic_of(const gguf::file& f, uint64_t kv_bytes) {
  token_traffic t;
  const bool tied = f.find_tensor("output.weight") == nullptr;
  for (const auto& ti : f.tensors()) {
    if (ti.n_dims != 2) continue;
    const bool lookup_only = ti.name == "token_embd.weight" && !tied;  // one row per token
    t.weight_bytes += lookup_only ? ti.n_bytes / static_cast<uint64_t>(ti.ne[1]) : ti.n_bytes;
    if (lookup_only) continue;
    t.n_params += static_cast<uint64_t>(ti.n_elements());
    t.quantized = t.quantized || (ti.type != ggml_type::f32 && ti.type != ggml_type::f16 && ti.type != ggml_type::bf16);
  }
  t.kv_bytes = kv_bytes;
  return t;
}

}  // namespace

result<uint64_t> parse_size(const std::string& text) {
  const auto bad = [&] { return error{"'" + text + "' is not a size (e.g. 8G, 512M, 6GiB, 1.5G)"}; };
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return bad();
  }
  if (!std::isdigit(static_cast<unsigned char>(text[0])) && text[0] != '.') return bad();
  const int shift = unit_shift(text.substr(used));
  if (shift < 0 || !std::isfinite(v) || v <= 0) return bad();
  const double bytes = std::ldexp(v, shift);
  if (bytes < 1 || bytes > 1e18) return bad();
  return static_cast<uint64_t>(bytes);
}

result<uint64_t> read_mem_available(const std::string& meminfo_path) {
  std::ifstream in(meminfo_path);
  if (!in) return error{"cannot read " + meminfo_path};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    uint64_t kib = 0;
    std::string unit;
    if (fields >> kib >> unit && unit == "kB") return kib * 1024;
    break;
  }
  return error{meminfo_path + ": no 'MemAvailable: N kB' line"};
}

uint64_t budget_from_available(uint64_t mem_available) {
  return mem_available - std::min<uint64_t>(mem_available / 10, 512 * k_mib);
}

result<ram_budget> resolve_budget(const std::string& ram_flag, const std::string& meminfo_path) {
  if (!ram_flag.empty()) {
    auto n = parse_size(ram_flag);
    if (!n) return error{"--ram: " + n.error_message()};
    return ram_budget{*n, "--ram"};
  }
  auto avail = read_mem_available(meminfo_path);
  if (!avail) return error{avail.error_message() + " (give the budget with --ram SIZE)"};
  return ram_budget{budget_from_available(*avail), "MemAvailable - reserve"};
}

result<memory_plan> make_plan(const plan_request& req) {
  auto f = gguf::file::open(req.model_path);
  if (!f) return error{req.model_path + ": " + f.error_message()};
  auto hp = read_hparams(**f);
  if (!hp) return hp.err();
  if (auto ok = check_kv_type(*hp, req.kv); !ok) return error{ok.error_message()};

  memory_plan p;
  p.hp = *hp;
  p.shape = {req.n_ctx > 0 ? req.n_ctx : default_context(*hp), std::max<int64_t>(1, req.n_batch),
             std::max(1, req.n_threads), req.kv};
  p.shape.n_batch = std::min(p.shape.n_batch, p.shape.n_ctx);
  p.needs = estimate_memory(**f, *hp, p.shape);
  p.budget = req.budget;
  p.fits = p.needs.total() <= p.budget.bytes;
  const int64_t ctx_limit = std::max(hp->n_ctx_train, p.shape.n_ctx);
  p.max_ctx = largest_fitting_ctx(**f, *hp, p.shape, p.budget.bytes, ctx_limit);
  p.max_batch = largest_fitting_batch(**f, *hp, p.shape, p.budget.bytes);
  p.traffic = traffic_of(**f, p.needs.kv);
  return p;
}

}  // namespace pocketlm
