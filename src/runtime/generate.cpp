#include "runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace pocketlm {

std::string stop_matcher::push(std::string_view text) {
  if (stopped_) return {};
  pending_ += text;
  size_t first_stop = std::string::npos;
  for (const auto& s : stops_) {
    const size_t at = s.empty() ? std::string::npos : pending_.find(s);
    if (at < first_stop) {
      first_stop = at;
      matched_ = s;
    }
  }
  if (first_stop != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, first_stop);
    pending_.clear();
    return out;
  }
  // Keep the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_) {
    for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string stop_matcher::flush() {
  std::string out;
  if (!stopped_) out.swap(pending_);
  return out;
}

const char* finish_reason_name(finish_reason r) {
  switch (r) {
    case finish_reason::stop: return "stop";
    case finish_reason::length: return "length";
    case finish_reason::cancel: return "cancel";
  }
  return "stop";
}

namespace {

token_report report_of(const tokenizer& tok, const float* logits, int64_t n_vocab, int32_t chosen, int n_top) {
  token_report r = token_logprobs(logits, n_vocab, chosen, n_top);
  r.chosen.piece = tok.token_to_piece(chosen, false);
  for (auto& t : r.top) t.piece = tok.token_to_piece(t.id, true);
  return r;
}

}  // namespace

result<generate_stats> generate(session& s, const tokenizer& tok, const generate_request& req, const text_sink& sink,
                                const std::atomic<bool>* cancel) {
  using clock = std::chrono::steady_clock;
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  generate_stats st;
  st.n_prompt = static_cast<int64_t>(req.prompt.size());
  sampler smp(req.sampling);
  std::optional<token_constraint> constraint;
  if (req.constraint.grammar) constraint.emplace(req.constraint, tok);
  for (int32_t t : req.prompt) smp.accept(t);

  const auto t0 = clock::now();
  auto logits = s.sync(req.prompt);
  if (!logits) return logits.err();
  st.n_prompt_evaluated = s.last_evaluated();
  const auto t1 = clock::now();
  st.prompt_ms = ms(t1 - t0);

  utf8_stream utf8;
  stop_matcher stops(req.stop);
  const int64_t n_vocab = static_cast<int64_t>((*logits)->size());
  bool keep_going = true;
  st.done_reason = finish_reason::length;
  while (keep_going) {
    if (cancel && cancel->load()) {
      st.done_reason = finish_reason::cancel;
      break;
    }
    if (req.n_predict >= 0 && st.n_generated >= req.n_predict) break;
    int32_t next = smp.sample((*logits)->data(), n_vocab);
    // Sample, then check: the grammar's full mask is computed only when the sampled token does
    // not fit (for plain sampling this draws from the masked distribution, as llama.cpp does).
    if (constraint && constraint->active()) {
      const auto checked = clock::now();
      if (constraint->allows(next)) {
        ++st.n_grammar_fast;
      } else {
        next = smp.sample((*logits)->data(), n_vocab, constraint->mask());
        ++st.n_grammar_masks;
      }
      st.grammar_ms += ms(clock::now() - checked);
    }
    if (next < 0 || tok.is_end_of_generation(next)) {  // -1: the grammar allows no token
      st.done_reason = finish_reason::stop;
      break;
    }
    if (constraint) {
      const auto accepted = clock::now();
      constraint->accept(next);
      st.grammar_ms += ms(clock::now() - accepted);
    }
    smp.accept(next);
    ++st.n_generated;
    st.tokens.push_back(next);
    if (req.top_logprobs >= 0 && req.on_token)
      req.on_token(report_of(tok, (*logits)->data(), n_vocab, next, req.top_logprobs));
    const std::string text = stops.push(utf8.push(tok.token_to_piece(next, false)));
    if (!text.empty()) keep_going = sink(text);
    if (stops.stopped()) {
      st.done_reason = finish_reason::stop;
      st.stop_word = stops.matched();
      break;
    }
    if (!keep_going) st.done_reason = finish_reason::cancel;
    if (keep_going && constraint && constraint->finished()) {
      st.done_reason = finish_reason::stop;
      break;
    }
    if (static_cast<int64_t>(s.cached().size()) >= s.n_ctx()) break;  // context full
    if (keep_going) {
      logits = s.push(next);
      if (!logits) return logits.err();
    }
  }
  if (!stops.stopped()) {
    const std::string tail = stops.push(utf8.flush()) + stops.flush();
    if (!tail.empty()) sink(tail);
  }
  st.generate_ms = ms(clock::now() - t1);
  return st;
}

}  // namespace pocketlm
