#include "cli/chat_repl.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "grammar/json_schema.h"

namespace pocketlm::cli {

namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted.store(true); }

bool write_out(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
  return true;
}

void print_stats(const chat_model& cm, const generate_stats& st) {
  const auto rate = [](int64_t n, double ms) { return ms > 0 ? 1000.0 * n / ms : 0.0; };
  std::fprintf(stderr,
               "total duration:       %.2fms\nload duration:        %.2fms\n"
               "prompt eval count:    %lld token(s)\nprompt eval duration: %.2fms\n"
               "prompt eval rate:     %.2f tokens/s\neval count:           %lld token(s)\n"
               "eval duration:        %.2fms\neval rate:            %.2f tokens/s\n",
               cm.load_ms + st.prompt_ms + st.generate_ms, cm.load_ms, static_cast<long long>(st.n_prompt_evaluated),
               st.prompt_ms, rate(st.n_prompt_evaluated, st.prompt_ms), static_cast<long long>(st.n_generated),
               st.generate_ms, rate(st.n_generated, st.generate_ms));
  if (st.n_grammar_fast + st.n_grammar_masks > 0)
    std::fprintf(stderr, "grammar:              %lld mask(s), %lld fast-path token(s), %.2fms\n",
                 static_cast<long long>(st.n_grammar_masks), static_cast<long long>(st.n_grammar_fast), st.grammar_ms);
}

// --verbose-prompt, as llama.cpp's: the prompt text, then each token id and its text.
void print_prompt(const tokenizer& tok, const chat_prompt& p) {
  std::fprintf(stderr, "prompt: '%s'\nnumber of tokens in prompt = %zu\n", p.text.c_str(), p.tokens.size());
  for (const int32_t id : p.tokens) {
    std::string piece = tok.token_to_piece(id);
    std::string shown;
    for (const char c : piece) {
      if (c == '\n')
        shown += "\\n";
      else if (c == '\t')
        shown += "\\t";
      else
        shown += c;
    }
    std::fprintf(stderr, "%6d -> '%s'\n", id, shown.c_str());
  }
  std::fflush(stderr);
}

}  // namespace

std::atomic<bool>& chat_interrupt_flag() { return g_interrupted; }

void install_sigint_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns so the prompt can react
  sigaction(SIGINT, &sa, nullptr);
}

result<grammar::grammar_ptr> load_format(const std::string& format) {
  std::string gbnf;
  if (format == "json") {
    gbnf = grammar::json_object_gbnf();
  } else {
    std::ifstream in(format, std::ios::binary);
    if (!in)
      return error{"--format: cannot read '" + format + "' (give 'json' or a JSON Schema file)", error_kind::not_found};
    std::ostringstream text;
    text << in.rdbuf();
    const auto schema = nlohmann::ordered_json::parse(text.str(), nullptr, false);
    if (schema.is_discarded()) return error{"--format: '" + format + "' is not JSON", error_kind::invalid_input};
    auto compiled = grammar::json_schema_to_gbnf(schema);
    if (!compiled) return error{"--format: " + format + ": " + compiled.error_message(), compiled.kind()};
    gbnf = std::move(*compiled);
  }
  auto g = grammar::grammar::parse(gbnf);
  if (!g) return error{"--format: " + g.error_message(), error_kind::internal};
  return *g;
}

result<std::unique_ptr<chat_model>> load_chat_model(const run_args& a) {
  const auto t0 = std::chrono::steady_clock::now();
  auto engine = engine_options(a.engine);
  if (!engine) return engine.err();
  model_options opt = std::move(*engine);
  opt.n_ctx = a.n_ctx;
  auto m = model::load(a.model_path, opt);
  if (!m) return m.err();
  if (!(*m)->load_notice().empty()) std::fprintf(stderr, "note: %s\n", (*m)->load_notice().c_str());
  auto tok = tokenizer::from_gguf((*m)->file());
  if (!tok) return tok.err();
  auto cm = std::make_unique<chat_model>();
  cm->llm = std::move(*m);
  cm->tok = std::move(*tok);
  std::vector<std::string> warnings;
  auto templates = load_chat_templates(cm->llm->file(), {a.chat_template, a.chat_template_file}, warnings);
  if (!templates) return templates.err();
  for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  cm->templates = std::move(*templates);
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
  if (!a.chat_template_kwargs.empty()) {
    kwargs = nlohmann::ordered_json::parse(a.chat_template_kwargs, nullptr, false);
    if (!kwargs.is_object()) {
      return error{"--chat-template-kwargs: expected a JSON object such as '{\"enable_thinking\": false}', got '" +
                   a.chat_template_kwargs + "'"};
    }
  }
  cm->sess = std::make_unique<session>(*cm->llm);
  cm->chat = std::make_unique<chat_session>(*cm->sess, *cm->tok, cm->templates.main.get());
  cm->chat->set_template_kwargs(std::move(kwargs));
  if (a.verbose_prompt) {
    const tokenizer* vocab = cm->tok.get();
    cm->chat->on_prompt([vocab](const chat_prompt& p) { print_prompt(*vocab, p); });
  }
  cm->chat->set_system(a.system);
  cm->chat->set_thinking(a.think);
  cm->load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return cm;
}

bool answer_once(chat_model& cm, const run_args& a, const std::string& text) {
  const bool tty = isatty(STDOUT_FILENO) != 0;
  bool in_reasoning = false;
  auto on_reasoning = [&](std::string_view s) {
    if (a.hide_thinking) return true;
    if (!in_reasoning) write_out(tty ? "Thinking...\n\x1b[2m" : "Thinking...\n");
    in_reasoning = true;
    return write_out(s);
  };
  auto on_answer = [&](std::string_view s) {
    if (in_reasoning) write_out(tty ? "\x1b[0m\n...done thinking.\n\n" : "\n...done thinking.\n\n");
    in_reasoning = false;
    return write_out(s);
  };
  g_interrupted.store(false);
  auto reply = cm.chat->send(text, a.gen, on_reasoning, on_answer, &g_interrupted);
  if (in_reasoning && tty) write_out("\x1b[0m");
  write_out("\n");
  if (!reply) {
    std::fprintf(stderr, "error: %s\n", reply.error_message().c_str());
    return false;
  }
  if (reply->dropped_turns > 0) {
    std::fprintf(stderr, "(context full: dropped the %d oldest turn(s))\n", reply->dropped_turns);
  }
  if (a.verbose) print_stats(cm, reply->stats);
  return true;
}

}  // namespace pocketlm::cli
