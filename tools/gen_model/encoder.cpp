// Encoder presets (bert, nomic-bert): their tensors and metadata as convert_hf_to_gguf.py's
// BertModel / NomicBertModel write them, and a synthetic WordPiece vocabulary laid out like
// BERT's vocab.txt (no npm package ships one): [PAD] 0, [unused*], [UNK] 100, [CLS] 101,
// [SEP] 102, [MASK] 103, then word-start pieces ("\u2581word", the converter's rewrite of a
// plain entry) and continuations (a "##piece" entry without its ##).
#include <algorithm>
#include <string>
#include <vector>

#include "gen_model.h"

namespace pocketlm::gen {

namespace {

const std::string k_word_start = "\xE2\x96\x81";  // U+2581

// Words whole, so longest-match has real choices ("▁the" vs "▁t" + "he").
constexpr const char* k_words[] = {
    "the",      "of",       "and",    "to",        "in",        "is",        "was",     "it",        "for",
    "on",       "with",     "as",     "at",        "by",        "an",        "be",      "this",      "that",
    "from",     "or",       "are",    "not",       "have",      "had",       "but",     "what",      "all",
    "were",     "when",     "we",     "there",     "can",       "you",       "which",   "their",     "said",
    "if",       "do",       "will",   "each",      "about",     "how",       "up",      "out",       "them",
    "then",     "she",      "many",   "some",      "so",        "these",     "would",   "other",     "into",
    "has",      "more",     "her",    "two",       "like",      "him",       "see",     "time",      "could",
    "no",       "make",     "than",   "first",     "been",      "its",       "who",     "now",       "people",
    "my",       "made",     "over",   "did",       "down",      "only",      "way",     "find",      "use",
    "may",      "water",    "long",   "little",    "very",      "after",     "words",   "call",      "just",
    "where",    "most",     "know",   "get",       "through",   "back",      "much",    "good",      "new",
    "write",    "our",      "me",     "man",       "too",       "any",       "day",     "same",      "right",
    "look",     "think",    "also",   "around",    "another",   "came",      "come",    "work",      "three",
    "must",     "because",  "does",   "part",      "even",      "place",     "well",    "such",      "here",
    "take",     "why",      "help",   "put",       "different", "away",      "again",   "off",       "went",
    "old",      "number",   "great",  "tell",      "men",       "say",       "small",   "every",     "found",
    "still",    "between",  "name",   "should",    "home",      "big",       "give",    "air",       "line",
    "set",      "own",      "under",  "read",      "last",      "never",     "us",      "left",      "end",
    "along",    "while",    "might",  "next",      "sound",     "below",     "saw",     "something", "thought",
    "both",     "few",      "those",  "always",    "show",      "large",     "often",   "together",  "asked",
    "house",    "world",    "going",  "want",      "school",    "important", "until",   "form",      "food",
    "keep",     "children", "feet",   "land",      "side",      "without",   "boy",     "once",      "animal",
    "life",     "enough",   "took",   "sometimes", "four",      "head",      "above",   "kind",      "began",
    "almost",   "live",     "page",   "got",       "earth",     "need",      "far",     "hand",      "high",
    "year",     "mother",   "light",  "country",   "father",    "let",       "night",   "picture",   "being",
    "study",    "second",   "soon",   "story",     "since",     "white",     "ever",    "paper",     "hard",
    "near",     "sentence", "better", "best",      "across",    "during",    "today",   "however",   "sure",
    "knew",     "try",      "told",   "young",     "sun",       "thing",     "whole",   "hear",      "example",
    "heard",    "several",  "change", "answer",    "room",      "sea",       "against", "top",       "turned",
    "learn",    "point",    "city",   "play",      "toward",    "five",      "himself", "usually",   "money",
    "seen",     "didn",     "car",    "morning",   "embedding", "model",     "vector",  "search",    "query",
    "document", "cafe",     "resume", "naive",     "hello",     "quick",     "brown",   "fox",       "jumps",
    "lazy",     "dog",      "sky",    "blue",      "llama",     "phone",     "small",   "fast",
};
constexpr const char* k_continuations[] = {"ing",  "ed", "er",   "ers", "est",  "ly",  "s",   "es",  "tion", "ness",
                                           "ment", "al", "able", "ful", "less", "ize", "ous", "ive", "ity",  "th"};
// Characters past ASCII (after lowercasing and accent stripping): Greek, Cyrillic, a few Latin
// letters without a decomposition, kana, CJK ideographs (always words of their own).
constexpr const char* k_chars[] = {
    "α",  "β",  "γ",  "δ",  "ε",  "λ",  "μ",  "π",  "σ",  "ω",  "а",  "б",  "в",  "г",  "д",  "е",  "и",
    "к",  "л",  "м",  "н",  "о",  "п",  "р",  "с",  "т",  "у",  "я",  "ß",  "ø",  "æ",  "ł",  "đ",  "の",
    "は", "に", "を", "た", "が", "で", "す", "る", "こ", "ん", "ア", "イ", "カ", "ン", "日", "本", "語",
    "中", "文", "字", "你", "好", "世", "界", "人", "大", "学", "生", "我", "是", "的", "天", "气", "很",
    "东", "京", "北", "山", "水", "火", "木", "金", "土", "月", "年", "国", "한", "국", "어", "¿",  "¡",
    "«",  "»",  "—",  "–",  "…",  "“",  "”",  "‘",  "’",  "·",  "、", "。", "，", "！", "？", "「", "」"};

}  // namespace

vocab_data wordpiece_vocab(int64_t n_vocab) {
  vocab_data v;
  const auto add = [&v](std::string t, int32_t type) {
    v.tokens.push_back(std::move(t));
    v.types.push_back(type);
  };
  add("[PAD]", 3);
  for (int i = 1; i < 100; ++i) add("[unused" + std::to_string(i - 1) + "]", 1);
  add("[UNK]", 3);
  add("[CLS]", 3);
  add("[SEP]", 3);
  add("[MASK]", 3);
  for (int c = 0x21; c < 0x7F; ++c) {  // every printable ASCII character, as a word and a continuation
    const std::string s(1, static_cast<char>(c));
    if (c >= 'A' && c <= 'Z') continue;  // lowercased before lookup
    add(k_word_start + s, 1);
    add(s, 1);
  }
  for (const char* c : k_chars) {
    add(k_word_start + c, 1);
    add(c, 1);
  }
  for (const char* w : k_words) {
    if (std::find(v.tokens.begin(), v.tokens.end(), k_word_start + w) == v.tokens.end()) add(k_word_start + w, 1);
  }
  for (const char* c : k_continuations) {
    if (std::find(v.tokens.begin(), v.tokens.end(), c) == v.tokens.end()) add(c, 1);
  }
  for (int i = 99; static_cast<int64_t>(v.tokens.size()) < n_vocab; ++i) add("[unused" + std::to_string(i) + "]", 1);
  return v;
}

}  // namespace pocketlm::gen
