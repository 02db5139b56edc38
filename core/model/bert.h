// BERT's attention and feed-forward parts as the Q-Former-style projectors use them (LAVIS'
// Qformer.py and its descendants: ParGo's qformer_bert.py, RegionVLM's Q-Former). Parameter
// names equal BERT's ("query", "key", "value", "dense", "LayerNorm").
#pragma once

#include <torch/torch.h>

#include "model/layers.h"

namespace rc {

/// torch::nn::LayerNorm over the last `dim` with `eps`.
torch::nn::LayerNorm layer_norm(int64_t dim, double eps);

/// Scaled dot-product attention with an optional additive mask broadcast over batch and heads
/// ([T,S] or [B,1,T,S]); q [B,H,T,D], k/v [B,H,S,D].
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& mask, double scale);

struct BertSelfAttentionImpl : torch::nn::Module {
    BertSelfAttentionImpl(int hidden, int kv_width, int heads);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& kv, const torch::Tensor& mask);
    Linear query{nullptr}, key{nullptr}, value{nullptr};
    int64_t heads;
};
TORCH_MODULE(BertSelfAttention);

struct BertOutputImpl : torch::nn::Module {  // dense + residual + LayerNorm
    BertOutputImpl(int in, int hidden, double eps);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);
    Linear dense{nullptr};
    torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BertOutput);

struct BertAttentionImpl : torch::nn::Module {
    BertAttentionImpl(int hidden, int kv_width, int heads, double eps);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& kv, const torch::Tensor& mask);
    BertSelfAttention self{nullptr};
    BertOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

struct BertIntermediateImpl : torch::nn::Module {
    BertIntermediateImpl(int hidden, int intermediate);
    Linear dense{nullptr};
};
TORCH_MODULE(BertIntermediate);

}  // namespace rc
