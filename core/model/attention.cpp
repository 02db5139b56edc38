#include "model/attention.h"

#include <cmath>

#include <torch/version.h>

namespace rc {

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        int64_t causal_offset, int64_t group) {
    const int64_t T = q.size(2) / group;
    const int64_t S = k.size(2);
    const bool need_mask = causal_offset >= 0 && !(T == 1 && causal_offset + 1 >= S);
#if TORCH_VERSION_MAJOR >= 2
    if (q.is_cuda() && group == 1) {
        if (!need_mask) return at::scaled_dot_product_attention(q, k, v);
        auto mask = torch::ones({T, S}, q.options().dtype(torch::kBool)).tril(causal_offset);
        return at::scaled_dot_product_attention(q, k, v, mask);
    }
#endif
    if (q.device().is_cpu() && q.scalar_type() == torch::kBFloat16 && !torch::GradMode::is_enabled()) {
        // A bf16 tower on the CPU: LibTorch 1.13's bf16 matmul runs at a fraction of its fp32
        // one where the CPU lacks AVX-512 BF16 (a CLIP layer's attention, tiny model: most of
        // a 12 ms image encode against 5 ms in fp32). The same formula in fp32, rounded back.
        return attention(q.to(torch::kFloat32), k.to(torch::kFloat32), v.to(torch::kFloat32),
                         causal_offset, group)
            .to(torch::kBFloat16);
    }
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    // Scores and softmax in fp32 so fp16/bf16 models do not overflow.
    auto scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat32).mul_(scale);
    if (need_mask) {
        auto mask = torch::ones({T, S}, q.options().dtype(torch::kBool)).triu(causal_offset + 1);
        if (group > 1) mask = mask.repeat({group, 1});  // row j*T + t is query t
        scores.masked_fill_(mask, -std::numeric_limits<float>::infinity());
    }
    auto probs = torch::softmax(scores, -1).to(q.scalar_type());
    return torch::matmul(probs, v);
}

}  // namespace rc
