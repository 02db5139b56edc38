// RegionVLM's configuration (regionvlm.h has the network): torch-free, so the config reader is
// fuzzed without LibTorch (tests/fuzz/fuzz_configs.cpp).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rc {

inline const char* const kRegionVlmName = "regionvlm";
inline const char* const kLayoutRegionVlmLavis = "regionvlm-lavis";
inline const char* const kLayoutRegionVlmHf = "hf-blip2";

struct T5Config {
    int vocab_size = 32128, d_model = 2048, d_kv = 64, num_heads = 32, d_ff = 5120;
    int num_layers = 24, num_decoder_layers = 24;
    int buckets = 32, max_distance = 128;
    double eps = 1e-6;
    bool gated = true;
    std::string act = "gelu";  ///< "gelu" (erf, as LAVIS sets it), "gelu_new" (tanh), "relu"
    bool tie_word_embeddings = false;
    int pad_token_id = 0, eos_token_id = 1, decoder_start_token_id = 0;
};

struct RegionVlmConfig {
    std::string source, layout;  ///< the config file; kLayoutRegionVlm*
    int image_size = 364, patch_size = 14;
    int vision_width = 1408, vision_depth = 39, vision_heads = 16, vision_mlp = 6144;
    double vision_eps = 1e-6, ln_vision_eps = 1e-5;
    int num_query = 32, max_txt_len = 32;
    int qf_hidden = 768, qf_layers = 12, qf_heads = 12, qf_intermediate = 3072;
    int qf_max_positions = 512, qf_vocab = 30523, cross_attention_freq = 2;
    double qf_eps = 1e-12;
    bool qformer_text = true;  ///< the Q-Former has its text parts (word/position embeddings, text FFN)
    T5Config t5;
    // Files (absolute): lavis layout
    std::string vit_file, pretrained_file, finetuned_file, t5_dir, bert_vocab;
    // hf-blip2 layout: the folder (weights), and an optional RegionVLM .pth over it
    std::string hf_dir;
    std::string tokenizer_file;  ///< T5's spiece.model
    std::vector<std::string> warnings;

    int grid() const { return image_size / patch_size; }
};

/// config.json of either layout; rc::Error naming the file and key at fault.
RegionVlmConfig read_regionvlm_config(const nlohmann::json& root, const std::string& source,
                                      const std::string& folder);

}  // namespace rc
