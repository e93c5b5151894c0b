#include "runtime/constraint.h"

#include <algorithm>
#include <string_view>

namespace pocketlm {

namespace {

constexpr std::string_view k_think_close = "</think>";

}  // namespace

std::shared_ptr<const grammar::token_trie> vocab_trie::get(const tokenizer& tok) {
  std::call_once(once_, [&] {
    std::vector<std::string> pieces(static_cast<size_t>(tok.n_vocab()));
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      if (!tok.is_end_of_generation(id)) pieces[static_cast<size_t>(id)] = tok.token_to_piece(id, false);
    }
    trie_ = std::make_shared<const grammar::token_trie>(pieces);
  });
  return trie_;
}

token_constraint::token_constraint(const grammar_constraint& c, const tokenizer& tok)
    : tok_(tok), c_(c), phase_(phase::opening) {
  if (!c_.free_reasoning) {
    enter_answer();
  } else if (c_.starts_in_think) {
    phase_ = phase::reasoning;
  } else {
    // The answer may open with <think>: only a vocabulary's single "<think>" token opens it under
    // a grammar (every reasoning vocabulary has one), so the first token decides.
    think_token_ = tok.find_token("<think>");
    if (think_token_ < 0) {
      enter_answer();
    } else if (!c_.triggers.empty()) {
      phase_ = phase::waiting;  // free anyway; accept() still sees a leading <think>
      text_.clear();
    } else {
      matcher_ = std::make_unique<grammar::matcher>(c_.grammar);
      cache_ = std::make_unique<grammar::mask_cache>(c_.vocab);
    }
  }
}

void token_constraint::enter_answer() {
  text_.clear();
  if (!c_.triggers.empty()) {
    phase_ = phase::waiting;
    return;
  }
  phase_ = phase::grammar;
  if (!matcher_) matcher_ = std::make_unique<grammar::matcher>(c_.grammar);
  if (!cache_) cache_ = std::make_unique<grammar::mask_cache>(c_.vocab);
}

bool token_constraint::allows(int32_t token) const {
  if (!active()) return true;
  if (phase_ == phase::opening && token == think_token_) return true;
  if (tok_.is_end_of_generation(token)) return matcher_->can_end();
  const std::string piece = tok_.token_to_piece(token, false);
  return !piece.empty() && matcher_->allows(piece);
}

const uint8_t* token_constraint::mask() {
  if (!active()) return nullptr;
  const std::vector<uint8_t>& allowed = cache_->allowed(*matcher_);
  mask_.assign(allowed.begin(), allowed.end());
  mask_.resize(static_cast<size_t>(tok_.n_vocab()), 0);
  if (matcher_->can_end()) {
    if (eog_.empty()) {
      for (int32_t id = 0; id < tok_.n_vocab(); ++id) {
        if (tok_.is_end_of_generation(id)) eog_.push_back(id);
      }
    }
    for (int32_t id : eog_) mask_[static_cast<size_t>(id)] = 1;
  }
  if (phase_ == phase::opening && think_token_ >= 0) mask_[static_cast<size_t>(think_token_)] = 1;
  return mask_.data();
}

void token_constraint::feed_free_text(const std::string& piece) {
  text_ += piece;
  size_t first = std::string::npos;
  size_t longest = 0;
  for (const std::string& t : c_.triggers) {
    first = std::min(first, text_.find(t));
    longest = std::max(longest, t.size());
  }
  if (first != std::string::npos) {
    phase_ = phase::grammar;
    matcher_ = std::make_unique<grammar::matcher>(c_.grammar);
    cache_ = std::make_unique<grammar::mask_cache>(c_.vocab);
    if (!matcher_->accept(std::string_view(text_).substr(first))) phase_ = phase::failed;
    text_.clear();
    return;
  }
  // Keep only what may still be the start of a trigger.
  if (longest > 0 && text_.size() >= longest) text_.erase(0, text_.size() - (longest - 1));
}

void token_constraint::accept(int32_t token) {
  if (tok_.is_end_of_generation(token)) return;
  const std::string piece = tok_.token_to_piece(token, false);
  switch (phase_) {
    case phase::opening:
      if (token == think_token_) {
        phase_ = phase::reasoning;
      } else {
        phase_ = phase::grammar;
        if (!matcher_->accept(piece)) phase_ = phase::failed;
      }
      return;
    case phase::reasoning: {
      text_ += piece;
      const size_t end = text_.find(k_think_close);
      if (end == std::string::npos) {
        if (text_.size() >= k_think_close.size()) text_.erase(0, text_.size() - (k_think_close.size() - 1));
        return;
      }
      const std::string rest = text_.substr(end + k_think_close.size());
      enter_answer();
      if (phase_ == phase::waiting) {
        feed_free_text(rest);
      } else if (!rest.empty() && !matcher_->accept(rest)) {
        phase_ = phase::failed;
      }
      return;
    }
    case phase::waiting: {
      // A reasoning model that opens its answer with <think>: triggers inside it do not count.
      // Only the first token opens it; a <think> after the reasoning is answer text.
      const bool opens_reasoning = token == think_token_;
      think_token_ = -1;
      if (opens_reasoning) {
        phase_ = phase::reasoning;
        return;
      }
      feed_free_text(piece);
      return;
    }
    case phase::grammar:
      if (!matcher_->accept(piece)) phase_ = phase::failed;
      return;
    case phase::failed: return;
  }
}

bool token_constraint::finished() const { return phase_ == phase::grammar && matcher_->finished(); }

}  // namespace pocketlm
