// The matcher: llama.cpp's set of stacks, advanced one code point at a time, with a partial
// UTF-8 code point carried between calls.
#include <algorithm>
#include <unordered_set>

#include "grammar/rules.h"

namespace pocketlm::grammar {

namespace {

size_t mix(size_t h, size_t v) { return (h ^ v) * 0x100000001B3ull + (h >> 29); }

struct stack_hash {
  size_t operator()(const stack& s) const {
    size_t h = s.size();
    for (uint32_t v : s) h = mix(h, v);
    return h;
  }
};

// Walks the class at `pos` calling f(lo, hi) for each member range; returns whether it is negated.
template <typename F>
bool for_each_range(const rules& r, uint32_t pos, F f) {
  const element* e = &r.elements[pos];
  if (e->type == op::any) {
    f(0, 0xFFFFFFFFu);
    return false;
  }
  bool negated = e->type == op::chr_not;
  do {
    uint32_t lo = e->value, hi = e->value;
    if (e[1].type == op::chr_upper) {
      ++e;
      hi = e->value;
    }
    if (f(lo, hi)) break;
    ++e;
  } while (e->type == op::chr_alt);
  return negated;
}

}  // namespace

size_t hash_of(const std::vector<stack>& stacks, partial_utf8 partial) {
  size_t h = mix(partial.value, partial.missing);
  for (const stack& s : stacks) h = mix(h, stack_hash{}(s));
  return h;
}

bool class_matches(const rules& r, uint32_t pos, uint32_t cp) {
  bool found = false;
  bool negated = for_each_range(r, pos, [&](uint32_t lo, uint32_t hi) { return found = lo <= cp && cp <= hi; });
  return found != negated;
}

bool class_intersects(const rules& r, uint32_t pos, uint32_t lo, uint32_t hi) {
  if (r.elements[pos].type != op::chr_not) {
    bool found = false;
    for_each_range(r, pos, [&](uint32_t a, uint32_t b) { return found = a <= hi && lo <= b; });
    return found;
  }
  // Negated: some value in [lo, hi] lies outside every member range.
  uint32_t cur = lo;
  while (true) {
    bool moved = false;
    for_each_range(r, pos, [&](uint32_t a, uint32_t b) {
      if (a <= cur && cur <= b) {
        cur = b;
        moved = true;
      }
      return moved;
    });
    if (!moved) return true;
    if (cur >= hi) return false;
    ++cur;
  }
}

step_result expand(const rules& r, std::vector<stack>& work, std::vector<stack>& out) {
  // Nullable rules can reach one continuation along several paths; each is expanded once, and
  // the work is bounded so that an ambiguous grammar fails instead of running away.
  std::unordered_set<stack, stack_hash> seen;
  size_t steps = 0;
  while (!work.empty()) {
    stack s = std::move(work.back());
    work.pop_back();
    if (!s.empty() && is_terminal(r.elements[s.back()].type)) {
      out.push_back(std::move(s));
      if (out.size() > 4 * max_stacks) return step_result::too_ambiguous;
      continue;
    }
    if (++steps > max_expand_steps) return step_result::too_ambiguous;
    if (!seen.insert(s).second) continue;
    if (s.empty()) {
      out.push_back(std::move(s));
      continue;
    }
    uint32_t pos = s.back();  // a reference: replace it by each alternative of the rule
    s.pop_back();
    if (!ends_sequence(r.elements[pos + 1].type)) s.push_back(pos + 1);
    for (uint32_t a = r.rule_start[r.elements[pos].value];; ++a) {
      stack next = s;
      if (!ends_sequence(r.elements[a].type)) next.push_back(a);
      work.push_back(std::move(next));
      while (!ends_sequence(r.elements[a].type)) ++a;
      if (r.elements[a].type == op::end) break;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out.size() > max_stacks ? step_result::too_ambiguous : step_result::ok;
}

step_result initial_stacks(const rules& r, std::vector<stack>& out) {
  std::vector<stack> work;
  for (uint32_t a = r.rule_start[r.root];; ++a) {
    work.push_back(ends_sequence(r.elements[a].type) ? stack{} : stack{a});
    while (!ends_sequence(r.elements[a].type)) ++a;
    if (r.elements[a].type == op::end) break;
  }
  out.clear();
  return expand(r, work, out);
}

step_result advance_matching(const rules& r, const std::vector<stack>& stacks, uint32_t cp, std::vector<stack>& out) {
  return advance(
      r, stacks, [&](size_t i) { return !stacks[i].empty() && class_matches(r, stacks[i].back(), cp); }, out);
}

bool partial_possible(const rules& r, const std::vector<stack>& stacks, partial_utf8 p) {
  if (p.missing == 0) return true;
  uint32_t shift = 6 * p.missing;
  // The smallest code point a sequence of this length may encode (no overlong forms).
  static constexpr uint32_t k_min_of_length[5] = {0, 0, 0x80, 0x800, 0x10000};
  uint32_t lo = std::max(p.value << shift, k_min_of_length[p.length]);
  uint32_t hi = std::min((p.value << shift) | ((1u << shift) - 1), uint32_t{0x10FFFF});
  for (const stack& s : stacks)
    if (!s.empty() && class_intersects(r, s.back(), lo, hi)) return true;
  return false;
}

matcher::matcher(grammar_ptr g) : g_(std::move(g)) {
  auto st = std::make_shared<state>();
  // The parser refuses left recursion, and a fresh state of a sane grammar is far from the bound;
  // a start that is already too ambiguous leaves no stacks, so nothing is accepted.
  if (initial_stacks(g_->compiled(), st->stacks) != step_result::ok) st->stacks.clear();
  st->hash = hash_of(st->stacks, st->partial);
  st_ = std::move(st);
}

bool matcher::accept(std::string_view bytes) {
  too_ambiguous_ = false;
  if (bytes.empty()) return true;
  const rules& r = g_->compiled();
  std::vector<stack> stacks = st_->stacks, next;
  partial_utf8 partial = st_->partial;
  for (char c : bytes) {
    if (!decode_byte(partial, static_cast<uint8_t>(c))) return false;
    if (partial.missing > 0) continue;
    step_result res = advance_matching(r, stacks, partial.value, next);
    if (res != step_result::ok) {
      too_ambiguous_ = res == step_result::too_ambiguous;
      return false;
    }
    stacks.swap(next);
    partial = {};
  }
  if (!partial_possible(r, stacks, partial)) return false;
  auto st = std::make_shared<state>();
  st->stacks = std::move(stacks);
  st->partial = partial;
  st->hash = hash_of(st->stacks, st->partial);
  st_ = std::move(st);
  return true;
}

bool matcher::allows(std::string_view bytes) const {
  matcher copy = *this;
  return copy.accept(bytes);
}

bool matcher::can_end() const {
  if (st_->partial.missing > 0) return false;
  return !st_->stacks.empty() && st_->stacks.front().empty();  // sorted: the empty stack first
}

bool matcher::finished() const { return can_end() && st_->stacks.size() == 1; }

size_t matcher::state_hash() const { return st_->hash; }

bool matcher::same_state(const matcher& other) const {
  return st_ == other.st_ ||
         (st_->hash == other.st_->hash && st_->partial == other.st_->partial && st_->stacks == other.st_->stacks);
}

}  // namespace pocketlm::grammar
