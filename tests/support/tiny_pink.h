// A tiny random Pink checkpoint set laid out as the real one (docs/pink-layout.md): a LLaMA-2
// folder with torch.save shards and their index, a Hugging Face CLIP folder, and the Pink folder
// with config.json (model_type "pink"), saved_parameters.pth (a plain dict: adapters in fp32,
// projector and the grown embeddings in fp16), tokenizer.model and added_tokens.json.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "regionchat/config.h"

namespace rc::testing {

struct TinyPinkOptions {
    uint64_t seed = 3;
    bool zero_adapters = false;     ///< B of every adapter zero: the network is plain LLaVA
    bool adapter_mlp = false;       ///< also adapters before the MLPs
    bool non_linear = false;        ///< SiLU inside the adapters
    bool added_tokens_json = true;  ///< write added_tokens.json
};

struct TinyPink {
    std::string model_dir, llama_dir, clip_dir;
    ModelConfig config;  ///< as the loader should read it
};

/// Writes `root`/llama-2-tiny, `root`/clip-tiny and `root`/pink-tiny. config.json names the
/// others as hub ids ("meta-llama/llama-2-tiny", "openai/clip-tiny"), found next to the model.
TinyPink write_tiny_pink(const std::string& root, const TinyPinkOptions& options = {});

/// LLaMA's keys as a LlamaConfig's config.json has them at its top level (the original LLaVA
/// and Pink configs extend it): model_type "llama", sizes, eps, vocab, fp16, use_cache.
nlohmann::json llama_config_json(const TextConfig& text);
/// A Hugging Face CLIPModel config.json (a stub text_config, the vision sizes of `vision`).
nlohmann::json clip_config_json(const VisionConfig& vision);

/// Pink's 13 added tokens in the order Pink adds them.
extern const char* const kPinkTokens[13];

}  // namespace rc::testing
