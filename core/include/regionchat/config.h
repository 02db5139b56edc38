// config.json of the Hugging Face `llava` layout, read into plain structs with defaults.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace rc {

/// Pink's adapters (pink/model/adapter.py AdapterLayer): y = x + B(A(x)) with A Linear(d, dim)
/// and B Linear(dim, d), both with biases, optionally SiLU between them.
struct AdapterConfig {
    int dim = 0;        ///< 0: no adapters
    bool attn = true;   ///< `adapter_attn`: after the layer's first norm, before self-attention
    bool mlp = false;   ///< `adapter_mlp`: after the second norm, before the MLP
    bool silu = false;  ///< `adapter_non_linear`
};

/// CLIP vision tower (Hugging Face CLIPVisionConfig).
struct VisionConfig {
    int hidden_size = 1024;
    int intermediate_size = 4096;
    int num_hidden_layers = 24;
    int num_attention_heads = 16;
    int image_size = 336;
    int patch_size = 14;
    int num_channels = 3;
    double layer_norm_eps = 1e-5;
    std::string hidden_act = "quick_gelu";  ///< "quick_gelu" or "gelu"
    /// Pink: adapters in layers [0, adapter_layers) (those run up to the selected layer).
    AdapterConfig adapter;
    int adapter_layers = 0;
};

/// LLaMA decoder (Hugging Face LlamaConfig).
struct TextConfig {
    int vocab_size = 32064;
    int hidden_size = 4096;
    int intermediate_size = 11008;
    int num_hidden_layers = 32;
    int num_attention_heads = 32;
    int num_key_value_heads = 32;
    int max_position_embeddings = 4096;
    double rms_norm_eps = 1e-5;
    double rope_theta = 10000.0;
    /// rope_scaling "longrope" (Phi-3's LongRoPE): inverse frequencies divided per dimension
    /// by `rope_short_factor`, or by `rope_long_factor` for a forward whose last position is
    /// past `rope_original_max` (transformers' dynamic update), cos and sin scaled by
    /// `rope_attention_factor`. Empty factors: plain RoPE.
    std::vector<double> rope_short_factor, rope_long_factor;
    int rope_original_max = 0;
    double rope_attention_factor = 1.0;
    std::string hidden_act = "silu";
    bool tie_word_embeddings = false;
    int bos_token_id = 1;
    int eos_token_id = 2;
    int pad_token_id = -1;  ///< -1: none
    AdapterConfig adapter;  ///< Pink: adapters in every decoder layer
};

/// The whole model: vision tower, projector and language model.
struct ModelConfig {
    VisionConfig vision;
    TextConfig text;
    std::string projector_type = "mlp2x_gelu";  ///< "mlp2x_gelu" or "linear"
    std::string projector_hidden_act = "gelu";
    int vision_feature_layer = -2;                           ///< index into CLIP hidden states
    std::string vision_feature_select_strategy = "default";  ///< "default" drops CLS, "full" keeps
    int image_token_index = 32000;
    // RegionChat extensions (optional keys under "regionchat"); defaults suit LLaVA-1.5.
    std::string chat_template = "vicuna_v1";  ///< "vicuna_v1", "llama_2" or "pink"
    std::string region_format = "dualfocus";  ///< see region_format.h
    /// "pad" to a square of the mean colour (LLaVA-1.5's image_aspect_ratio "pad"), "crop"
    /// (CLIPImageProcessor: shortest edge resized, centre cropped; LLaVA's "square" and
    /// llava-hf's preprocessor_config.json) or "resize" (stretched: Pink).
    std::string image_aspect = "pad";
    /// Normalisation, RGB (CLIP's unless a preprocessor_config.json says otherwise).
    std::array<float, 3> image_mean{0.48145466f, 0.4578275f, 0.40821073f};
    std::array<float, 3> image_std{0.26862954f, 0.26130258f, 0.27577711f};
    /// "auto": area filter when shrinking, bicubic when enlarging; "bicubic": antialiased
    /// bicubic as PIL's (Pink's torchvision Resize on PIL images).
    std::string image_filter = "auto";

    /// "hf-llava" (llava-hf: vision_config/text_config, one checkpoint), "llava-original"
    /// (liuhaotian/llava-v1.5, DualFocus: LLaMA keys at the top, mm_* keys, the CLIP vision
    /// tower in a separate Hugging Face CLIP folder named by mm_vision_tower) or "pink"
    /// (SY-Xuan/Pink: model_type "pink", saved_parameters.pth over the LLaMA-2 folder named by
    /// llama_path, CLIP from clip_path).
    std::string layout = "hf-llava";
    /// llava-original and pink: mm_vision_tower / clip_path as written, and the folder found.
    std::string vision_tower;
    std::string vision_tower_dir;
    /// pink: llama_path as written, and the folder found.
    std::string llama_path;
    std::string llama_dir;

    /// Keys present in the file that we do not know; each is a readable warning.
    std::vector<std::string> warnings;

    /// Number of image tokens one image becomes.
    int image_tokens() const;
};

/// Reads `<dir>/config.json` (or a path to a .json file). Throws rc::Error naming the file and
/// the key when a required key is missing or has the wrong type. For the original LLaVA
/// layout the vision tower's folder is looked for (see find_vision_tower) and its CLIP
/// config.json supplies the vision settings.
ModelConfig load_model_config(const std::string& dir_or_file);
/// Parses config JSON text; `source` names it in messages.
ModelConfig parse_model_config(const std::string& json_text, const std::string& source);
/// The folder of an original-layout model's CLIP vision tower, for mm_vision_tower `name`
/// (a path, or a hub id such as "openai/clip-vit-large-patch14-336"): $REGIONCHAT_VISION_TOWER,
/// then `name` itself, then `<model_dir>/<last part of name>`, then `<model_dir>/../<last
/// part>`. Throws rc::Error saying where it looked when none holds a config.json.
std::string find_vision_tower(const std::string& model_dir, const std::string& name);
/// The same search for any folder a config names: `env` first, then `name`, then
/// `<model_dir>/<last part>` and `<model_dir>/../<last part>`; `key` names the config key in
/// the message.
std::string find_named_folder(const std::string& model_dir, const std::string& name,
                              const std::string& key, const char* env);

/// Writes the config in the Hugging Face `llava` layout (round-trips through parse).
std::string model_config_to_json(const ModelConfig& config);

/// A Hugging Face `SamModel` config.json (facebook/sam-vit-base layout); the defaults are
/// sam-vit-base's.
struct SamConfig {
    // vision_config
    int vision_hidden = 768, vision_layers = 12, vision_heads = 12, vision_mlp = 3072;
    int image_size = 1024, patch_size = 16, window_size = 14, output_channels = 256;
    std::vector<int> global_attn_indexes{2, 5, 8, 11};
    bool qkv_bias = true, use_abs_pos = true, use_rel_pos = true;
    double vision_eps = 1e-6;
    int num_pos_feats = 128;  ///< the shared positional embedding: [2, num_pos_feats]
    // prompt_encoder_config
    int prompt_hidden = 256, mask_input_channels = 16, image_embedding_size = 64;
    // mask_decoder_config
    int decoder_hidden = 256, decoder_mlp = 2048, decoder_layers = 2, decoder_heads = 8;
    int attention_downsample_rate = 2, num_multimask_outputs = 3;
    int iou_head_depth = 3, iou_head_hidden = 256;
    double decoder_eps = 1e-6;
};

/// Reads `<dir>/config.json` of a SAM folder; throws rc::Error naming the file and key when
/// it is not a SamModel config or a value is out of range.
SamConfig load_sam_config(const std::string& dir_or_file);
/// Parses SAM config JSON text; `source` names it in messages.
SamConfig parse_sam_config(const std::string& json_text, const std::string& source);
/// Writes a SAM config (round-trips through parse_sam_config).
std::string sam_config_to_json(const SamConfig& config);

}  // namespace rc
