// WordPiece (BERT) tokenization as llama.cpp's llm_tokenizer_wpm_session does it: code points
// NFD-reduced to their first part and accent marks dropped (strip_accents), lowercased,
// controls dropped, split at whitespace and around each punctuation mark, ASCII symbol and CJK
// ideograph; then each word, prefixed with U+2581 (the converter's mark for a word start,
// where BERT's vocab.txt marks continuations with ##), is cut into the longest vocabulary
// matches from the left; a word with a part that matches nothing becomes one unknown token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace pocketlm {

// The words of `text` after normalisation (llama.cpp's preprocess).
std::vector<std::string> wpm_words(std::string_view text, bool lowercase, bool strip_accents);

// Appends the ids of `text`'s words to `out`.
void wpm_encode(const vocab_data& v, std::string_view text, std::vector<int32_t>& out);

}  // namespace pocketlm
