// SAM's mask decoder: a two-way transformer between prompt tokens and image embeddings, then
// upscaling and hypernetwork MLPs per mask token, and an IoU head. Names equal Hugging Face
// `SamMaskDecoder` keys.
#pragma once

#include <torch/torch.h>

#include "model/sam/sam_vision.h"

namespace rc::sam {

/// Multi-head attention with an optional internal downsampling (SamAttention).
struct AttentionImpl : torch::nn::Module {
    AttentionImpl(int64_t dim, int64_t heads, int64_t downsample);
    /// query [B, P, Nq, C], key/value [B, P, Nk, C] (P may differ when broadcast as SAM does:
    /// both are flattened to [B * P, N, C] first) -> [B, P, Nq, C].
    torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);
    torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
    int64_t heads;
};
TORCH_MODULE(Attention);

struct TwoWayBlockImpl : torch::nn::Module {
    TwoWayBlockImpl(const SamConfig& c, bool skip_first_pe);
    /// Updates queries [B, P, T, C] and keys [B * P, 1, HW, C].
    void forward(torch::Tensor& queries, torch::Tensor& keys, const torch::Tensor& query_pe,
                 const torch::Tensor& key_pe);
    Attention self_attn{nullptr}, cross_attn_token_to_image{nullptr},
        cross_attn_image_to_token{nullptr};
    torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr}, layer_norm3{nullptr},
        layer_norm4{nullptr};
    MlpBlock mlp{nullptr};
    bool skip_first_pe;
};
TORCH_MODULE(TwoWayBlock);

struct TwoWayTransformerImpl : torch::nn::Module {
    explicit TwoWayTransformerImpl(const SamConfig& c);
    torch::nn::ModuleList layers{nullptr};
    Attention final_attn_token_to_image{nullptr};
    torch::nn::LayerNorm layer_norm_final_attn{nullptr};
};
TORCH_MODULE(TwoWayTransformer);

/// proj_in -> relu -> layers (relu each) -> proj_out (SamFeedForward).
struct FeedForwardImpl : torch::nn::Module {
    FeedForwardImpl(int64_t in, int64_t hidden, int64_t out, int depth);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Linear proj_in{nullptr}, proj_out{nullptr};
    torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(FeedForward);

struct DecoderOutput {
    torch::Tensor masks;  ///< low-resolution logits [B, P, M, 4E, 4E]
    torch::Tensor iou;    ///< predicted IoU [B, P, M]
};

/// `mask_decoder.*`
struct MaskDecoderImpl : torch::nn::Module {
    explicit MaskDecoderImpl(const SamConfig& c);
    /// image [B, C, E, E], image_pe [1, C, E, E], sparse [B, P, N, C], dense [1 or B, C, E, E];
    /// multimask: masks 1.. (3), else mask 0 only.
    DecoderOutput forward(const torch::Tensor& image, const torch::Tensor& image_pe,
                          const torch::Tensor& sparse, const torch::Tensor& dense, bool multimask);
    torch::nn::Embedding iou_token{nullptr}, mask_tokens{nullptr};
    TwoWayTransformer transformer{nullptr};
    torch::nn::ConvTranspose2d upscale_conv1{nullptr}, upscale_conv2{nullptr};
    LayerNorm2d upscale_layer_norm{nullptr};
    torch::nn::ModuleList output_hypernetworks_mlps{nullptr};
    FeedForward iou_prediction_head{nullptr};
    int64_t num_mask_tokens;
};
TORCH_MODULE(MaskDecoder);

}  // namespace rc::sam
