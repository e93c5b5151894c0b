// BPE merging of one pre-tokenized word (llama.cpp's llm_tokenizer_bpe_session): byte-level, or
// over UTF-8 characters for SentencePiece-style vocabularies (vocab_data::spm_style).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/vocab.h"

namespace pocketlm {

// Appends the ids for `word` (raw UTF-8, before any byte-to-unicode mapping).
void bpe_encode_word(const vocab_data& v, const std::string& word, std::vector<int32_t>& out);

}  // namespace pocketlm
