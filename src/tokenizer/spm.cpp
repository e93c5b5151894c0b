#include "tokenizer/spm.h"

#include <queue>
#include <unordered_map>
#include <utility>

#include "tokenizer/utf8.h"

namespace pocketlm {
namespace {

struct symbol {
  int32_t prev, next;
  size_t begin, len;  // bytes of the text; len 0 once merged away
};

struct bigram {
  float score;
  int32_t left, right;
  size_t size;  // byte length of the pair when queued; a mismatch marks a stale entry
};

// Highest score first; ties go to the leftmost pair.
struct bigram_before {
  bool operator()(const bigram& a, const bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

class session {
 public:
  session(const vocab_data& v, const std::string& text) : v_(v), text_(text) {}

  void run(std::vector<int32_t>& out) {
    // One symbol per UTF-8 character as its lead byte announces (clamped at the end).
    for (size_t off = 0; off < text_.size();) {
      const size_t len = std::min(utf8::sequence_length(text_[off]), text_.size() - off);
      const auto idx = static_cast<int32_t>(syms_.size());
      off += len;
      syms_.push_back({idx - 1, off == text_.size() ? -1 : idx + 1, off - len, len});
    }
    for (int32_t i = 1; i < static_cast<int32_t>(syms_.size()); ++i) try_add(i - 1, i);
    while (!queue_.empty()) {
      const bigram b = queue_.top();
      queue_.pop();
      symbol& left = syms_[b.left];
      symbol& right = syms_[b.right];
      if (left.len == 0 || right.len == 0 || left.len + right.len != b.size) continue;
      left.len += right.len;
      right.len = 0;
      left.next = right.next;
      if (right.next >= 0) syms_[right.next].prev = b.left;
      try_add(left.prev, b.left);
      try_add(b.left, left.next);
    }
    for (int32_t i = syms_.empty() ? -1 : 0; i != -1; i = syms_[i].next) resegment(i, out);
  }

 private:
  std::string piece(int32_t i) const { return text_.substr(syms_[i].begin, syms_[i].len); }

  void try_add(int32_t l, int32_t r) {
    if (l == -1 || r == -1) return;
    std::string s = text_.substr(syms_[l].begin, syms_[l].len + syms_[r].len);
    const int32_t id = v_.find(s);
    if (id < 0) return;
    queue_.push({v_.score[id], l, r, s.size()});
    rev_merge_[std::move(s)] = {l, r};  // last writer wins, as in llama.cpp
  }

  void resegment(int32_t i, std::vector<int32_t>& out) {
    const std::string s = piece(i);
    if (int32_t id = v_.find(s); id >= 0) {
      out.push_back(id);
      return;
    }
    auto it = rev_merge_.find(s);
    if (it == rev_merge_.end()) {
      for (char c : s) push_byte(static_cast<uint8_t>(c), out);
      return;
    }
    const auto [l, r] = it->second;
    resegment(l, out);
    resegment(r, out);
  }

  // <0xNN> byte token, else the single-character token, else unknown (llama.cpp throws).
  void push_byte(uint8_t b, std::vector<int32_t>& out) const {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    const std::string name = {'<', '0', 'x', k_hex[b >> 4], k_hex[b & 15], '>'};
    int32_t id = v_.find(name);
    if (id < 0) id = v_.find(std::string(1, static_cast<char>(b)));
    if (id < 0) id = v_.unk;
    if (id >= 0) out.push_back(id);
  }

  const vocab_data& v_;
  const std::string& text_;
  std::vector<symbol> syms_;
  std::priority_queue<bigram, std::vector<bigram>, bigram_before> queue_;
  std::unordered_map<std::string, std::pair<int32_t, int32_t>> rev_merge_;
};

}  // namespace

void spm_encode(const vocab_data& v, const std::string& text, std::vector<int32_t>& out) { session(v, text).run(out); }

}  // namespace pocketlm
