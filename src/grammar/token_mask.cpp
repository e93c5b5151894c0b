// Token masks: the vocabulary trie walked depth first against the matcher's state.
//
// Copying the stacks per trie node would cost far more than the walk itself, so the walk
// interns each distinct set of stacks once and memoizes its transitions: per ASCII byte in a
// table, and for other code points by which stack tops matched (the result depends on nothing
// else, so inside a JSON string every CJK character shares one transition). A node then costs a
// table lookup. The memo is bounded; past the bound the walk starts over with plain matcher
// copies per byte, which needs no memory but time.
#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <unordered_map>

#include "grammar/rules.h"

namespace pocketlm::grammar {

namespace {

constexpr int32_t rejected = -1;
constexpr int32_t unknown = -2;
constexpr size_t max_sets = 1 << 15;   // interned stack sets
constexpr size_t max_words = 1 << 23;  // their elements, all together (32 MiB)
constexpr size_t max_transitions = 1 << 20;

struct set_and_mask {
  int32_t set;
  uint64_t matched;
  bool operator==(const set_and_mask&) const = default;
};
struct set_and_mask_hash {
  size_t operator()(const set_and_mask& k) const { return (k.matched * 0x9E3779B97F4A7C15ull) ^ size_t(k.set); }
};

}  // namespace

// The memo of one grammar: stack sets by id and their transitions.
class mask_walker {
 public:
  explicit mask_walker(const rules& r) : r_(r) {}

  // Fills `allowed` (already zeroed) for the tokens of `trie` from state `start`; false when the
  // memo outgrew its bound (then `allowed` is incomplete and the walker should be dropped).
  bool walk(const matcher::state& start, const std::vector<token_trie::node>& nodes,
            const std::vector<uint32_t>& token_ids, size_t max_depth, std::vector<uint8_t>& allowed) {
    struct position {
      int32_t set;
      partial_utf8 partial;
    };
    std::vector<position> path(max_depth + 1);
    path[0] = {intern(std::vector<stack>(start.stacks)), start.partial};
    for (size_t i = 1; i < nodes.size();) {
      const token_trie::node& n = nodes[i];
      position from = path[n.depth - 1];
      position& to = path[n.depth];
      if (!step(from.set, from.partial, n.byte, to.set, to.partial)) {
        i = n.end;
        continue;
      }
      for (uint32_t t = 0; t < n.n_tokens; ++t) allowed[token_ids[n.first_token + t]] = 1;
      ++i;
    }
    return !over_budget();
  }

  bool over_budget() const {
    return sets_.size() > max_sets || words_ > max_words || by_mask_.size() > max_transitions;
  }

 private:
  struct stack_set {
    std::vector<stack> stacks;
    std::array<int32_t, 128> ascii;  // transition per ASCII byte: a set id, rejected or unknown
  };

  bool step(int32_t set, partial_utf8 partial, uint8_t byte, int32_t& to_set, partial_utf8& to_partial) {
    if (partial.missing == 0 && byte < 0x80) {
      int32_t t = sets_[set].ascii[byte];
      if (t == unknown) t = sets_[set].ascii[byte] = transition(set, byte);
      if (t == rejected) return false;
      to_set = t;
      to_partial = {};
      return true;
    }
    if (!decode_byte(partial, byte)) return false;
    if (partial.missing > 0) {
      if (!partial_possible(r_, sets_[set].stacks, partial)) return false;
      to_set = set;
      to_partial = partial;
      return true;
    }
    int32_t t = transition(set, partial.value);
    if (t == rejected) return false;
    to_set = t;
    to_partial = {};
    return true;
  }

  int32_t transition(int32_t set, uint32_t cp) {
    const std::vector<stack>& stacks = sets_[set].stacks;
    std::vector<stack> next;
    if (stacks.size() > 64) {  // no room for the matched bits: computed every time
      if (advance_matching(r_, stacks, cp, next) != step_result::ok) return rejected;
      return intern(std::move(next));
    }
    uint64_t matched = 0;
    for (size_t i = 0; i < stacks.size(); ++i)
      if (!stacks[i].empty() && class_matches(r_, stacks[i].back(), cp)) matched |= uint64_t{1} << i;
    if (matched == 0) return rejected;
    auto [it, inserted] = by_mask_.try_emplace({set, matched}, rejected);
    if (!inserted) return it->second;
    if (advance(
            r_, stacks, [&](size_t i) { return (matched >> i) & 1; }, next) == step_result::ok)
      it->second = intern(std::move(next));
    return it->second;
  }

  int32_t intern(std::vector<stack>&& stacks) {
    size_t h = hash_of(stacks, {});
    auto& ids = by_hash_[h];
    for (int32_t id : ids)
      if (sets_[id].stacks == stacks) return id;
    int32_t id = static_cast<int32_t>(sets_.size());
    for (const stack& s : stacks) words_ += s.size() + 4;
    sets_.push_back({std::move(stacks), {}});
    sets_.back().ascii.fill(unknown);
    ids.push_back(id);
    return id;
  }

  const rules& r_;
  std::deque<stack_set> sets_;
  std::unordered_map<size_t, std::vector<int32_t>> by_hash_;
  std::unordered_map<set_and_mask, int32_t, set_and_mask_hash> by_mask_;
  size_t words_ = 0;
};

namespace {

// Without the memo: a matcher copy per trie depth, advanced one byte per node.
void walk_with_copies(const matcher& m, const std::vector<token_trie::node>& nodes,
                      const std::vector<uint32_t>& token_ids, size_t max_depth, std::vector<uint8_t>& allowed) {
  std::vector<matcher> path(max_depth + 1, m);
  for (size_t i = 1; i < nodes.size();) {
    const token_trie::node& n = nodes[i];
    path[n.depth] = path[n.depth - 1];
    char byte = static_cast<char>(n.byte);
    if (!path[n.depth].accept(std::string_view(&byte, 1))) {
      i = n.end;
      continue;
    }
    for (uint32_t t = 0; t < n.n_tokens; ++t) allowed[token_ids[n.first_token + t]] = 1;
    ++i;
  }
}

}  // namespace

token_trie::token_trie(const std::vector<std::string>& pieces)
    : nodes_(std::make_unique<std::vector<node>>()), n_tokens_(pieces.size()) {
  // Sorted pieces share prefixes with their neighbours, so the trie is built in preorder in one
  // pass: pop back to the common prefix, then add a node per remaining byte.
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < pieces.size(); ++i)
    if (!pieces[i].empty()) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return pieces[a] < pieces[b]; });

  std::vector<node>& nodes = *nodes_;
  nodes.push_back({0, 0, 0, 0, 0});
  std::vector<uint32_t> path = {0};  // node index by depth
  std::string_view previous;
  for (uint32_t id : order) {
    std::string_view piece = pieces[id];
    size_t common = 0;
    while (common < piece.size() && common < previous.size() && piece[common] == previous[common]) ++common;
    while (path.size() > common + 1) {
      nodes[path.back()].end = static_cast<uint32_t>(nodes.size());
      path.pop_back();
    }
    for (size_t d = common; d < piece.size(); ++d) {
      path.push_back(static_cast<uint32_t>(nodes.size()));
      nodes.push_back({0, 0, 0, static_cast<uint32_t>(d + 1), static_cast<uint8_t>(piece[d])});
    }
    node& last = nodes[path.back()];
    if (last.n_tokens == 0) last.first_token = static_cast<uint32_t>(token_ids_.size());
    ++last.n_tokens;
    token_ids_.push_back(id);
    max_depth_ = std::max(max_depth_, piece.size());
    previous = piece;
  }
  for (uint32_t n : path) nodes[n].end = static_cast<uint32_t>(nodes.size());
}

token_trie::~token_trie() = default;

void allowed_tokens(const matcher& m, const token_trie& trie, std::vector<uint8_t>& allowed) {
  allowed.assign(trie.size(), 0);
  mask_walker walker(m.source().compiled());
  if (walker.walk(m.current(), *trie.nodes_, trie.token_ids_, trie.max_depth_, allowed)) return;
  allowed.assign(trie.size(), 0);
  walk_with_copies(m, *trie.nodes_, trie.token_ids_, trie.max_depth_, allowed);
}

namespace {

struct matcher_key {
  matcher m;
  bool operator==(const matcher_key& other) const { return m.same_state(other.m); }
};
struct matcher_key_hash {
  size_t operator()(const matcher_key& k) const { return k.m.state_hash(); }
};

}  // namespace

struct mask_cache_entries {
  std::optional<matcher> owner;  // holds the grammar the walker's memo belongs to
  std::unique_ptr<mask_walker> walker;
  std::unordered_map<matcher_key, std::vector<uint8_t>, matcher_key_hash> masks;
};

mask_cache::mask_cache(std::shared_ptr<const token_trie> trie, size_t max_entries)
    : trie_(std::move(trie)),
      max_entries_(std::max<size_t>(max_entries, 1)),
      entries_(std::make_shared<mask_cache_entries>()) {}

const std::vector<uint8_t>& mask_cache::allowed(const matcher& m) {
  auto& e = *static_cast<mask_cache_entries*>(entries_.get());
  const rules& r = m.source().compiled();
  if (!e.owner || &e.owner->source() != &m.source()) {  // another grammar: nothing cached applies
    e.masks.clear();
    e.walker.reset();
    e.owner = m;
  }
  auto found = e.masks.find(matcher_key{m});
  if (found != e.masks.end()) {
    ++hits_;
    return found->second;
  }
  ++misses_;
  if (e.masks.size() >= max_entries_) e.masks.clear();  // simple eviction: start over
  std::vector<uint8_t> mask(trie_->size(), 0);
  if (!e.walker) e.walker = std::make_unique<mask_walker>(r);
  const token_trie& t = *trie_;
  if (!e.walker->walk(m.current(), *t.nodes_, t.token_ids_, t.max_depth_, mask)) {
    // The memo outgrew its bound: drop it, and compute this mask afresh.
    e.walker.reset();
    allowed_tokens(m, t, mask);
  }
  return e.masks.emplace(matcher_key{m}, std::move(mask)).first->second;
}

}  // namespace pocketlm::grammar
