#include "tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <span>
#include <string_view>
#include <vector>

#include "tokenizer/utf8.h"

namespace pocketlm {
namespace {

// llama.cpp's pre-tokenizer regexes (src/llama-vocab.cpp, llm_tokenizer_bpe), as written there;
// each comment names the LLAMA_VOCAB_PRE_TYPE_* values that share the list. Of those llama.cpp
// runs without GPT-2 byte encoding, gemma4 and sarvam-moe are here; whitespace is not.
// clang-format off
// GEMMA4 SARVAM_MOE: only newline runs are split off; merges then run over whole lines.
constexpr const char* k_gemma4[] = {
    "[^\\n]+|[\\n]+",
};
// LLAMA3
constexpr const char* k_llama3[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// JAIS2
constexpr const char* k_jais2[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
};
// DBRX SMAUG
constexpr const char* k_dbrx[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// DEEPSEEK_LLM
constexpr const char* k_deepseek_llm[] = {
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
};
// DEEPSEEK3_LLM HUNYUAN_DENSE JOYAI_LLM HY_V4
constexpr const char* k_deepseek3_llm[] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};
// SPARK2_5
constexpr const char* k_spark2_5[] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+",
    "\\p{N}",
};
// YOUTU
constexpr const char* k_youtu[] = {
    "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// DEEPSEEK_CODER
constexpr const char* k_deepseek_coder[] = {
    "[\r\n]",
    "\\s?\\p{L}+",
    "\\s?\\p{P}+",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}",
};
// FALCON
constexpr const char* k_falcon[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|`]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "[0-9][0-9][0-9]",
};
// STARCODER REFACT COMMAND_R SMOLLM CODESHELL EXAONE MINERVA MELLUM2
constexpr const char* k_starcoder[] = {
    "\\p{N}",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
};
// GPT2 MPT OLMO JAIS TRILLION GRANITE_DOCLING
constexpr const char* k_gpt2[] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
};
// STABLELM2 QWEN2 HUNYUAN SOLAR_OPEN
constexpr const char* k_stablelm2[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// QWEN35
constexpr const char* k_qwen35[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// PORO BLOOM GPT3_FINNISH
constexpr const char* k_poro[] = {
    " ?[^(\\s|.,!?…。，、।۔،)]+",
};
// CHATGLM4
constexpr const char* k_chatglm4[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// VIKING
constexpr const char* k_viking[] = {
    " ?[^(\\s|.,!?…。，、।۔،)]+",
    "\\p{N}",
};
// TEKKEN
constexpr const char* k_tekken[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// CHAMELEON
constexpr const char* k_chameleon[] = {
    "<sentinel:[0-9]+>",
    "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
    "([\\t\\n]|    |  )",
    "\\p{N}",
    "[\\p{P}!-/:-@\\[-`{-~]",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
};
// GPT4O MINIMAX_M2
constexpr const char* k_gpt4o[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// GRANITE_EMB_MULTI
constexpr const char* k_granite_emb_multi[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// TINY_AYA
constexpr const char* k_tiny_aya[] = {
    "\\d{1,3}(?=(?:\\d{3})*\\b)",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// KIMI_K2 (the trigger of a hand-written splitter, see k_kimi_k2_unicode)
constexpr const char* k_kimi_k2[] = {
    "\\p{Han}+",
};
// SUPERBPE
constexpr const char* k_superbpe[] = {
    "\\p{N}+",
    "(?=(\\d{3})+(?!\\d))",
};
// BAILINGMOE
constexpr const char* k_bailingmoe[] = {
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
};
// SEED_CODER
constexpr const char* k_seed_coder[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// UFAKZEKA
constexpr const char* k_ufakzeka[] = {
    "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// GROK_2
constexpr const char* k_grok_2[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// AFMOE
constexpr const char* k_afmoe[] = {
    "\\p{AFMoE_digits}",
    "[一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// LAGUNA
constexpr const char* k_laguna[] = {
    "[^\\n]+|[\\n]+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// EXAONE_MOE
constexpr const char* k_exaone_moe[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
};
// MINICPM5
constexpr const char* k_minicpm5[] = {
    "\\p{N}{1,3}",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// DEFAULT
constexpr const char* k_default[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
};
// clang-format on

struct pre_type_entry {
  std::string_view name;
  std::span<const char* const> regexes;
  pre_type_settings settings;
};

constexpr pre_type_settings k_plain{};
constexpr pre_type_settings k_ignore_merges{.ignore_merges = true};
constexpr pre_type_settings k_llama3_like{.ignore_merges = true, .add_bos = true};
constexpr pre_type_settings k_gemma4_like{.spm_style = true, .force_add_bos = true, .newline_runs_whole = true};
constexpr pre_type_settings k_sarvam{.spm_style = true};

// tokenizer.ggml.pre -> regexes and settings, as llama_vocab::impl::load maps them.
constexpr pre_type_entry k_pre_types[] = {
    {"default", k_default, k_plain},
    {"gemma4", k_gemma4, k_gemma4_like},
    {"granite-embed-multi-311m", k_gemma4, k_gemma4_like},
    {"sarvam-moe", k_gemma4, k_sarvam},
    {"llama3", k_llama3, k_llama3_like},
    {"llama-v3", k_llama3, k_llama3_like},
    {"llama-bpe", k_llama3, k_llama3_like},
    {"falcon3", k_llama3, k_llama3_like},
    {"falcon-h1", k_llama3, k_llama3_like},
    {"pixtral", k_llama3, k_llama3_like},
    {"midm-2.0", k_llama3, k_llama3_like},
    {"lfm2", k_llama3, k_llama3_like},
    {"jina-v5-nano", k_llama3, k_llama3_like},
    {"minicpm5", k_minicpm5, k_ignore_merges},
    {"deepseek-llm", k_deepseek_llm, k_plain},
    {"deepseek-coder", k_deepseek_coder, k_plain},
    {"deepseek-v3", k_deepseek3_llm, k_plain},
    {"hunyuan-dense", k_deepseek3_llm, k_plain},
    {"hy_v4", k_deepseek3_llm, k_plain},
    {"joyai-llm", k_deepseek3_llm, k_plain},
    {"spark2_5", k_spark2_5, k_plain},
    {"youtu", k_youtu, k_ignore_merges},
    {"falcon", k_falcon, k_plain},
    {"mpt", k_gpt2, k_plain},
    {"starcoder", k_starcoder, k_plain},
    {"refact", k_starcoder, k_plain},
    {"command-r", k_starcoder, k_plain},
    {"smollm", k_starcoder, k_plain},
    {"codeshell", k_starcoder, k_plain},
    {"exaone", k_starcoder, k_plain},
    {"minerva-7b", k_starcoder, k_plain},
    {"mellum2", k_starcoder, k_plain},
    {"gpt-2", k_gpt2, k_plain},
    {"phi-2", k_gpt2, k_plain},
    {"jina-es", k_gpt2, k_plain},
    {"jina-de", k_gpt2, k_plain},
    {"gigachat", k_gpt2, k_plain},
    {"jina-v2-es", k_gpt2, k_plain},
    {"jina-v2-de", k_gpt2, k_plain},
    {"a.x-4.0", k_gpt2, k_plain},
    {"mellum", k_gpt2, k_plain},
    {"modern-bert", k_gpt2, k_plain},
    {"jina-v1-en", k_gpt2, k_plain},  // llama.cpp also appends SEP with add_special (add_sep)
    {"jina-v2-code", k_gpt2, k_plain},
    {"roberta-bpe", k_gpt2, k_plain},
    {"exaone4", k_gpt2, k_plain},
    {"olmo", k_gpt2, k_plain},
    {"jais", k_gpt2, k_plain},
    {"trillion", k_gpt2, k_plain},
    {"granite-docling", k_gpt2, k_plain},
    {"jais-2", k_jais2, k_plain},
    {"qwen2", k_stablelm2, k_plain},
    {"deepseek-r1-qwen", k_stablelm2, k_plain},
    {"kormo", k_stablelm2, k_plain},
    {"f2llmv2", k_stablelm2, k_plain},
    {"megrez", k_stablelm2, k_plain},
    {"stablelm2", k_stablelm2, k_plain},
    {"hunyuan", k_stablelm2, k_plain},
    {"solar-open", k_stablelm2, k_plain},
    {"grok-2", k_grok_2, k_plain},
    {"qwen35", k_qwen35, k_plain},
    {"dbrx", k_dbrx, k_plain},
    {"smaug-bpe", k_dbrx, k_plain},
    {"poro-chat", k_poro, k_plain},
    {"bloom", k_poro, k_plain},
    {"gpt3-finnish", k_poro, k_plain},
    {"glm4", k_chatglm4, {.no_default_bos = true}},
    {"chatglm-bpe", k_chatglm4, {.no_default_bos = true}},
    {"viking", k_viking, k_plain},
    {"tekken", k_tekken, k_llama3_like},
    {"chameleon", k_chameleon, {.add_bos = true}},
    {"gpt-4o", k_gpt4o, k_plain},
    {"llama4", k_gpt4o, k_plain},
    {"kanana2", k_gpt4o, k_plain},
    {"talkie", k_gpt4o, k_plain},
    {"minimax-m2", k_gpt4o, k_plain},
    {"granite-embed-multi-97m", k_granite_emb_multi, k_ignore_merges},
    {"tiny_aya", k_tiny_aya, k_plain},
    {"cohere2moe", k_tiny_aya, k_plain},
    {"kimi-k2", k_kimi_k2, k_plain},
    {"superbpe", k_superbpe, k_plain},
    {"bailingmoe", k_bailingmoe, k_plain},
    {"bailingmoe2", k_bailingmoe, k_plain},
    {"llada-moe", k_bailingmoe, k_plain},
    {"seed-coder", k_seed_coder, k_plain},
    {"ufakzeka", k_ufakzeka, k_plain},
    {"afmoe", k_afmoe, k_plain},
    {"laguna", k_laguna, k_plain},
    {"exaone-moe", k_exaone_moe, k_plain},
};

const pre_type_entry* find_pre_type(std::string_view name) {
  for (const auto& e : k_pre_types) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

// How llama.cpp's unicode_regex_split runs one regex:
//  - unicode: the expressions llama.cpp replaces by hand-written code (GPT-2, Llama 3, Qwen2,
//    Qwen3.5), run as written with Unicode properties;
//  - collapsed: any other expression naming \p{..}: every non-ASCII code point becomes one
//    byte for its category (whitespace 0x0B, N 0xD1, L 0xD2, P 0xD3, M 0xD4, S 0xD5, else
//    0xD0) and each \p{..} the matching byte class, then std::regex (ECMAScript, ASCII \s);
//  - wide: the rest, on code points with non-ASCII whitespace as 0x0B (std::wregex);
//  - afmoe_digits: its hand-written digit grouping (afmoe and tiny_aya).
enum class match_mode { unicode, collapsed, wide, afmoe_digits };

constexpr std::string_view k_custom_unicode[] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "
    "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
// unicode_regex_split_custom_kimi_k2 as one regex: its Han ranges (unicode_cpt_is_han) as
// words, letter runs without Han and without case classes (its code tests only "letter"),
// contractions, then Llama 3's digit and whitespace rules.
constexpr std::string_view k_kimi_k2_trigger = "\\p{Han}+";
#define POCKETLM_HAN                                                                                                 \
  "\\x{4E00}-\\x{9FFF}\\x{3400}-\\x{4DBF}\\x{20000}-\\x{2A6DF}\\x{2A700}-\\x{2B73F}\\x{2B740}-\\x{2B81F}\\x{2B820}-" \
  "\\x{2CEAF}\\x{2CEB0}-\\x{2EBEF}\\x{F900}-\\x{FAFF}\\x{2F800}-\\x{2FA1F}"
constexpr const char* k_kimi_k2_unicode =
    "[" POCKETLM_HAN "]+|[^\\r\\n\\p{L}\\p{N}]?(?:(?![" POCKETLM_HAN
    "])\\p{L})+(?:'[sStTmMdD]|'[rR][eE]|'[vV][eE]|'[lL][lL])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
#undef POCKETLM_HAN
constexpr std::string_view k_custom_afmoe[] = {"\\p{AFMoE_digits}", "\\d{1,3}(?=(?:\\d{3})*\\b)"};

// unicode_regex_split's category table: \p{..} -> collapsed byte and its ASCII members.
struct collapsed_category {
  std::string_view name;
  char byte;
  std::string_view ascii;
};
constexpr collapsed_category k_categories[] = {
    {"\\p{N}", '\xD1', "\x30-\x39"},
    {"\\p{L}", '\xD2', "\x41-\x5A\x61-\x7A"},
    {"\\p{P}", '\xD3', "\x21-\x23\x25-\x2A\x2C-\x2F\x3A-\x3B\x3F-\x40\\\x5B-\\\x5D\x5F\\\x7B\\\x7D"},
    {"\\p{M}", '\xD4', ""},
    {"\\p{S}", '\xD5', "\\\x24\\\x2B\x3C-\x3E\x5E\x60\\\x7C\\\x7E"},
    {"\\p{Lu}", '\xD2', "\x41-\x5A\x61-\x7A"},
    {"\\p{Ll}", '\xD2', "\x41-\x5A\x61-\x7A"},
    {"\\p{Lt}", '\xD2', "\x41-\x5A\x61-\x7A"},
    {"\\p{Lm}", '\xD2', "\x41-\x5A\x61-\x7A"},
    {"\\p{Lo}", '\xD2', "\x41-\x5A\x61-\x7A"},
};

bool names_category(std::string_view expr) {
  return std::any_of(std::begin(k_categories), std::end(k_categories),
                     [expr](const collapsed_category& c) { return expr.find(c.name) != std::string_view::npos; });
}

// llama.cpp's regex collapse, character for character (unicode_regex_split).
result<std::string> collapse_regex(std::string_view expr) {
  for (unsigned char c : expr) {
    if (c >= 128) return error{"pre-tokenizer regex mixes unicode categories and non-ASCII characters"};
  }
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < expr.size(); ++i) {
    if (expr[i] == '[' && (i == 0 || expr[i - 1] != '\\')) {
      out += '[';
      inside = true;
      continue;
    }
    if (inside && expr[i] == ']' && expr[i - 1] != '\\') {
      out += ']';
      inside = false;
      continue;
    }
    if (expr[i] == '\\' && i + 3 < expr.size() && expr[i + 1] == 'p' && expr[i + 2] == '{') {
      const size_t close = expr.find('}', i + 3);
      if (close != std::string_view::npos && close <= i + 10) {
        const std::string_view pat = expr.substr(i, close - i + 1);
        const auto* cat = std::find_if(std::begin(k_categories), std::end(k_categories),
                                       [pat](const collapsed_category& c) { return c.name == pat; });
        if (cat != std::end(k_categories)) {
          if (!inside) out += '[';
          out += cat->byte;
          out += cat->ascii;
          if (!inside) out += ']';
          i = close;
          continue;
        }
      }
    }
    out += expr[i];
  }
  return out;
}

// unicode_set_whitespace (llama.cpp's unicode-data.cpp).
bool is_llama_whitespace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Collapsed byte for one code point's general category (0xD0 for C*, Z* that is not
// whitespace, and surrogates), from PCRE2's Unicode tables.
char category_byte_uncached(uint32_t cpt) {
  static pcre2_code* const code = [] {
    int err = 0;
    PCRE2_SIZE off = 0;
    const char* re = R"((\p{N})|(\p{L})|(\p{P})|(\p{M})|(\p{S}))";
    return pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re), PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &err, &off, nullptr);
  }();
  if (cpt >= 0xD800 && cpt <= 0xDFFF) return '\xD0';
  std::string s;
  utf8::append(s, cpt);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, md, nullptr);
  char byte = '\xD0';
  if (rc > 1) byte = static_cast<char>(0xD1 + (rc - 2));  // rc - 1 is the group that matched
  pcre2_match_data_free(md);
  return byte;
}

// The Basic Multilingual Plane is tabled on first use (a few ms), the rest asked each time.
char category_byte(uint32_t cpt) {
  static const std::vector<char> bmp = [] {
    std::vector<char> t(0x10000);
    for (uint32_t c = 0; c < t.size(); ++c) t[c] = category_byte_uncached(c);
    return t;
  }();
  return cpt < bmp.size() ? bmp[cpt] : category_byte_uncached(cpt);
}

bool is_number(uint32_t cpt) {
  if (cpt < 128) return cpt >= '0' && cpt <= '9';
  return category_byte(cpt) == '\xD1';
}

}  // namespace

const std::string& byte_to_unicode(uint8_t b) {
  static const std::array<std::string, 256> map = [] {
    // Printable Latin-1 bytes map to themselves; the rest to U+0100 upwards, in byte order.
    std::array<std::string, 256> m;
    uint32_t next = 256;
    for (int i = 0; i < 256; ++i) {
      const bool printable = (i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE;
      utf8::append(m[i], printable ? static_cast<uint32_t>(i) : next++);
    }
    return m;
  }();
  return map[b];
}

int unicode_to_byte(uint32_t cpt) {
  static const std::array<int, 512> inverse = [] {
    std::array<int, 512> inv{};
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) {
      const auto cpts = utf8::decode_lenient(byte_to_unicode(static_cast<uint8_t>(b)));
      inv[cpts[0]] = b;
    }
    return inv;
  }();
  return cpt < inverse.size() ? inverse[cpt] : -1;
}

std::optional<pre_type_settings> find_pre_type_settings(const std::string& pre) {
  const auto* e = find_pre_type(pre);
  if (!e) return std::nullopt;
  return e->settings;
}

struct pre_tokenizer::compiled {
  pcre2_code* code = nullptr;
  match_mode mode = match_mode::unicode;
  ~compiled() { pcre2_code_free(code); }
};

pre_tokenizer::~pre_tokenizer() = default;

result<std::unique_ptr<pre_tokenizer>> pre_tokenizer::create(const std::string& pre) {
  const auto* entry = find_pre_type(pre);
  if (!entry) return error{"tokenizer.ggml.pre: unsupported pre-tokenizer '" + pre + "'"};
  std::unique_ptr<pre_tokenizer> p(new pre_tokenizer());
  for (const char* expr_c : entry->regexes) {
    const std::string_view expr = expr_c;
    auto c = std::make_unique<compiled>();
    std::string pattern(expr);
    uint32_t options = 0;
    if (std::find(std::begin(k_custom_afmoe), std::end(k_custom_afmoe), expr) != std::end(k_custom_afmoe)) {
      c->mode = match_mode::afmoe_digits;
      p->regexes_.push_back(std::move(c));
      continue;
    }
    if (expr == k_kimi_k2_trigger) {
      pattern = k_kimi_k2_unicode;
      c->mode = match_mode::unicode;
      options = PCRE2_UTF | PCRE2_UCP;
    } else if (std::find(std::begin(k_custom_unicode), std::end(k_custom_unicode), expr) !=
               std::end(k_custom_unicode)) {
      c->mode = match_mode::unicode;
      options = PCRE2_UTF | PCRE2_UCP;
    } else if (names_category(expr)) {
      auto collapsed = collapse_regex(expr);
      if (!collapsed) return collapsed.err();
      pattern = std::move(*collapsed);
      c->mode = match_mode::collapsed;
      options = PCRE2_DOLLAR_ENDONLY;  // bytes, ECMAScript's $
    } else {
      c->mode = match_mode::wide;
      options = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY;  // code points, ASCII \s \d \b
    }
    int err = 0;
    PCRE2_SIZE err_off = 0;
    c->code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err, &err_off, nullptr);
    if (!c->code) {
      std::array<PCRE2_UCHAR, 256> msg{};
      pcre2_get_error_message(err, msg.data(), msg.size());
      return error{"pre-tokenizer regex: " + std::string(reinterpret_cast<char*>(msg.data()))};
    }
    pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
    p->regexes_.push_back(std::move(c));
  }
  return p;
}

namespace {

struct span {
  size_t begin, end;  // code point indices
};

// A rendering of the code points that one kind of regex runs on, with offsets both ways.
struct subject {
  std::string text;
  std::vector<size_t> byte_of;  // code point index -> byte offset (size n + 1)
  std::vector<size_t> cpt_of;   // byte offset -> code point index, at code point starts
};

subject make_subject(const std::vector<uint32_t>& cpts, match_mode mode) {
  subject s;
  s.byte_of.reserve(cpts.size() + 1);
  for (uint32_t c : cpts) {
    s.byte_of.push_back(s.text.size());
    if (mode == match_mode::collapsed) {
      s.text += c < 128 ? static_cast<char>(c) : is_llama_whitespace(c) ? '\x0B' : category_byte(c);
      continue;
    }
    // PCRE2 needs valid UTF-8: a surrogate is matched as U+E000, another "other" character.
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xE000;
    if (mode == match_mode::wide && c >= 128 && is_llama_whitespace(c)) c = 0x0B;
    utf8::append(s.text, c);
  }
  s.byte_of.push_back(s.text.size());
  s.cpt_of.assign(s.text.size() + 1, 0);
  for (size_t i = 0; i < s.byte_of.size(); ++i) s.cpt_of[s.byte_of[i]] = i;
  return s;
}

// One regex over each input span, as std::regex_iterator: matches and the gaps between them
// become output spans (empty matches produce no word). Lookarounds see only the span.
void split_spans(const pcre2_code* code, pcre2_match_data* md, const subject& subj, const std::vector<span>& in,
                 std::vector<span>& out) {
  const auto* base = reinterpret_cast<PCRE2_SPTR>(subj.text.data());
  for (const span& s : in) {
    const size_t b = subj.byte_of[s.begin], e = subj.byte_of[s.end];
    size_t pos = b, emitted = b;
    uint32_t opts = PCRE2_NO_UTF_CHECK;
    while (pos < e) {
      const int rc = pcre2_match(code, base + b, e - b, pos - b, opts, md, nullptr);
      if (rc < 0) break;
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t m_begin = b + ov[0], m_end = b + ov[1];
      if (m_begin > emitted) out.push_back({subj.cpt_of[emitted], subj.cpt_of[m_begin]});
      if (m_end > m_begin) out.push_back({subj.cpt_of[m_begin], subj.cpt_of[m_end]});
      emitted = m_end;
      pos = m_end;
      // After an empty match the next one must not be empty at the same place.
      opts = m_end > m_begin ? PCRE2_NO_UTF_CHECK : PCRE2_NO_UTF_CHECK | PCRE2_NOTEMPTY_ATSTART;
    }
    if (emitted < e) out.push_back({subj.cpt_of[emitted], s.end});
  }
}

// unicode_regex_split_custom_afmoe: each run of digits splits into a leading group of
// len % 3 and then groups of 3; text before a group joins that group's first piece.
void split_afmoe_digits(const std::vector<uint32_t>& cpts, const std::vector<span>& in, std::vector<span>& out) {
  for (const span& s : in) {
    size_t prev = s.begin;
    for (size_t pos = s.begin; pos < s.end;) {
      if (!is_number(cpts[pos])) {
        ++pos;
        continue;
      }
      const size_t start = pos;
      while (pos < s.end && is_number(cpts[pos])) ++pos;
      size_t cur = start;
      if (const size_t rem = (pos - start) % 3; rem > 0) {
        out.push_back({prev, cur + rem});
        prev = cur += rem;
      }
      for (; cur < pos; cur += 3) {
        out.push_back({prev, cur + 3});
        prev = cur + 3;
      }
    }
    if (prev < s.end) out.push_back({prev, s.end});
  }
}

}  // namespace

std::vector<std::string> pre_tokenizer::split(std::string_view raw) const {
  // llama.cpp's code points (invalid bytes became U+FFFD); words are cut from their faithful
  // re-encoding.
  const auto cpts = utf8::decode_lenient(raw);
  std::vector<span> spans{{0, cpts.size()}}, next;
  std::array<std::unique_ptr<subject>, 3> subjects;  // by mode, built on first use
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  for (const auto& re : regexes_) {
    next.clear();
    if (re->mode == match_mode::afmoe_digits) {
      split_afmoe_digits(cpts, spans, next);
    } else {
      auto& subj = subjects[static_cast<size_t>(re->mode)];
      if (!subj) subj = std::make_unique<subject>(make_subject(cpts, re->mode));
      split_spans(re->code, md, *subj, spans, next);
    }
    spans.swap(next);
  }
  pcre2_match_data_free(md);
  std::vector<size_t> byte_of;
  std::string text;
  byte_of.reserve(cpts.size() + 1);
  for (uint32_t c : cpts) {
    byte_of.push_back(text.size());
    utf8::append(text, c);
  }
  byte_of.push_back(text.size());
  std::vector<std::string> words;
  words.reserve(spans.size());
  for (const span& s : spans) words.emplace_back(text, byte_of[s.begin], byte_of[s.end] - byte_of[s.begin]);
  return words;
}

}  // namespace pocketlm
