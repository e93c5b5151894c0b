// SentencePiece-style merging (llama.cpp's llm_tokenizer_spm_session): repeatedly merge the
// adjacent pair whose concatenation is the highest-scoring token, then resegment pieces that
// are not tokens back into their merge parts or byte tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/vocab.h"

namespace pocketlm {

// `text` must already have spaces escaped as U+2581.
void spm_encode(const vocab_data& v, const std::string& text, std::vector<int32_t>& out);

}  // namespace pocketlm
