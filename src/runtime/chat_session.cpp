#include "runtime/chat_session.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace pocketlm {

namespace {

constexpr std::string_view k_template_key = "tokenizer.chat_template";
constexpr size_t k_max_template_file = 1u << 20;

result<chat::template_ptr> builtin(const std::string& name) {
  const auto src = chat::builtin_source(name);
  if (!src) {
    std::string known;
    for (const auto& n : chat::builtin_names()) known += (known.empty() ? "" : ", ") + n;
    return error{"unknown chat template '" + name + "' (built-in: " + known + ", or none)"};
  }
  return chat::chat_template::parse(std::string(*src), "built-in " + name);
}

result<std::string> read_template_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot read chat template file '" + path + "'"};
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > k_max_template_file) {
    return error{"chat template file '" + path + "' is " + std::to_string(s.size()) + " bytes (at most " +
                 std::to_string(k_max_template_file) + ")"};
  }
  return s;
}

}  // namespace

result<chat::template_set> load_chat_templates(const gguf::file& f, const template_choice& choice,
                                               std::vector<std::string>& warnings) {
  chat::template_set set;
  if (!choice.file.empty()) {
    auto src = read_template_file(choice.file);
    if (!src) return src.err();
    auto t = chat::chat_template::parse(std::move(*src), "'" + choice.file + "'");
    if (!t) return t.err();
    set.main = std::move(*t);
    return set;
  }
  if (choice.name == "none") return set;
  if (!choice.name.empty()) {
    auto t = builtin(choice.name);
    if (!t) return t.err();
    set.main = std::move(*t);
    return set;
  }
  for (const auto& kv : f.metadata()) {
    if (!kv.key.starts_with(k_template_key)) continue;
    const std::string rest = kv.key.substr(k_template_key.size());
    if (!rest.empty() && rest[0] != '.') continue;
    const auto src = f.get_string(kv.key);
    if (!src) continue;
    const std::string name = rest.empty() ? "" : rest.substr(1);
    auto t = chat::chat_template::parse(*src, "the GGUF's " + kv.key);
    if (!t) {
      warnings.push_back(t.error_message() + (name.empty() ? "; using the built-in chatml instead" : "; not used"));
      if (name.empty()) {
        auto fallback = builtin("chatml");
        if (!fallback) return fallback.err();
        set.main = std::move(*fallback);
      }
      continue;
    }
    if (name.empty()) {
      set.main = std::move(*t);
    } else {
      set.named[name] = std::move(*t);
    }
  }
  return set;
}

chat::options chat_options_for(const tokenizer& tok, chat::options opt) {
  if (tok.bos() >= 0) opt.bos_token = tok.token_to_piece(tok.bos());
  if (tok.eos() >= 0) opt.eos_token = tok.token_to_piece(tok.eos());
  return opt;
}

result<chat_prompt> chat_prompt_tokens(const tokenizer& tok, const chat::chat_template* tmpl,
                                       const std::vector<chat::message>& messages, const chat::options& opt) {
  chat_prompt p;
  if (!tmpl) {
    // Plain continuation: the conversation is one running text.
    for (const auto& m : messages) p.text += m.content;
    p.tokens = tok.encode(p.text, /*add_special=*/true, /*parse_special=*/false);
    return p;
  }
  auto pieces = tmpl->render(messages, opt);
  if (!pieces) return pieces.err();
  for (const auto& pc : *pieces) p.text += pc.text;
  p.starts_in_think = chat::ends_inside_think(p.text);
  // llama.cpp: when the vocab adds BOS itself, a BOS the template printed first is dropped, so
  // there is exactly one; templates that print none still get the vocab's.
  const std::vector<int32_t> added = tok.encode("", /*add_special=*/true, false);
  const bool vocab_adds_bos = !added.empty() && added.front() == tok.bos() && tok.bos() >= 0;
  std::vector<text_span> spans;
  spans.reserve(pieces->size());
  for (size_t i = 0; i < pieces->size(); ++i) {
    std::string_view text = (*pieces)[i].text;
    if (i == 0 && vocab_adds_bos && (*pieces)[i].special && !opt.bos_token.empty() && text.starts_with(opt.bos_token)) {
      text.remove_prefix(opt.bos_token.size());
    }
    spans.push_back({text, (*pieces)[i].special});
  }
  p.tokens = tok.encode_spans(spans, /*add_special=*/true);
  return p;
}

chat_session::chat_session(session& s, const tokenizer& tok, const chat::chat_template* tmpl)
    : session_(s), tok_(tok), tmpl_(tmpl) {}

void chat_session::clear() {
  history_.clear();
  session_.clear();
}

std::vector<chat::message> chat_session::with_system(const std::vector<chat::message>& turns) const {
  std::vector<chat::message> all;
  if (!system_.empty()) all.push_back({"system", system_, ""});
  all.insert(all.end(), turns.begin(), turns.end());
  return all;
}

result<chat_prompt> chat_session::prompt_for(const std::vector<chat::message>& turns) const {
  chat::options opt = chat_options_for(tok_);
  if (!thinking_) opt.enable_thinking = false;  // --no-think; otherwise the template's default
  opt.kwargs = kwargs_;
  return chat_prompt_tokens(tok_, tmpl_, with_system(turns), opt);
}

result<chat_reply> chat_session::send(const std::string& user, const generate_request& params,
                                      const text_sink& on_reasoning, const text_sink& on_answer,
                                      const std::atomic<bool>* cancel) {
  std::vector<chat::message> turns = history_;
  turns.push_back({"user", user, ""});
  chat_reply reply;
  const int64_t n_ctx = session_.n_ctx();
  const int64_t reserve = std::min<int64_t>(params.n_predict > 0 ? params.n_predict : 256, n_ctx / 2);
  auto prompt = prompt_for(turns);
  if (!prompt) return prompt.err();
  while (static_cast<int64_t>(prompt->tokens.size()) + reserve > n_ctx && turns.size() > 1) {
    turns.erase(turns.begin(), turns.begin() + std::min<long>(2, static_cast<long>(turns.size()) - 1));
    ++reply.dropped_turns;
    prompt = prompt_for(turns);
    if (!prompt) return prompt.err();
  }
  if (static_cast<int64_t>(prompt->tokens.size()) >= n_ctx) {
    return error{"prompt of " + std::to_string(prompt->tokens.size()) + " tokens does not fit the context of " +
                 std::to_string(n_ctx) + " tokens (raise it with --ctx-size)"};
  }
  if (on_prompt_) on_prompt_(*prompt);
  generate_request req = params;
  req.prompt = prompt->tokens;
  // A generation prompt that opens <think> (DeepSeek-R1) starts the reply inside reasoning.
  const bool in_think = tmpl_ && prompt->starts_in_think;
  chat::think_splitter split(in_think);
  // A prompt that closed an empty think block itself (--no-think) is answered without reasoning.
  const bool reasoning_model = in_think || (tmpl_ && tmpl_->reasoning() && !chat::ends_think_block(prompt->text));
  req.constraint.free_reasoning = reasoning_model;  // a grammar (--format) holds for the answer
  req.constraint.starts_in_think = in_think;
  bool go_on = true;
  auto route = [&](const chat::think_splitter::out& o) {
    if (!o.reasoning.empty()) {
      reply.reasoning += o.reasoning;
      go_on = on_reasoning(o.reasoning) && go_on;
    }
    if (!o.answer.empty()) {
      reply.answer += o.answer;
      go_on = on_answer(o.answer) && go_on;
    }
    return go_on;
  };
  auto sink = [&](std::string_view text) {
    if (!reasoning_model) {
      reply.answer += text;
      return on_answer(text);
    }
    return route(split.push(text));
  };
  auto stats = generate(session_, tok_, req, sink, cancel);
  if (!stats) return stats.err();
  if (reasoning_model) route(split.flush());
  reply.stats = *stats;
  turns.push_back({"assistant", reply.answer, reply.reasoning});
  history_ = std::move(turns);
  return reply;
}

}  // namespace pocketlm
