// LLaVA-1.5: CLIP vision tower -> projector -> LLaMA. Module names equal the Hugging Face
// `llava` layout keys (vision_tower.*, multi_modal_projector.*, language_model.*).
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/clip_vision.h"
#include "model/llama.h"
#include "model/projector.h"
#include "regionchat/config.h"

namespace rc {

struct LlavaImpl : torch::nn::Module {
    explicit LlavaImpl(const ModelConfig& c);
    /// Projected image features [N, image_tokens, text_hidden] for pixels [N,3,S,S].
    torch::Tensor encode_images(const torch::Tensor& pixels);

    ClipVisionModel vision_tower{nullptr};
    Projector multi_modal_projector{nullptr};
    LlamaForCausalLM language_model{nullptr};
    ModelConfig config;
};
TORCH_MODULE(Llava);

/// Checkpoint keys to try for a module parameter name: the name itself, then the name newer
/// transformers versions write (model.vision_tower..., model.language_model..., lm_head...),
/// then the original LLaVA names (model.layers..., model.mm_projector.0...).
std::vector<std::string> llava_key_candidates(const std::string& name);

}  // namespace rc
