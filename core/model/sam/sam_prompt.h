// SAM's prompt encoder: points and boxes to sparse tokens through random Fourier features
// (the shared positional embedding), no-mask dense embedding. Names equal Hugging Face
// `SamPromptEncoder` / `SamPositionalEmbedding` keys.
#pragma once

#include <torch/torch.h>

#include "model/sam/sam_vision.h"

namespace rc::sam {

/// `shared_image_embedding.*`: coordinates in [0, 1] -> [.., 2 * num_pos_feats].
struct PositionalEmbeddingImpl : torch::nn::Module {
    explicit PositionalEmbeddingImpl(const SamConfig& c);
    /// `coords` [..., 2] as (x, y); divided by `input_size` first when it is > 0.
    torch::Tensor forward(torch::Tensor coords, int64_t input_size = 0);
    torch::Tensor positional_embedding;  ///< [2, num_pos_feats]
};
TORCH_MODULE(PositionalEmbedding);

/// prompt_encoder.mask_embed (dense mask prompts; loaded so real checkpoints load whole).
struct MaskEmbeddingImpl : torch::nn::Module {
    explicit MaskEmbeddingImpl(const SamConfig& c);
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
    LayerNorm2d layer_norm1{nullptr}, layer_norm2{nullptr};
};
TORCH_MODULE(MaskEmbedding);

/// `prompt_encoder.*`
struct PromptEncoderImpl : torch::nn::Module {
    explicit PromptEncoderImpl(const SamConfig& c);
    /// Sparse tokens [B, P, N, C] for points [B, P, n, 2] with labels [B, P, n] (1 positive,
    /// 0 negative, -1 padding) and/or boxes [B, P, 4], coordinates in the encoder's input
    /// frame (pixels of the resized image). A pad point is appended when there is no box.
    torch::Tensor sparse(const torch::Tensor& points, const torch::Tensor& labels,
                         const torch::Tensor& boxes, PositionalEmbedding& shared) const;
    /// The no-mask dense embedding [1, C, E, E].
    torch::Tensor dense() const;

    MaskEmbedding mask_embed{nullptr};
    torch::nn::Embedding no_mask_embed{nullptr}, not_a_point_embed{nullptr};
    torch::nn::ModuleList point_embed{nullptr};  ///< 0 negative, 1 positive, 2/3 box corners
    int64_t input_size, embedding_size;
};
TORCH_MODULE(PromptEncoder);

}  // namespace rc::sam
