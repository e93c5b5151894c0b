#include "runtime/chat_session.h"

#include <algorithm>

namespace pocketlm {

chat_session::chat_session(session& s, const tokenizer& tok, chat::template_kind kind)
    : session_(s), tok_(tok), kind_(kind) {}

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

std::vector<int32_t> chat_prompt_tokens(const tokenizer& tok, chat::template_kind kind,
                                        const std::vector<chat::message>& messages,
                                        bool enable_thinking) {
  if (kind == chat::template_kind::none) {
    // Plain continuation: the conversation is one running text.
    std::string text;
    for (const auto& m : messages) text += m.content;
    return tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  }
  chat::options opt;
  opt.enable_thinking = enable_thinking;
  if (tok.bos() >= 0) opt.bos_token = tok.token_to_piece(tok.bos());
  if (tok.eos() >= 0) opt.eos_token = tok.token_to_piece(tok.eos());
  const auto pieces = chat::render(kind, messages, opt);
  std::vector<text_span> spans;
  spans.reserve(pieces.size());
  for (const auto& p : pieces) spans.push_back({p.text, p.special});
  // The template prints BOS itself where its family wants one; nothing is added here.
  return tok.encode_spans(spans, /*add_special=*/false);
}

result<chat_reply> chat_session::send(const std::string& user, const generate_request& params,
                                      const text_sink& on_reasoning, const text_sink& on_answer,
                                      const std::atomic<bool>* cancel) {
  std::vector<chat::message> turns = history_;
  turns.push_back({"user", user, ""});
  if (auto ok = chat::validate(kind_, with_system(turns)); !ok) return error{ok.error_message()};
  chat_reply reply;
  const int64_t n_ctx = session_.n_ctx();
  const int64_t reserve = std::min<int64_t>(params.n_predict > 0 ? params.n_predict : 256, n_ctx / 2);
  generate_request req = params;
  req.prompt = chat_prompt_tokens(tok_, kind_, with_system(turns), thinking_);
  while (static_cast<int64_t>(req.prompt.size()) + reserve > n_ctx && turns.size() > 1) {
    turns.erase(turns.begin(), turns.begin() + std::min<long>(2, static_cast<long>(turns.size()) - 1));
    ++reply.dropped_turns;
    req.prompt = chat_prompt_tokens(tok_, kind_, with_system(turns), thinking_);
  }
  if (static_cast<int64_t>(req.prompt.size()) >= n_ctx) {
    return error{"prompt of " + std::to_string(req.prompt.size()) +
                 " tokens does not fit the context of " + std::to_string(n_ctx) +
                 " tokens (raise it with --ctx-size)"};
  }
  // R1's generation prompt already opens <think>: generated text starts inside reasoning.
  const std::string tail = tok_.decode(std::vector<int32_t>(
      req.prompt.end() - std::min<long>(4, static_cast<long>(req.prompt.size())), req.prompt.end()));
  const bool in_think = kind_ != chat::template_kind::none && tail.find("<think>") != std::string::npos &&
                        tail.find("</think>") == std::string::npos;
  chat::think_splitter split(in_think);
  const bool reasoning_model = in_think || kind_ == chat::template_kind::qwen3 ||
                               kind_ == chat::template_kind::deepseek_r1;
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
