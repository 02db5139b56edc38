// Pink's config.json: a LlamaConfig with model_type "pink" and the adapter, CLIP and LLaMA-2
// settings (pink/model/pink.py PinkConfig).
#include <algorithm>
#include <filesystem>

#include "model/names.h"
#include "model/pink/pink.h"

namespace rc {

namespace fs = std::filesystem;
using namespace cfg;

namespace {

// Pink (pink/model/pink.py PinkConfig): a LlamaConfig with model_type "pink" and the adapter,
// CLIP and LLaMA-2 settings. Everything Pink's demo fixes in code is set here: the llama_2
// template with "Image: <im_patch>x256" as the system text, Pink's region format, one Linear
// projector, images stretched to crop_size with bicubic, hidden state clip_select_layer
// without CLS.
const std::set<std::string> kPinkHarmless = {"llama_path",  // read after the LLaMA keys
                                             "clip_path",
                                             "clip_select_layer",
                                             "adapter_attn",
                                             "adapter_mlp",
                                             "adapter_non_linear",
                                             "adapter_vision_enable",
                                             "adapter_vision_dim",
                                             "adapter_llm_enable",
                                             "adapter_llm_dim",
                                             "crop_size",
                                             "adapter_vision_scale",  // unused in the forward
                                             "adapter_vision_dropout",
                                             "adapter_llm_scale",
                                             "adapter_llm_dropout",
                                             "num_patches",
                                             "im_patch_token",
                                             "model_type",
                                             "architectures",
                                             "torch_dtype",
                                             "transformers_version",
                                             "use_cache",
                                             "initializer_range",
                                             "attention_dropout",
                                             "pretraining_tp",
                                             "regionchat"};

ModelConfig parse_pink(const json& root, const std::string& source) {
    ModelConfig c;
    c.layout = kLayoutPink;
    Section top(root, source, "");
    read_text(top, &c.text, &c.warnings, kPinkHarmless, /*check_type=*/false);
    c.llama_path = top.string("llama_path", "");
    if (c.llama_path.empty())
        top.fail("llama_path", "must name the LLaMA-2 folder saved_parameters.pth goes over");
    c.vision_tower = top.string("clip_path", "");
    if (c.vision_tower.empty()) top.fail("clip_path", "must name the CLIP folder");
    c.vision_feature_layer = top.integer("clip_select_layer", -2);
    AdapterConfig a;
    a.attn = top.boolean("adapter_attn", true);
    a.mlp = top.boolean("adapter_mlp", false);
    a.silu = top.boolean("adapter_non_linear", false);
    if (top.boolean("adapter_vision_enable", false)) {
        c.vision.adapter = a;
        c.vision.adapter.silu = false;  // visual_adapter() passes non_linear=False whatever asked
        c.vision.adapter.dim = top.integer("adapter_vision_dim", 8);
        top.range("adapter_vision_dim", c.vision.adapter.dim, 1, 65536);
    }
    if (top.boolean("adapter_llm_enable", false)) {
        c.text.adapter = a;
        c.text.adapter.dim = top.integer("adapter_llm_dim", 8);
        top.range("adapter_llm_dim", c.text.adapter.dim, 1, 65536);
    }
    // Checked against the CLIP folder's image_size in load_model_config.
    c.vision.image_size = top.integer("crop_size", 224);
    top.range("crop_size", c.vision.image_size, 1, 4096);
    c.image_token_index = top.integer("im_patch_token", c.image_token_index);
    c.projector_type = "linear";
    c.vision_feature_select_strategy = "default";
    c.chat_template = kPinkName;
    c.region_format = kPinkName;
    c.image_aspect = "resize";
    c.image_filter = "bicubic";
    read_regionchat(top, root, &c, known_chat_templates(), known_region_formats());
    return c;
}

}  // namespace

ModelConfig read_pink_config(const json& root, const std::string& source) {
    ModelConfig c = parse_pink(root, source);
    const std::string model_dir = fs::path(source).parent_path().string();
    c.vision_tower_dir =
        find_named_folder(model_dir, c.vision_tower, "clip_path", "REGIONCHAT_CLIP_PATH");
    const int crop_size = c.vision.image_size;
    read_clip_tower(&c, source, "clip_select_layer");
    if (crop_size != c.vision.image_size)
        throw Error(source + ": crop_size " + std::to_string(crop_size) +
                    " differs from the CLIP tower's image_size " +
                    std::to_string(c.vision.image_size) + " (" + c.vision_tower_dir +
                    "/config.json); Pink then re-initialises CLIP's position table, which is "
                    "not supported");
    // Pink deletes the adapters of the layers after the selected hidden state
    // (encoder.layers[clip_select_layer:][1:]), so layers [0, selected + 1) keep theirs.
    const int L = c.vision.num_hidden_layers;
    if (c.vision.adapter.dim > 0) {
        const int selected = c.vision_feature_layer < 0 ? L + c.vision_feature_layer
                                                        : c.vision_feature_layer;
        c.vision.adapter_layers = std::min(L, selected + 1);
    }
    c.llama_dir =
        find_named_folder(model_dir, c.llama_path, "llama_path", "REGIONCHAT_LLAMA_PATH");
    return c;
}

}  // namespace rc
