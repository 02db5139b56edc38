#include "model/sam/sam_decoder.h"

#include <cmath>

namespace rc::sam {

namespace nn = torch::nn;

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads_, int64_t downsample) : heads(heads_) {
    const int64_t inner = dim / downsample;
    q_proj = register_module("q_proj", nn::Linear(dim, inner));
    k_proj = register_module("k_proj", nn::Linear(dim, inner));
    v_proj = register_module("v_proj", nn::Linear(dim, inner));
    out_proj = register_module("out_proj", nn::Linear(inner, dim));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                     const torch::Tensor& v_in) {
    const int64_t B = q_in.size(0), P = q_in.size(1);
    auto split = [&](const torch::Tensor& x) {  // [b, p, n, c] -> [b * p, heads, n, c / heads]
        const int64_t n = x.size(2), c = x.size(3);
        return x.reshape({x.size(0) * x.size(1), n, heads, c / heads}).transpose(1, 2);
    };
    const auto q = split(q_proj(q_in)), k = split(k_proj(k_in)), v = split(v_proj(v_in));
    auto attn = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(q.size(-1)));
    attn = torch::softmax(attn, -1);
    auto out = torch::matmul(attn, v).transpose(1, 2);  // [b * p, n, heads, c]
    out = out.reshape({B, P, out.size(1), out.size(2) * out.size(3)});
    return out_proj(out);
}

TwoWayBlockImpl::TwoWayBlockImpl(const SamConfig& c, bool skip) : skip_first_pe(skip) {
    const int64_t d = c.decoder_hidden;
    auto ln = [&] { return nn::LayerNorm(nn::LayerNormOptions({d}).eps(c.decoder_eps)); };
    self_attn = register_module("self_attn", Attention(d, c.decoder_heads, 1));
    layer_norm1 = register_module("layer_norm1", ln());
    cross_attn_token_to_image = register_module(
        "cross_attn_token_to_image", Attention(d, c.decoder_heads, c.attention_downsample_rate));
    layer_norm2 = register_module("layer_norm2", ln());
    mlp = register_module("mlp", MlpBlock(d, c.decoder_mlp, /*relu=*/true));
    layer_norm3 = register_module("layer_norm3", ln());
    layer_norm4 = register_module("layer_norm4", ln());
    cross_attn_image_to_token = register_module(
        "cross_attn_image_to_token", Attention(d, c.decoder_heads, c.attention_downsample_rate));
}

void TwoWayBlockImpl::forward(torch::Tensor& queries, torch::Tensor& keys,
                              const torch::Tensor& query_pe, const torch::Tensor& key_pe) {
    if (skip_first_pe) {
        queries = self_attn(queries, queries, queries);
    } else {
        const auto q = queries + query_pe;
        queries = queries + self_attn(q, q, queries);
    }
    queries = layer_norm1(queries);
    auto q = queries + query_pe;
    auto k = keys + key_pe;
    queries = layer_norm2(queries + cross_attn_token_to_image(q, k, keys));
    queries = layer_norm3(queries + mlp(queries));
    q = queries + query_pe;
    k = keys + key_pe;
    keys = layer_norm4(keys + cross_attn_image_to_token(k, q, queries));
}

TwoWayTransformerImpl::TwoWayTransformerImpl(const SamConfig& c) {
    layers = register_module("layers", nn::ModuleList());
    for (int i = 0; i < c.decoder_layers; ++i) layers->push_back(TwoWayBlock(c, i == 0));
    final_attn_token_to_image =
        register_module("final_attn_token_to_image",
                        Attention(c.decoder_hidden, c.decoder_heads, c.attention_downsample_rate));
    layer_norm_final_attn = register_module(
        "layer_norm_final_attn",
        nn::LayerNorm(nn::LayerNormOptions({c.decoder_hidden}).eps(c.decoder_eps)));
}

FeedForwardImpl::FeedForwardImpl(int64_t in, int64_t hidden, int64_t out, int depth) {
    proj_in = register_module("proj_in", nn::Linear(in, hidden));
    layers = register_module("layers", nn::ModuleList());
    for (int i = 0; i < depth - 2; ++i) layers->push_back(nn::Linear(hidden, hidden));
    proj_out = register_module("proj_out", nn::Linear(hidden, out));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
    auto h = torch::relu(proj_in(x));
    for (const auto& m : *layers) h = torch::relu(m->as<nn::LinearImpl>()->forward(h));
    return proj_out(h);
}

MaskDecoderImpl::MaskDecoderImpl(const SamConfig& c)
    : num_mask_tokens(c.num_multimask_outputs + 1) {
    const int64_t d = c.decoder_hidden;
    iou_token = register_module("iou_token", nn::Embedding(1, d));
    mask_tokens = register_module("mask_tokens", nn::Embedding(num_mask_tokens, d));
    transformer = register_module("transformer", TwoWayTransformer(c));
    upscale_conv1 = register_module(
        "upscale_conv1", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(d, d / 4, 2).stride(2)));
    upscale_conv2 = register_module(
        "upscale_conv2",
        nn::ConvTranspose2d(nn::ConvTranspose2dOptions(d / 4, d / 8, 2).stride(2)));
    upscale_layer_norm = register_module("upscale_layer_norm", LayerNorm2d(d / 4, 1e-6));
    output_hypernetworks_mlps = register_module("output_hypernetworks_mlps", nn::ModuleList());
    for (int64_t i = 0; i < num_mask_tokens; ++i)
        output_hypernetworks_mlps->push_back(FeedForward(d, d, d / 8, 3));
    iou_prediction_head = register_module(
        "iou_prediction_head",
        FeedForward(d, c.iou_head_hidden, num_mask_tokens, c.iou_head_depth));
}

DecoderOutput MaskDecoderImpl::forward(const torch::Tensor& image, const torch::Tensor& image_pe,
                                       const torch::Tensor& sparse, const torch::Tensor& dense,
                                       bool multimask) {
    const int64_t B = image.size(0), C = image.size(1), E = image.size(2);
    const int64_t P = sparse.size(1);
    auto tokens = torch::cat({iou_token->weight, mask_tokens->weight}, 0)
                      .unsqueeze(0)
                      .unsqueeze(0)
                      .expand({B, P, -1, -1});
    tokens = torch::cat({tokens, sparse.to(tokens.dtype())}, 2);
    // Per prompt: the image (plus the dense prompt) and its positions, prompt-major per image.
    auto keys = (image + dense).repeat_interleave(P, 0);  // [B * P, C, E, E]
    const auto pe = image_pe.expand({B, -1, -1, -1}).repeat_interleave(P, 0);
    keys = keys.flatten(2).permute({0, 2, 1}).unsqueeze(1);  // [B * P, 1, E * E, C]
    const auto key_pe = pe.flatten(2).permute({0, 2, 1}).unsqueeze(1);

    auto queries = tokens;
    for (const auto& m : *transformer->layers)
        m->as<TwoWayBlockImpl>()->forward(queries, keys, tokens, key_pe);
    queries = queries + transformer->final_attn_token_to_image(queries + tokens, keys + key_pe,
                                                               keys);
    queries = transformer->layer_norm_final_attn(queries);

    const auto iou_out = queries.select(2, 0);                          // [B, P, C]
    const auto mask_out = queries.slice(2, 1, 1 + num_mask_tokens);     // [B, P, M, C]
    auto up = keys.squeeze(1).transpose(1, 2).reshape({B * P, C, E, E});
    up = torch::gelu(upscale_layer_norm(upscale_conv1(up)));
    up = torch::gelu(upscale_conv2(up));  // [B * P, C / 8, 4E, 4E]
    std::vector<torch::Tensor> hyper;
    for (int64_t i = 0; i < num_mask_tokens; ++i)
        hyper.push_back(output_hypernetworks_mlps[i]->as<FeedForwardImpl>()->forward(
            mask_out.select(2, i)));
    const auto hyper_in = torch::stack(hyper, 2);  // [B, P, M, C / 8]
    const int64_t c8 = up.size(1), side = up.size(2);
    auto masks = torch::matmul(hyper_in, up.reshape({B, P, c8, side * side}))
                     .reshape({B, P, num_mask_tokens, side, side});
    auto iou = iou_prediction_head(iou_out);
    DecoderOutput out;
    if (multimask) {
        out.masks = masks.slice(2, 1);
        out.iou = iou.slice(2, 1);
    } else {
        out.masks = masks.slice(2, 0, 1);
        out.iou = iou.slice(2, 0, 1);
    }
    return out;
}

}  // namespace rc::sam
