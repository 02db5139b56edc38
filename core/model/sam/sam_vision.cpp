#include "model/sam/sam_vision.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/tensor_io.h"

namespace rc::sam {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps_) : eps(eps_) {
    weight = register_parameter("weight", torch::ones({channels}));
    bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
    const auto mean = x.mean(1, true);
    const auto var = (x - mean).pow(2).mean(1, true);
    const auto y = (x - mean) / torch::sqrt(var + eps);
    return weight.view({1, -1, 1, 1}) * y + bias.view({1, -1, 1, 1});
}

MlpBlockImpl::MlpBlockImpl(int64_t dim, int64_t hidden, bool relu_) : relu(relu_) {
    lin1 = register_module("lin1", Linear(dim, hidden));
    lin2 = register_module("lin2", Linear(hidden, dim));
}

torch::Tensor MlpBlockImpl::forward(const torch::Tensor& x) {
    const auto h = lin1(x);
    return lin2(relu ? torch::relu(h) : torch::gelu(h));
}

namespace {

// The relative-position table for q_size x k_size, interpolated when it was trained for
// another size (SAM's get_rel_pos).
torch::Tensor rel_pos_for(int64_t q_size, int64_t k_size, const torch::Tensor& table) {
    const int64_t max_dist = 2 * std::max(q_size, k_size) - 1;
    torch::Tensor rel = table;
    if (table.size(0) != max_dist) {
        rel = F::interpolate(table.t().unsqueeze(0).to(torch::kFloat32),
                             F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{max_dist})
                                 .mode(torch::kLinear)
                                 .align_corners(false))
                  .squeeze(0)
                  .t()
                  .to(table.dtype());
    }
    const double qs = std::max(double(k_size) / q_size, 1.0);
    const double ks = std::max(double(q_size) / k_size, 1.0);
    auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(table.device());
    const auto q = torch::arange(q_size, opts).unsqueeze(1) * qs;
    const auto k = torch::arange(k_size, opts).unsqueeze(0) * ks;
    const auto idx = ((q - k) + double(k_size - 1) * ks).to(torch::kLong);
    return rel.index({idx});  // [q, k, C]
}

// [B, H, W, C] -> windows [B * nH * nW, w, w, C], zero-padded to multiples of w.
torch::Tensor partition(const torch::Tensor& x, int64_t w, int64_t* ph, int64_t* pw) {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    const int64_t pad_h = (w - H % w) % w, pad_w = (w - W % w) % w;
    auto y = (pad_h || pad_w) ? F::pad(x, F::PadFuncOptions({0, 0, 0, pad_w, 0, pad_h})) : x;
    *ph = H + pad_h;
    *pw = W + pad_w;
    y = y.view({B, *ph / w, w, *pw / w, w, C});
    return y.permute({0, 1, 3, 2, 4, 5}).contiguous().view({-1, w, w, C});
}

torch::Tensor unpartition(const torch::Tensor& windows, int64_t w, int64_t ph, int64_t pw,
                          int64_t H, int64_t W) {
    const int64_t B = windows.size(0) / (ph * pw / w / w);
    auto x = windows.view({B, ph / w, pw / w, w, w, -1});
    x = x.permute({0, 1, 3, 2, 4, 5}).contiguous().view({B, ph, pw, -1});
    return x.slice(1, 0, H).slice(2, 0, W).contiguous();
}

}  // namespace

VisionAttentionImpl::VisionAttentionImpl(const SamConfig& c, int64_t input_side)
    : heads(c.vision_heads),
      head_dim(c.vision_hidden / c.vision_heads),
      use_rel_pos(c.use_rel_pos) {
    qkv = register_module(
        "qkv",
        Linear(c.vision_hidden, 3 * c.vision_hidden, c.qkv_bias));
    proj = register_module("proj", Linear(c.vision_hidden, c.vision_hidden));
    if (use_rel_pos) {
        rel_pos_h = register_parameter("rel_pos_h", torch::zeros({2 * input_side - 1, head_dim}));
        rel_pos_w = register_parameter("rel_pos_w", torch::zeros({2 * input_side - 1, head_dim}));
    }
}

torch::Tensor VisionAttentionImpl::forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3), N = H * W;
    const int64_t BH = B * heads;
    const auto flat = x.reshape({B, N, C});
    // q, k and v one at a time, [B * heads, N, head_dim] each: a third of qkv's output.
    auto project = [&](int64_t i) {
        const auto w = qkv->weight.slice(0, i * C, (i + 1) * C);
        const auto y = qkv->bias.defined()
                           ? torch::linear(flat, w, qkv->bias.slice(0, i * C, (i + 1) * C))
                           : torch::linear(flat, w);
        return y.view({B, N, heads, head_dim}).transpose(1, 2).reshape({BH, N, head_dim});
    };
    const auto q = project(0), k = project(1), v = project(2);
    // Decomposed relative positions from the unscaled queries: [BH, N, H] and [BH, N, W].
    torch::Tensor rel_h, rel_w;
    if (use_rel_pos) {
        const auto rq = q.view({BH, H, W, head_dim});
        rel_h =
            torch::einsum("bhwc,hkc->bhwk", {rq, rel_pos_for(H, H, rel_pos_h)}).reshape({BH, N, H});
        rel_w =
            torch::einsum("bhwc,wkc->bhwk", {rq, rel_pos_for(W, W, rel_pos_w)}).reshape({BH, N, W});
    }
    // Scores in blocks of about kScores values (query rows of a few heads), so a global layer
    // never holds its whole [heads, N, N] matrix (800 MB at 1024 px) and every temporary
    // stays small enough for the allocator to reuse.
    constexpr int64_t kScores = int64_t(1) << 21;
    const int64_t rows = std::min(N, std::max<int64_t>(1, kScores / N));
    const int64_t group = std::max<int64_t>(1, kScores / (rows * N));
    const double scale = 1.0 / std::sqrt(double(head_dim));
    auto out = torch::empty({BH, N, head_dim}, q.options());
    for (int64_t g = 0; g < BH; g += group) {
        const int64_t ge = std::min(BH, g + group);
        const auto kt = k.slice(0, g, ge).transpose(1, 2);
        const auto vg = v.slice(0, g, ge);
        for (int64_t r = 0; r < N; r += rows) {
            const int64_t re = std::min(N, r + rows);
            auto s = torch::matmul(q.slice(0, g, ge).slice(1, r, re), kt).mul_(scale);
            if (use_rel_pos)
                s.view({ge - g, re - r, H, W})
                    .add_(rel_h.slice(0, g, ge).slice(1, r, re).unsqueeze(3))
                    .add_(rel_w.slice(0, g, ge).slice(1, r, re).unsqueeze(2));
            s = torch::softmax(s.to(torch::kFloat32), -1).to(q.dtype());
            out.slice(0, g, ge).slice(1, r, re).copy_(torch::matmul(s, vg));
        }
    }
    return proj(out.view({B, heads, H, W, head_dim})
                    .permute({0, 2, 3, 1, 4})
                    .reshape({B, H, W, heads * head_dim}));
}

VisionLayerImpl::VisionLayerImpl(const SamConfig& c, int window_) : window(window_) {
    const int64_t side = window > 0 ? window : c.image_size / c.patch_size;
    layer_norm1 = register_module(
        "layer_norm1", nn::LayerNorm(nn::LayerNormOptions({c.vision_hidden}).eps(c.vision_eps)));
    attn = register_module("attn", VisionAttention(c, side));
    layer_norm2 = register_module(
        "layer_norm2", nn::LayerNorm(nn::LayerNormOptions({c.vision_hidden}).eps(c.vision_eps)));
    mlp = register_module("mlp", MlpBlock(c.vision_hidden, c.vision_mlp, /*relu=*/false));
}

torch::Tensor VisionLayerImpl::forward(torch::Tensor x) {
    const int64_t H = x.size(1), W = x.size(2);
    auto h = layer_norm1(x);
    if (window > 0) {
        int64_t ph = 0, pw = 0;
        const auto windows = partition(h, window, &ph, &pw);  // sets ph, pw: its own statement
        h = unpartition(attn(windows), window, ph, pw, H, W);
    } else {
        h = attn(h);
    }
    x = x + h;
    // The MLP over slices of tokens: its hidden layer is 4x wider than x.
    const int64_t C = x.size(3), tokens = x.numel() / C;
    const int64_t step =
        std::max<int64_t>(1, (int64_t(1) << 21) / mlp->lin1->weight.size(0));
    if (tokens <= step) return x + mlp(layer_norm2(x));
    const auto flat = x.reshape({tokens, C});
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < tokens; s += step)
        parts.push_back(mlp(layer_norm2(flat.slice(0, s, std::min(tokens, s + step)))));
    return x + torch::cat(parts, 0).view(x.sizes());
}

PatchEmbedImpl::PatchEmbedImpl(const SamConfig& c) {
    projection = register_module(
        "projection",
        nn::Conv2d(nn::Conv2dOptions(3, c.vision_hidden, c.patch_size).stride(c.patch_size)));
}

NeckImpl::NeckImpl(const SamConfig& c) {
    conv1 = register_module(
        "conv1", nn::Conv2d(nn::Conv2dOptions(c.vision_hidden, c.output_channels, 1).bias(false)));
    layer_norm1 = register_module("layer_norm1", LayerNorm2d(c.output_channels, c.vision_eps));
    conv2 = register_module(
        "conv2",
        nn::Conv2d(
            nn::Conv2dOptions(c.output_channels, c.output_channels, 3).padding(1).bias(false)));
    layer_norm2 = register_module("layer_norm2", LayerNorm2d(c.output_channels, c.vision_eps));
}

torch::Tensor NeckImpl::forward(const torch::Tensor& x) {
    auto y = x.permute({0, 3, 1, 2});
    y = layer_norm1(conv1(y));
    return layer_norm2(conv2(y));
}

VisionEncoderImpl::VisionEncoderImpl(const SamConfig& c) {
    patch_embed = register_module("patch_embed", PatchEmbed(c));
    const int64_t side = c.image_size / c.patch_size;
    if (c.use_abs_pos)
        pos_embed = register_parameter("pos_embed", torch::zeros({1, side, side, c.vision_hidden}));
    layers = register_module("layers", nn::ModuleList());
    for (int i = 0; i < c.vision_layers; ++i) {
        const bool global = std::find(c.global_attn_indexes.begin(), c.global_attn_indexes.end(),
                                      i) != c.global_attn_indexes.end();
        VisionLayer layer(c, global ? 0 : c.window_size);
        place_built(*layer);
        layers->push_back(layer);
    }
    neck = register_module("neck", Neck(c));
}

torch::Tensor VisionEncoderImpl::forward(const torch::Tensor& pixels) {
    auto x = patch_embed->projection(pixels).permute({0, 2, 3, 1});
    if (pos_embed.defined()) x = x + pos_embed;
    for (const auto& m : *layers) x = m->as<VisionLayerImpl>()->forward(x);
    return neck(x);
}

}  // namespace rc::sam
