// BERT's attention and feed-forward parts (model/bert.h).
#include "model/bert.h"

#include <cmath>

namespace rc {

torch::nn::LayerNorm layer_norm(int64_t dim, double eps) {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& mask, double scale) {
    auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
    if (mask.defined()) scores = scores + mask.to(scores.dtype());
    return torch::matmul(torch::softmax(scores, -1), v);
}

BertSelfAttentionImpl::BertSelfAttentionImpl(int hidden, int kv_width, int heads_) : heads(heads_) {
    query = register_module("query", Linear(hidden, hidden));
    key = register_module("key", Linear(kv_width, hidden));
    value = register_module("value", Linear(kv_width, hidden));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& kv,
                                             const torch::Tensor& mask) {
    const int64_t B = x.size(0), T = x.size(1), S = kv.size(1), H = query->weight.size(0);
    const int64_t D = H / heads;
    auto q = query(x).view({B, T, heads, D}).transpose(1, 2);
    auto k = key(kv).view({B, S, heads, D}).transpose(1, 2);
    auto v = value(kv).view({B, S, heads, D}).transpose(1, 2);
    return attend(q, k, v, mask, 1.0 / std::sqrt(double(D))).transpose(1, 2).reshape({B, T, H});
}

BertOutputImpl::BertOutputImpl(int in, int hidden, double eps) {
    dense = register_module("dense", Linear(in, hidden));
    LayerNorm = register_module("LayerNorm", layer_norm(hidden, eps));
}

torch::Tensor BertOutputImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
    return LayerNorm(dense(x) + residual);
}

BertAttentionImpl::BertAttentionImpl(int hidden, int kv_width, int heads, double eps) {
    self = register_module("self", BertSelfAttention(hidden, kv_width, heads));
    output = register_module("output", BertOutput(hidden, hidden, eps));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& kv,
                                         const torch::Tensor& mask) {
    return output(self(x, kv, mask), x);
}

BertIntermediateImpl::BertIntermediateImpl(int hidden, int intermediate) {
    dense = register_module("dense", Linear(hidden, intermediate));
}

}  // namespace rc
