#include "server/completion.h"

#include <algorithm>

#include "chat/think_split.h"
#include "runtime/chat_session.h"

namespace pocketlm::server {

gen_params model_defaults(const loaded_model& lm) {
  gen_params g;
  const store::model_params& p = lm.info.params;
  auto& s = g.sampling;
  if (p.temperature) s.temperature = static_cast<float>(*p.temperature);
  if (p.top_k) s.top_k = static_cast<int>(*p.top_k);
  if (p.top_p) s.top_p = static_cast<float>(*p.top_p);
  if (p.min_p) s.min_p = static_cast<float>(*p.min_p);
  if (p.repeat_penalty) s.repeat_penalty = static_cast<float>(*p.repeat_penalty);
  if (p.repeat_last_n) s.repeat_last_n = static_cast<int>(*p.repeat_last_n);
  if (p.seed) s.seed = static_cast<uint64_t>(*p.seed);
  if (p.num_predict) g.n_predict = static_cast<int>(*p.num_predict);
  g.stop = p.stop;
  return g;
}

prompt_spec generate_prompt(const loaded_model& lm, const std::string& system, const std::string& prompt,
                            bool raw) {
  prompt_spec spec;
  const std::string sys = system.empty() ? lm.info.system : system;
  if (raw || lm.kind == chat::template_kind::none) {
    spec.chat = false;
    spec.text = raw ? prompt : sys + prompt;
    return spec;
  }
  if (!sys.empty()) spec.messages.push_back({"system", sys, ""});
  spec.messages.push_back({"user", prompt, ""});
  return spec;
}

prepared_prompt prepare_prompt(const loaded_model& lm, const prompt_spec& spec, std::optional<int64_t> num_ctx) {
  prepared_prompt p;
  if (spec.chat) {
    std::vector<chat::message> msgs = spec.messages;
    const bool has_system = !msgs.empty() && msgs.front().role == "system";
    if (!has_system && !lm.info.system.empty()) msgs.insert(msgs.begin(), {"system", lm.info.system, ""});
    if (auto ok = chat::validate(lm.kind, msgs); !ok) throw api_error(400, ok.error_message(), "messages");
    p.tokens = chat_prompt_tokens(*lm.tok, lm.kind, msgs, spec.think);
    // R1's generation prompt already opens <think>: generated text starts inside reasoning.
    const auto tail_n = std::min<long>(4, static_cast<long>(p.tokens.size()));
    const std::string tail = lm.tok->decode(std::vector<int32_t>(p.tokens.end() - tail_n, p.tokens.end()));
    p.starts_in_think = lm.kind != chat::template_kind::none && tail.find("<think>") != std::string::npos &&
                        tail.find("</think>") == std::string::npos;
  } else {
    p.tokens = lm.tok->encode(spec.text, /*add_special=*/true, /*parse_special=*/true);
  }
  p.reasoning_model = spec.split_thinking && (p.starts_in_think || lm.kind == chat::template_kind::qwen3 ||
                                              lm.kind == chat::template_kind::deepseek_r1);
  if (p.tokens.empty()) throw api_error(400, "the prompt is empty", "prompt");
  const int64_t n_ctx = std::min(lm.llm->n_ctx(), num_ctx.value_or(lm.llm->n_ctx()));
  p.n_ctx = n_ctx;
  if (static_cast<int64_t>(p.tokens.size()) >= n_ctx) {
    throw api_error(400, "prompt is " + std::to_string(p.tokens.size()) + " tokens, context is " +
                             std::to_string(n_ctx) + " (the prompt must leave room for the reply)",
                    "messages", "context_length_exceeded");
  }
  return p;
}

completion_result run_completion(session& s, const loaded_model& lm, const prepared_prompt& p,
                                 const gen_params& params, const completion_sinks& sinks) {
  completion_result out;
  generate_request req;
  req.prompt = p.tokens;
  req.sampling = params.sampling;
  req.stop = params.stop;
  const int room = static_cast<int>(p.n_ctx - static_cast<int64_t>(p.tokens.size()));
  req.n_predict = params.n_predict < 0 ? room : std::min(params.n_predict, room);
  chat::think_splitter split(p.starts_in_think);
  bool go_on = true;
  const auto route = [&](const chat::think_splitter::out& o) {
    if (!o.reasoning.empty()) {
      out.reasoning += o.reasoning;
      go_on = sinks.on_reasoning(o.reasoning) && go_on;
    }
    if (!o.answer.empty()) {
      out.answer += o.answer;
      go_on = sinks.on_answer(o.answer) && go_on;
    }
    return go_on;
  };
  const auto sink = [&](std::string_view text) {
    if (!p.reasoning_model) {
      out.answer += text;
      return go_on = sinks.on_answer(text) && go_on;
    }
    return route(split.push(text));
  };
  auto stats = generate(s, *lm.tok, req, sink);
  if (!stats) throw api_error(500, stats.error_message());
  if (p.reasoning_model && go_on) route(split.flush());
  out.stats = *stats;
  out.finish_reason = stats->done_reason;
  return out;
}

}  // namespace pocketlm::server
