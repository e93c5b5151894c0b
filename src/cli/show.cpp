// `pocketlm show NAME`: architecture, parameter count, quantization, context length, chat
// template family, parameters, system prompt and license of a stored model (or a .gguf path).
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "chat/chat.h"
#include "cli/verbs.h"
#include "gguf/gguf.h"
#include "store/format.h"
#include "store/model_config.h"

namespace pocketlm::cli {

namespace {

// llama.cpp's llama_ftype ids (general.file_type) as Ollama prints them.
std::string file_type_name(uint32_t ft) {
  static const std::map<uint32_t, const char*> names = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {32, "BF16"}};
  const auto it = names.find(ft);
  return it == names.end() ? "file type " + std::to_string(ft) : it->second;
}

// Without general.file_type: the type holding most of the weight bytes.
std::string quantization(const gguf::file& f) {
  if (const auto ft = f.get_u32("general.file_type")) return file_type_name(*ft);
  std::map<std::string, uint64_t> bytes;
  for (const auto& t : f.tensors()) bytes[std::string(type_traits(t.type).name)] += t.n_bytes;
  std::string best = "unknown";
  uint64_t most = 0;
  for (const auto& [name, n] : bytes) {
    if (n > most) best = name, most = n;
  }
  for (auto& c : best) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return best;
}

std::string template_family(const gguf::file& f, bool has_go_template) {
  const auto src = f.get_string("tokenizer.chat_template");
  std::string out;
  if (!src) {
    out = "none in the GGUF (raw prompts)";
  } else {
    auto t = chat::chat_template::parse(*src, "the GGUF");
    out = t ? "the GGUF's Jinja template (" + std::to_string(src->size()) + " bytes" +
                  ((*t)->reasoning() ? ", reasoning" : "") + "; see show --template)"
            : "does not parse, the built-in chatml is used: " + t.error_message();
  }
  for (const auto& kv : f.metadata()) {
    if (kv.key.starts_with("tokenizer.chat_template.")) out += "; also " + kv.key.substr(24);
  }
  if (has_go_template) out += "; the model's Go template is ignored in favour of the GGUF's chat template";
  return out;
}

void print_section(const char* title, const std::vector<std::vector<std::string>>& rows) {
  std::printf("  %s\n", title);
  const std::string table = store::format_table(rows);
  for (size_t pos = 0; pos < table.size();) {
    const size_t nl = table.find('\n', pos);
    std::printf("    %s\n", table.substr(pos, nl - pos).c_str());
    pos = nl + 1;
  }
  std::printf("\n");
}

void print_text(const char* title, const std::string& text, int max_lines) {
  std::printf("  %s\n", title);
  size_t pos = 0;
  for (int i = 0; i < max_lines && pos < text.size(); ++i) {
    const size_t nl = text.find('\n', pos);
    std::printf("    %s\n", text.substr(pos, nl - pos).c_str());
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  if (pos < text.size()) std::printf("    ...\n");
  std::printf("\n");
}

// show --template: the template text as the GGUF carries it (named ones follow, headed).
int print_template(const gguf::file& f) {
  const auto src = f.get_string("tokenizer.chat_template");
  if (!src)
    std::fprintf(stderr, "note: the GGUF has no chat template (prompts are plain text)\n");
  else
    std::fwrite(src->data(), 1, src->size(), stdout);
  for (const auto& kv : f.metadata()) {
    if (!kv.key.starts_with("tokenizer.chat_template.")) continue;
    const auto named = f.get_string(kv.key);
    if (!named) continue;
    std::printf("\n\n{# ---- %s ---- #}\n", kv.key.c_str());
    std::fwrite(named->data(), 1, named->size(), stdout);
  }
  if (src && !src->ends_with('\n')) std::printf("\n");
  return 0;
}

int run_show(const std::string& name, bool template_only) {
  auto r = store::resolve_model(name);
  if (!r) return report(r.err());
  auto f = gguf::file::open(r->gguf_path);
  if (!f) return std::fprintf(stderr, "error: %s: %s\n", r->gguf_path.c_str(), f.error_message().c_str()), 1;
  if (template_only) return print_template(**f);
  const std::string arch = (*f)->get_string("general.architecture").value_or("unknown");
  uint64_t n_params = 0;
  for (const auto& t : (*f)->tensors()) n_params += static_cast<uint64_t>(t.n_elements());
  std::vector<std::vector<std::string>> model{{"architecture", arch}, {"parameters", store::human_count(n_params)}};
  if (const auto ctx = (*f)->get_u32(arch + ".context_length"))
    model.push_back({"context length", std::to_string(*ctx)});
  if (const auto emb = (*f)->get_u32(arch + ".embedding_length"))
    model.push_back({"embedding length", std::to_string(*emb)});
  model.push_back({"quantization", quantization(**f)});
  model.push_back({"chat template", template_family(**f, r->has_go_template)});
  print_section("Model", model);
  if (!r->params.json.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [key, v] : r->params.json.items()) {
      if (!v.is_array()) rows.push_back({key, v.dump()});
      for (const auto& item : v.is_array() ? v : nlohmann::ordered_json::array()) rows.push_back({key, item.dump()});
    }
    print_section("Parameters", rows);
  }
  if (!r->system.empty()) print_text("System", r->system, 10);
  for (const auto& lic : r->licenses) print_text("License", lic, 10);
  return 0;
}

}  // namespace

void register_show(CLI::App& app, int& exit_code) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("show", "Show a model's details, parameters and license");
  auto template_only = std::make_shared<bool>(false);
  cmd->add_option("name", *name, "model name or .gguf path")->required();
  cmd->add_flag("--template", *template_only, "print the model's chat template (Jinja text)");
  cmd->callback([name, template_only, &exit_code] { exit_code = run_show(*name, *template_only); });
}

}  // namespace pocketlm::cli
