// CLIP vision tower (pre-layernorm ViT). Module names equal Hugging Face CLIPVisionModel keys.
#pragma once

#include <torch/torch.h>

#include "model/adapter.h"
#include "model/layers.h"
#include "regionchat/config.h"

namespace rc {

struct ClipAttentionImpl : torch::nn::Module {
    explicit ClipAttentionImpl(const VisionConfig& c);
    torch::Tensor forward(const torch::Tensor& x);
    Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
    int64_t heads, head_dim;
};
TORCH_MODULE(ClipAttention);

struct ClipMlpImpl : torch::nn::Module {
    explicit ClipMlpImpl(const VisionConfig& c);
    torch::Tensor forward(const torch::Tensor& x);
    Linear fc1{nullptr}, fc2{nullptr};
    bool quick_gelu;
};
TORCH_MODULE(ClipMlp);

struct ClipEncoderLayerImpl : torch::nn::Module {
    /// `with_adapters`: Pink's adapters (c.adapter) in this layer.
    explicit ClipEncoderLayerImpl(const VisionConfig& c, bool with_adapters = false);
    torch::Tensor forward(torch::Tensor x);
    ClipAttention self_attn{nullptr};
    torch::nn::LayerNorm layer_norm1{nullptr};
    ClipMlp mlp{nullptr};
    torch::nn::LayerNorm layer_norm2{nullptr};
    Adapter adapter_attn{nullptr}, adapter_mlp{nullptr};  ///< Pink only
};
TORCH_MODULE(ClipEncoderLayer);

struct ClipEncoderImpl : torch::nn::Module {
    explicit ClipEncoderImpl(const VisionConfig& c);
    torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(ClipEncoder);

struct ClipEmbeddingsImpl : torch::nn::Module {
    explicit ClipEmbeddingsImpl(const VisionConfig& c);
    torch::Tensor forward(const torch::Tensor& pixels);
    torch::Tensor class_embedding;
    torch::nn::Conv2d patch_embedding{nullptr};
    Embedding position_embedding{nullptr};
};
TORCH_MODULE(ClipEmbeddings);

struct ClipVisionTransformerImpl : torch::nn::Module {
    explicit ClipVisionTransformerImpl(const VisionConfig& c);
    ClipEmbeddings embeddings{nullptr};
    torch::nn::LayerNorm pre_layrnorm{nullptr};  // sic: the Hugging Face key
    ClipEncoder encoder{nullptr};
    torch::nn::LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(ClipVisionTransformer);

/// `vision_model.*` as in CLIPVisionModel.
struct ClipVisionModelImpl : torch::nn::Module {
    explicit ClipVisionModelImpl(const VisionConfig& c);
    /// Hidden state `feature_layer` (Hugging Face hidden_states indexing: 0 = embeddings after
    /// pre_layrnorm, i = output of layer i, negative counts from the end) for pixels
    /// [N,3,H,W]; returns [N, 1 + patches, hidden]. Layers past the one asked are not run.
    torch::Tensor forward(const torch::Tensor& pixels, int feature_layer);
    ClipVisionTransformer vision_model{nullptr};
    int num_layers;
};
TORCH_MODULE(ClipVisionModel);

}  // namespace rc
