// SAM's image encoder: a ViT with windowed and global attention and decomposed relative
// positions, then a convolutional neck. Names equal Hugging Face `SamVisionEncoder` keys.
#pragma once

#include <torch/torch.h>

#include "model/layers.h"
#include "regionchat/config.h"

namespace rc::sam {

/// Layer norm over the channels of [B, C, H, W] (SamLayerNorm, channels_first).
struct LayerNorm2dImpl : torch::nn::Module {
    LayerNorm2dImpl(int64_t channels, double eps);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor weight, bias;
    double eps;
};
TORCH_MODULE(LayerNorm2d);

/// lin1 -> activation -> lin2 (SamMLPBlock).
struct MlpBlockImpl : torch::nn::Module {
    MlpBlockImpl(int64_t dim, int64_t hidden, bool relu);
    torch::Tensor forward(const torch::Tensor& x);
    Linear lin1{nullptr}, lin2{nullptr};
    bool relu;
};
TORCH_MODULE(MlpBlock);

struct VisionAttentionImpl : torch::nn::Module {
    VisionAttentionImpl(const SamConfig& c, int64_t input_side);
    /// x [B, H, W, C] -> [B, H, W, C]
    torch::Tensor forward(const torch::Tensor& x);
    Linear qkv{nullptr}, proj{nullptr};
    torch::Tensor rel_pos_h, rel_pos_w;
    int64_t heads, head_dim;
    bool use_rel_pos;
};
TORCH_MODULE(VisionAttention);

struct VisionLayerImpl : torch::nn::Module {
    VisionLayerImpl(const SamConfig& c, int window);
    torch::Tensor forward(torch::Tensor x);
    torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
    VisionAttention attn{nullptr};
    MlpBlock mlp{nullptr};
    int window;
};
TORCH_MODULE(VisionLayer);

struct PatchEmbedImpl : torch::nn::Module {
    explicit PatchEmbedImpl(const SamConfig& c);
    torch::nn::Conv2d projection{nullptr};
};
TORCH_MODULE(PatchEmbed);

struct NeckImpl : torch::nn::Module {
    explicit NeckImpl(const SamConfig& c);
    torch::Tensor forward(const torch::Tensor& x);  ///< [B, H, W, C] -> [B, out, H, W]
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    LayerNorm2d layer_norm1{nullptr}, layer_norm2{nullptr};
};
TORCH_MODULE(Neck);

/// `vision_encoder.*`
struct VisionEncoderImpl : torch::nn::Module {
    explicit VisionEncoderImpl(const SamConfig& c);
    /// Normalized, padded pixels [B, 3, S, S] -> image embeddings [B, out, S/p, S/p].
    torch::Tensor forward(const torch::Tensor& pixels);
    PatchEmbed patch_embed{nullptr};
    torch::Tensor pos_embed;
    torch::nn::ModuleList layers{nullptr};
    Neck neck{nullptr};
};
TORCH_MODULE(VisionEncoder);

}  // namespace rc::sam
