// Checks a SentencePiece model file's bytes before SentencePiece sees them. SentencePiece 0.1.97
// (Debian's) trusts the normaliser's precompiled_charsmap: a darts-clone double-array trie whose
// unit offsets and leaf values index memory unchecked on the first encode. This walks the model
// proto's wire format (no generated classes, no LibTorch) and proves every index the trie walk
// can form stays inside the table, so a hostile tokenizer.model is refused with a message
// instead of reading out of bounds.
#pragma once

#include <string>
#include <string_view>

namespace rc {

/// Largest tokenizer model read (real ones: LLaMA 0.5 MB, T5 0.8 MB, Gemma 4 MB).
constexpr size_t kMaxSentencePieceModelBytes = size_t(64) << 20;

/// Empty when `model` is a well-formed SentencePiece ModelProto whose normaliser and
/// denormaliser tables are safe to walk; otherwise what is wrong, in words.
std::string sentencepiece_model_problem(std::string_view model);

/// The same for one precompiled_charsmap blob (exposed for tests).
std::string charsmap_problem(std::string_view charsmap);

}  // namespace rc
