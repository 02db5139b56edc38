#include "model/llava/llava.h"

namespace rc {

LlavaImpl::LlavaImpl(const ModelConfig& c) : config(c) {
    vision_tower = register_module("vision_tower", ClipVisionModel(c.vision));
    multi_modal_projector = register_module("multi_modal_projector", Projector(c));
    language_model = register_module("language_model", LlamaForCausalLM(c.text));
}

torch::Tensor LlavaImpl::encode_images(const torch::Tensor& pixels) {
    auto feats = vision_tower(pixels, config.vision_feature_layer);
    if (config.vision_feature_select_strategy == "default")
        feats = feats.narrow(1, 1, feats.size(1) - 1);
    return multi_modal_projector(feats);
}

std::vector<std::string> llava_key_candidates(const std::string& name) {
    std::vector<std::string> out{name};
    auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
    if (starts("language_model.model.")) {
        out.push_back("model.language_model." + name.substr(21));
        out.push_back("model." + name.substr(21));  // original LLaVA: model.layers.0...
    } else if (starts("language_model.lm_head.")) {
        out.push_back(name.substr(15));  // lm_head.weight
    } else if (starts("vision_tower.") || starts("multi_modal_projector.")) {
        out.push_back("model." + name);
    }
    // Original LLaVA: the projector is model.mm_projector (Linear, or Sequential with the
    // Linears at 0 and 2), a fine-tuned tower model.vision_tower.vision_tower.vision_model.*.
    if (starts("multi_modal_projector.linear_1.")) {
        out.push_back("model.mm_projector.0." + name.substr(31));
        out.push_back("model.mm_projector." + name.substr(31));
    } else if (starts("multi_modal_projector.linear_2.")) {
        out.push_back("model.mm_projector.2." + name.substr(31));
    } else if (starts("vision_tower.vision_model.")) {
        out.push_back("model.vision_tower." + name);
    }
    // transformers 5 saves the CLIP tower without its vision_model level.
    if (starts("vision_tower.vision_model.")) {
        out.push_back("vision_tower." + name.substr(26));
        out.push_back("model.vision_tower." + name.substr(26));
    }
    return out;
}

}  // namespace rc
