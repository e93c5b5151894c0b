// UTF-8 helpers with llama.cpp's exact leniency: its decoder accepts overlong forms and
// surrogates, and turns each byte it cannot decode into U+FFFD.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pocketlm::utf8 {

constexpr uint32_t k_replacement = 0xFFFD;

// Length of the sequence a lead byte announces (1 for continuation and invalid bytes).
size_t sequence_length(uint8_t lead);

// Decodes like llama.cpp's unicode_cpts_from_utf8: an undecodable byte becomes one U+FFFD.
// Sequences decoding above U+10FFFF (which llama.cpp cannot re-encode) count as undecodable.
std::vector<uint32_t> decode_lenient(std::string_view text);

// Appends the UTF-8 form of `cpt` (<= 0x10FFFF; surrogates are encoded as-is, like llama.cpp).
void append(std::string& out, uint32_t cpt);

// Number of bytes at the end of `text` that form an incomplete (but so far valid) sequence.
size_t incomplete_tail(std::string_view text);

}  // namespace pocketlm::utf8
