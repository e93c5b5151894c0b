// `pocketlm tokenize` / `pocketlm detokenize`: text <-> token ids with a model's vocabulary.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include "cli/verbs.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace pocketlm::cli {
namespace {

struct tokenize_options {
  std::string model, prompt, file;
  bool no_parse_special = false, no_bos = false;
};

result<std::unique_ptr<tokenizer>> open_tokenizer(const std::string& path, std::unique_ptr<gguf::file>& keep) {
  auto f = gguf::file::open(path);
  if (!f) return error{path + ": " + f.error_message()};
  keep = std::move(*f);
  auto t = tokenizer::from_gguf(*keep);
  if (!t) return error{path + ": " + t.error_message()};
  return t;
}

int run_tokenize(const tokenize_options& o) {
  std::string text = o.prompt;
  if (!o.file.empty()) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: cannot read %s\n", o.file.c_str());
      return 1;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::unique_ptr<gguf::file> f;
  auto t = open_tokenizer(o.model, f);
  if (!t) {
    std::fprintf(stderr, "error: %s\n", t.error_message().c_str());
    return 1;
  }
  const auto ids = (*t)->encode(text, !o.no_bos, !o.no_parse_special);
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  std::printf("%s]\n", out.c_str());
  return 0;
}

int run_detokenize(const std::string& model, const std::string& list) {
  std::vector<int32_t> ids;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      size_t used = 0;
      ids.push_back(std::stoi(item, &used));
      if (item.find_first_not_of(" \t", used) != std::string::npos) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      std::fprintf(stderr, "error: --tokens: '%s' is not a token id\n", item.c_str());
      return 1;
    }
  }
  std::unique_ptr<gguf::file> f;
  auto t = open_tokenizer(model, f);
  if (!t) {
    std::fprintf(stderr, "error: %s\n", t.error_message().c_str());
    return 1;
  }
  for (int32_t id : ids) {
    if (id < 0 || id >= (*t)->n_vocab()) {
      std::fprintf(stderr, "error: --tokens: id %d outside the vocabulary [0, %d)\n", id, (*t)->n_vocab());
      return 1;
    }
  }
  const std::string text = (*t)->decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<tokenize_options>();
  auto* cmd = app.add_subcommand("tokenize", "print the token ids of a text as a JSON array");
  cmd->add_option("-m,--model", opts->model, "GGUF model (only its vocabulary is read)")->required();
  auto* p = cmd->add_option("-p,--prompt", opts->prompt, "text to tokenize");
  auto* fl = cmd->add_option("-f,--file", opts->file, "file whose bytes to tokenize");
  p->excludes(fl);
  cmd->add_flag("--no-parse-special", opts->no_parse_special, "treat control-token text as plain text");
  cmd->add_flag("--no-bos", opts->no_bos, "do not add BOS/EOS even where the model asks for them");
  cmd->callback([opts, p, fl, &exit_code] {
    if (p->count() == 0 && fl->count() == 0) throw CLI::ValidationError("tokenize", "give -p TEXT or -f FILE");
    exit_code = run_tokenize(*opts);
  });
}

void register_detokenize(CLI::App& app, int& exit_code) {
  auto model = std::make_shared<std::string>();
  auto tokens = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("detokenize", "print the text of comma-separated token ids");
  cmd->add_option("-m,--model", *model, "GGUF model (only its vocabulary is read)")->required();
  cmd->add_option("--tokens", *tokens, "ids, e.g. 1,2,3")->required();
  cmd->callback([model, tokens, &exit_code] { exit_code = run_detokenize(*model, *tokens); });
}

}  // namespace pocketlm::cli
