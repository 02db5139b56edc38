// CoLVA's and InternVL2's configuration (internvl.h and colva.h have the networks): torch-free,
// so the config readers are fuzzed without LibTorch (tests/fuzz/fuzz_configs.cpp).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "regionchat/config.h"

namespace rc {

inline const char* const kLayoutInternVl = "internvl-hf";
inline const char* const kLayoutColvaHf = "colva-hf";
inline const char* const kLayoutColvaKit = "colva-kit";
inline const char* const kPhi3Chat = "phi3-chat";

struct InternVitConfig {
    int width = 1024, depth = 24, heads = 16, mlp = 4096, patch = 14, image_size = 448;
    double eps = 1e-6;
    bool qk_norm = false;  ///< InternViT-6B's; the 300M tower has none (refused for now)
    bool layer_scale = true;  ///< ls1/ls2 (InternViT); timm's ViT-H in RADIO has none
    int grid() const { return image_size / patch; }
};


/// CoLVA's RADIO (model/colva/radio.h): timm's ViT-H/16 with RADIO's CPE patch generator.
struct RadioConfig {
    int width = 1280, depth = 32, heads = 16, mlp = 5120, patch = 16;
    int pos_grid = 128;       ///< rows = cols of pos_embed (cpe_max_size / patch: 2048 / 16)
    int prefix_tokens = 8;    ///< cls_token.token rows (teachers' CLS tokens + registers)
    bool final_norm = false;  ///< model.norm (args.model_norm); Identity otherwise
    double eps = 1e-6;
    int canvas = 1024;        ///< the square the kit pastes the image onto (white)
    int grid() const { return canvas / patch; }
};


/// InternVL2 (InternVLChatModel): vision_model, mlp1, language_model (Phi-3 as our LLaMA
/// decoder, its fused qkv_proj and gate_up_proj split at load); with `has_radio`, CoLVA's
/// object_tokenizer (RADIO) and ot_mlp1 too.
struct InternVlConfig {
    InternVitConfig vision;
    TextConfig text;
    bool has_radio = false;
    RadioConfig radio;
};


struct ColvaConfig {
    InternVlConfig net;
    std::string layout;          ///< "internvl-hf", "colva-hf", "colva-kit"
    std::string source;          ///< the config file
    std::string weights;         ///< folder or file of the (base) weights
    std::string tokenizer_dir;   ///< folder with tokenizer.model and tokenizer_config.json
    std::string radio_dir;       ///< colva-kit: the RADIO folder
    std::string sft_file;        ///< colva-kit: pretrained_pth (LoRA), may be empty
    std::string adapter_file;    ///< colva-kit: radio_pretrained_pth (ot_mlp1)
    int lora_r = 128;
    double lora_alpha = 256;
    std::string template_name = "phi3-chat";
    int max_tiles = 12;          ///< dynamic tiling's max_num
    bool thumbnail = true;
    int tile = 448;              ///< force_image_size
    std::vector<std::string> warnings;
    int tokens_per_tile() const {
        const int g = net.vision.grid() / 2;
        return g * g;
    }
};


/// Reads an InternVL2 / CoLVA config.json (`root`, from `source` in `folder`); rc::Error naming
/// the key at fault.
ColvaConfig read_colva_config(const nlohmann::json& root, const std::string& source,
                              const std::string& folder);

/// The tokenizer folder's tokenizer_config.json (or added_tokens.json): added tokens, which of
/// them are special, add_bos_token.
struct TokenizerFiles {
    std::vector<std::pair<std::string, int>> added, special;
    bool add_bos = true;
};
TokenizerFiles read_tokenizer_files(const std::string& dir);

}  // namespace rc
