// ParGo's configuration (pargo.h has the network): torch-free, so the config reader is fuzzed
// without LibTorch (tests/fuzz/fuzz_configs.cpp).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "regionchat/config.h"

namespace rc {

inline const char* const kParGoName = "pargo";
inline const char* const kLayoutParGo = "pargo";

struct ParGoConfig {
    std::string source;           ///< the config file, for messages
    std::string prompt_template;  ///< ParGo's, with "<ImageHere>" and "{}"
    int num_query = 304, num_local_query = 288;
    int image_size = 336;  ///< the tile the ViT sees
    int letterbox = 448;   ///< the square the image is letterboxed onto first
    int lora_r = 256;
    double lora_alpha = 512;
    std::vector<std::string> lora_targets{"wqkv"};
    std::string fusion_method;  ///< as released ("q-former"); the ParGo projector is built anyway
    std::string ckpt_file, llm_dir, bert_dir;
    // EVA02-CLIP-L/14 (ParGo's init_models.py hard-codes these; "regionchat" may override).
    int vision_width = 1024, vision_depth = 24, vision_head_width = 64, patch_size = 14;
    int vision_mlp = 2730;  ///< int(width * 2.6667)
    double vision_eps = 1e-6, ln_vision_eps = 1e-5;
    // The projector's BERT (bert_type's config.json).
    int bert_hidden = 512, bert_layers = 4, bert_heads = 8, bert_intermediate = 2048;
    int bert_max_positions = 512;
    double bert_eps = 1e-12;
    TextConfig text;  ///< InternLM2, as a LLaMA decoder
    std::vector<std::string> warnings;

    int vision_tokens() const {
        const int side = image_size / patch_size;
        return side * side;
    }
};

/// ParGo's config json and the folders it names (InternLM2's config.json, the BERT's).
/// rc::Error naming the file and key at fault.
ParGoConfig read_pargo_config(const nlohmann::json& root, const std::string& source,
                              const std::string& folder);

}  // namespace rc
