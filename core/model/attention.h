// Scaled dot-product attention written with matmul/softmax (LibTorch 1.13 has no fused
// kernel); LibTorch >= 2.0 uses the fused one.
#pragma once

#include <torch/torch.h>

namespace rc {

/// q [B,H,T,D], k/v [B,H,S,D]. `causal_offset` >= 0 applies a causal mask where query i sits
/// at absolute position causal_offset + i and key j at position j; < 0 means no mask.
/// `group` > 1: q is [B,H,group*T,D], `group` query heads' T rows each against one key/value
/// head (grouped-query attention without repeating the keys and values).
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        int64_t causal_offset, int64_t group = 1);

}  // namespace rc
