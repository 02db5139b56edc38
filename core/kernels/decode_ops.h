// The operations of a LLaMA decoder layer around its products, fused for fp32 on the CPU
// (issue 24). Through LibTorch, one decode step of the embedded model ran some 45 operations
// per layer (norms, rotary embedding, the cache update, attention as matmul/softmax/matmul),
// each paying LibTorch's dispatch and a fresh tensor; these functions do each group in one
// pass over plain arrays. Same formulas as the LibTorch code they replace (Hugging Face's
// LLaMA), so results agree to rounding (tests/test_model.cpp compares them).
#pragma once

#include <cstdint>

namespace rc::kernels {

/// y[r] = w * (x[r] / sqrt(mean(x[r]^2) + eps)) for `rows` rows of `dim` (RMSNorm); w in fp32
/// or in bf16 (a bf16 model's norm, its activations in fp32).
void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps);
void rms_norm(const float* x, const uint16_t* w_bf16, float* y, int64_t rows, int64_t dim, float eps);

/// y[r, i] = silu(gu[r, i]) * gu[r, n + i] for i < n: the SwiGLU of a fused gate/up output
/// (rows of 2n; gate first). y [rows, n].
void silu_mul(const float* gu, float* y, int64_t rows, int64_t n);

/// Rotary embedding of one position in place: x holds `heads` heads of head_dim; cos and sin
/// are the position's rows of head_dim (the frequencies twice, as Hugging Face lays them out):
/// x = x * cos + rotate_half(x) * sin.
void rope(float* x, int64_t heads, int64_t head_dim, const float* cos, const float* sin);

/// Attention of one query position over S cached positions (no mask: every cached position
/// is at or before the query). q [heads, head_dim]; kv head h (read by query heads
/// h*g .. h*g+g-1, g = heads / kv_heads) has its position s at k + h*head_stride + s*head_dim
/// (v alike); out [heads, head_dim] = softmax(q k^T * scale) v, the scores in fp32. Large ones
/// split their kv heads over the products' threads (`threads` as gemv_f32).
void attend_one(const float* q, int64_t heads, int64_t kv_heads, int64_t head_dim,
                const float* k, const float* v, int64_t head_stride, int64_t S, float scale,
                float* out, int threads = 0);

/// attend_one for `rows` consecutive query positions (a prompt continuing the cache): row t's
/// query at q + t*q_stride attends over the first S + t cached positions (its own included)
/// and writes out + t*out_stride. Each row's result equals attend_one's for it; the rows' kv
/// heads are split over the threads.
void attend_rows(const float* q, int64_t q_stride, int64_t rows, int64_t heads,
                 int64_t kv_heads, int64_t head_dim, const float* k, const float* v,
                 int64_t head_stride, int64_t S, float scale, float* out, int64_t out_stride,
                 int threads = 0);

}  // namespace rc::kernels
