#include "chat/think_split.h"

#include <algorithm>

namespace pocketlm::chat {
namespace {

constexpr std::string_view open_tag = "<think>";
constexpr std::string_view close_tag = "</think>";
constexpr std::string_view space_chars = " \t\n\r";

std::size_t skip_space(std::string_view s) {
  const std::size_t at = s.find_first_not_of(space_chars);
  return at == std::string_view::npos ? s.size() : at;
}

// Length of the longest suffix of s that is a proper prefix of tag (what may still become tag).
std::size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (std::size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
    if (tag.starts_with(s.substr(s.size() - n))) return n;
  }
  return 0;
}

}  // namespace

think_splitter::think_splitter(bool started_in_think) : forced_open_(started_in_think), state_(state::opening) {}

// Decides whether the output opens with <think>; holds text while it still might. When the prompt
// already opened the block, a repeated "<think>" is skipped and anything else is reasoning.
void think_splitter::step_opening(out& o) {
  const std::string_view rest = std::string_view(held_).substr(skip_space(held_));
  if (rest.starts_with(open_tag)) {
    held_.erase(0, held_.size() - rest.size() + open_tag.size());
    state_ = state::reasoning_lead;
  } else if (rest.empty() || open_tag.starts_with(rest)) {
    return;  // undecided: only whitespace or a prefix of "<think>" so far
  } else if (forced_open_) {
    state_ = state::reasoning_lead;
  } else {
    o.answer += held_;
    held_.clear();
    state_ = state::answer;
  }
}

// Emits reasoning up to </think>, or up to what could still be trailing space plus a partial tag.
void think_splitter::step_reasoning(out& o) {
  const std::size_t close = held_.find(close_tag);
  if (close != std::string::npos) {
    const std::string_view body = std::string_view(held_).substr(0, close);
    o.reasoning += body.substr(0, body.find_last_not_of(space_chars) + 1);
    held_.erase(0, close + close_tag.size());
    state_ = state::answer_lead;
    return;
  }
  const std::size_t tag_from = held_.size() - partial_tag_suffix(held_, close_tag);
  const std::size_t last_text = std::string_view(held_).substr(0, tag_from).find_last_not_of(space_chars);
  const std::size_t emit = last_text == std::string_view::npos ? 0 : last_text + 1;
  o.reasoning.append(held_, 0, emit);
  held_.erase(0, emit);
}

think_splitter::out think_splitter::push(std::string_view text) {
  out o;
  held_.append(text);
  for (state before = state_;; before = state_) {
    switch (state_) {
      case state::opening: step_opening(o); break;
      case state::reasoning_lead:
      case state::answer_lead:
        held_.erase(0, skip_space(held_));
        if (!held_.empty()) state_ = state_ == state::reasoning_lead ? state::reasoning : state::answer;
        break;
      case state::reasoning: step_reasoning(o); break;
      case state::answer:
        o.answer += held_;
        held_.clear();
        break;
    }
    if (state_ == before) return o;
  }
}

think_splitter::out think_splitter::flush() {
  out o = push({});
  const std::string_view rest = held_;
  if (state_ == state::opening && !forced_open_) {
    o.answer += rest;
  } else if (state_ == state::opening) {
    const std::size_t first = skip_space(rest);
    o.reasoning += rest.substr(first, rest.find_last_not_of(space_chars) + 1 - first);
  } else if (state_ == state::reasoning) {
    o.reasoning += rest.substr(0, rest.find_last_not_of(space_chars) + 1);
  }
  held_.clear();
  return o;
}

}  // namespace pocketlm::chat
