// The LLaVA family's config.json layouts: Hugging Face `llava` (vision_config/text_config) and
// the original LLaVA / DualFocus one (LLaMA keys at the top, mm_* keys, the CLIP tower in a
// folder of its own).
#include "model/llava/llava_config.h"

#include <filesystem>

#include "model/names.h"

namespace rc {

namespace fs = std::filesystem;
using namespace cfg;

namespace {

const std::set<std::string> kTopHarmless = {"ignore_index",        "image_seq_length",
                                            "tie_word_embeddings", "vocab_size",
                                            "text_model_id",       "vision_model_id"};
// The original LLaVA config.json: LLaMA keys at the top plus LLaVA's training switches.
// The original LLaVA config.json: LLaMA keys at the top plus LLaVA's training switches.
const std::set<std::string> kOriginalHarmless = {"mm_hidden_size",
                                                 "mm_use_im_start_end",
                                                 "mm_use_im_patch_token",
                                                 "mm_vision_select_feature",
                                                 "mm_vision_select_layer",
                                                 "mm_vision_tower",
                                                 "mm_projector_type",
                                                 "mm_patch_merge_type",
                                                 "mm_projector_lr",
                                                 "image_aspect_ratio",
                                                 "image_grid_pinpoints",
                                                 "freeze_mm_mlp_adapter",
                                                 "tune_mm_mlp_adapter",
                                                 "use_mm_proj",
                                                 "mm_vision_tower_lr",
                                                 "tokenizer_model_max_length",
                                                 "tokenizer_padding_side",
                                                 "unfreeze_mm_vision_tower",
                                                 "pretraining_tp",
                                                 "use_cache",
                                                 "torch_dtype",
                                                 "transformers_version",
                                                 "model_type",
                                                 "architectures",
                                                 "initializer_range",
                                                 "regionchat",
                                                 "attention_dropout",
                                                 "mm_resampler_type"};

// liuhaotian/llava-v1.5-7b and DualFocus: LLaMA's keys at the top level, mm_* for the rest.
// The vision settings come later from the CLIP folder (load_model_config).
ModelConfig parse_original(const json& root, const std::string& source) {
    ModelConfig c;
    c.layout = kLayoutOriginal;
    Section top(root, source, "");
    read_text(top, &c.text, &c.warnings, kOriginalHarmless, /*check_type=*/false);
    c.vision_tower = top.string("mm_vision_tower", "");
    if (c.vision_tower.empty()) top.fail("mm_vision_tower", "must name the CLIP vision tower");
    c.vision_feature_layer = top.integer("mm_vision_select_layer", -2);
    const std::string select =
        top.choice("mm_vision_select_feature", "patch", {"patch", "cls_patch"});
    c.vision_feature_select_strategy = select == "patch" ? "default" : "full";
    c.projector_type = top.choice("mm_projector_type", "linear", {"linear", "mlp2x_gelu"});
    const std::string aspect = top.choice("image_aspect_ratio", "square", {"square", "pad"});
    // LLaVA's process_images: "pad" expands to a square first; anything else goes straight
    // to the CLIP image processor, which resizes the shortest edge and centre-crops.
    c.image_aspect = aspect == "pad" ? "pad" : "crop";
    if (top.boolean("mm_use_im_start_end", false))
        top.fail("mm_use_im_start_end", "true is not supported (LLaVA-1.5 uses false)");
    c.image_token_index = c.text.vocab_size;  // LLaVA marks images with -200, outside the vocab
    // LLaVA's CLIPImageProcessor resizes with PIL's bicubic filter; "auto" (area when
    // shrinking) stays available through the regionchat object (the embedded model uses it).
    c.image_filter = "bicubic";
    read_regionchat(top, root, &c, known_chat_templates(), known_region_formats());
    return c;
}

ModelConfig parse_hf(const json& root, const std::string& source) {
    ModelConfig c;
    c.layout = kLayoutHf;
    Section top(root, source, "");
    const std::string type = top.string("model_type", "llava");
    if (type != "llava")
        top.fail("model_type", "'" + type + "' is not supported (expected 'llava')");
    const json* vision = top.object("vision_config", true);
    const json* text = top.object("text_config", true);
    read_vision(Section(*vision, source, "vision_config."), &c.vision, &c.warnings);
    read_text(Section(*text, source, "text_config."), &c.text, &c.warnings);

    c.projector_hidden_act = top.choice("projector_hidden_act", "gelu", {"gelu"});
    c.vision_feature_layer = top.integer("vision_feature_layer", -2);
    c.vision_feature_select_strategy =
        top.choice("vision_feature_select_strategy", "default", {"default", "full"});
    c.image_token_index = top.integer("image_token_index", 32000);
    c.projector_type = top.choice("mm_projector_type", "mlp2x_gelu", {"linear", "mlp2x_gelu"});
    // Our projector always has biases; a bias-free one would load wrong weights silently.
    if (!top.boolean("multimodal_projector_bias", true))
        top.fail("multimodal_projector_bias", "false is not supported");

    // CLIP has num_hidden_layers + 1 hidden states (embeddings first), indexed from either end.
    const int states = c.vision.num_hidden_layers + 1;
    if (c.vision_feature_layer < -states || c.vision_feature_layer >= states)
        top.fail("vision_feature_layer",
                 std::to_string(c.vision_feature_layer) + " is outside the " +
                     std::to_string(states) + " hidden states of " +
                     std::to_string(c.vision.num_hidden_layers) + " vision layers");

    // LLaVA's CLIPImageProcessor resizes with PIL's bicubic filter; "auto" (area when
    // shrinking) stays available through the regionchat object (the embedded model uses it).
    // llava-hf's preprocessor_config.json says how images are fitted (no file: LLaVA-1.5's
    // pad); the regionchat object, read after it, has the last word.
    c.image_filter = "bicubic";
    read_image_processor(fs::path(source).parent_path(), &c);
    read_regionchat(top, root, &c, known_chat_templates(), known_region_formats());
    top.warn_unknown(kTopHarmless, &c.warnings);
    return c;
}

}  // namespace

bool is_llava_original_config(const json& root) {
    return root.contains("mm_vision_tower") && !root.contains("text_config");
}

ModelConfig read_llava_config(const json& root, const std::string& source) {
    if (!is_llava_original_config(root)) return parse_hf(root, source);
    ModelConfig c = parse_original(root, source);
    const std::string model_dir = fs::path(source).parent_path().string();
    c.vision_tower_dir = find_vision_tower(model_dir, c.vision_tower);
    read_clip_tower(&c, source, "mm_vision_select_layer");
    return c;
}

std::string model_config_to_json(const ModelConfig& c) {
    using ojson = nlohmann::ordered_json;
    auto token = [](int id) { return id < 0 ? ojson(nullptr) : ojson(id); };
    const TextConfig& t = c.text;
    const VisionConfig& v = c.vision;
    ojson text = {{"model_type", "llama"},
                  {"vocab_size", t.vocab_size},
                  {"hidden_size", t.hidden_size},
                  {"intermediate_size", t.intermediate_size},
                  {"num_hidden_layers", t.num_hidden_layers},
                  {"num_attention_heads", t.num_attention_heads},
                  {"num_key_value_heads", t.num_key_value_heads},
                  {"max_position_embeddings", t.max_position_embeddings},
                  {"rms_norm_eps", t.rms_norm_eps},
                  {"rope_theta", t.rope_theta},
                  {"rope_scaling", nullptr},
                  {"hidden_act", t.hidden_act},
                  {"attention_bias", false},
                  {"mlp_bias", false},
                  {"tie_word_embeddings", t.tie_word_embeddings},
                  {"bos_token_id", token(t.bos_token_id)},
                  {"eos_token_id", token(t.eos_token_id)},
                  {"pad_token_id", token(t.pad_token_id)}};
    ojson vision = {{"model_type", "clip_vision_model"},
                    {"hidden_size", v.hidden_size},
                    {"intermediate_size", v.intermediate_size},
                    {"num_hidden_layers", v.num_hidden_layers},
                    {"num_attention_heads", v.num_attention_heads},
                    {"image_size", v.image_size},
                    {"patch_size", v.patch_size},
                    {"num_channels", v.num_channels},
                    {"layer_norm_eps", v.layer_norm_eps},
                    {"hidden_act", v.hidden_act}};
    ojson root = ojson::object();
    root["architectures"] = ojson::array({"LlavaForConditionalGeneration"});
    root["model_type"] = "llava";
    root["image_token_index"] = c.image_token_index;
    root["projector_hidden_act"] = c.projector_hidden_act;
    root["vision_feature_layer"] = c.vision_feature_layer;
    root["vision_feature_select_strategy"] = c.vision_feature_select_strategy;
    root["tie_word_embeddings"] = t.tie_word_embeddings;
    root["vocab_size"] = t.vocab_size;
    root["text_config"] = std::move(text);
    root["vision_config"] = std::move(vision);
    root["regionchat"] = {{"chat_template", c.chat_template},
                          {"region_format", c.region_format},
                          {"image_aspect", c.image_aspect},
                          {"image_filter", c.image_filter},
                          {"projector_type", c.projector_type}};
    return root.dump(2) + "\n";
}

}  // namespace rc
