// Multimodal projector: vision features -> language embeddings. Hugging Face
// LlavaMultiModalProjector keys (linear_1, linear_2); "linear" uses linear_1 only.
#pragma once

#include <torch/torch.h>

#include "model/layers.h"
#include "regionchat/config.h"

namespace rc {

struct ProjectorImpl : torch::nn::Module {
    explicit ProjectorImpl(const ModelConfig& c);
    torch::Tensor forward(const torch::Tensor& x);
    Linear linear_1{nullptr}, linear_2{nullptr};
    bool mlp;
};
TORCH_MODULE(Projector);

}  // namespace rc
