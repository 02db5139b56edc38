#include "model/sam/sam_net.h"

#include <algorithm>
#include <vector>

namespace rc::sam {

SamNetImpl::SamNetImpl(const SamConfig& c) : config(c) {
    shared_image_embedding = register_module("shared_image_embedding", PositionalEmbedding(c));
    vision_encoder = register_module("vision_encoder", VisionEncoder(c));
    prompt_encoder = register_module("prompt_encoder", PromptEncoder(c));
    mask_decoder = register_module("mask_decoder", MaskDecoder(c));
}

torch::Tensor SamNetImpl::image_positions() {
    const auto& w = shared_image_embedding->positional_embedding;
    if (positions_.defined() && positions_.device() == w.device() &&
        positions_.dtype() == w.dtype())
        return positions_;
    const int64_t E = config.image_embedding_size;
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(w.device());
    const auto centres = (torch::arange(E, opts) + 0.5) / double(E);
    const auto y = centres.view({E, 1}).expand({E, E});
    const auto x = centres.view({1, E}).expand({E, E});
    const auto grid = torch::stack({x, y}, -1).to(w.dtype());
    positions_ = shared_image_embedding->forward(grid).permute({2, 0, 1}).unsqueeze(0);
    return positions_;
}

DecoderOutput SamNetImpl::decode(const torch::Tensor& embeddings, const torch::Tensor& points,
                                 const torch::Tensor& labels, const torch::Tensor& boxes,
                                 bool multimask) {
    const auto sparse = prompt_encoder->sparse(points, labels, boxes, shared_image_embedding);
    const auto dense = prompt_encoder->dense();
    const auto positions = image_positions();
    // On the CPU the prompts go through a few at a time: each carries its own copy of the
    // image tokens (4 MiB at sam-vit-base's size), and the allocator reuses temporaries of a
    // few MiB where it maps larger ones afresh each time, which costs more than the arithmetic.
    const int64_t P = sparse.size(1);
    const int64_t per_prompt = embeddings[0].numel() * int64_t(embeddings.element_size());
    const int64_t group =
        embeddings.device().is_cpu() ? std::max<int64_t>(1, (int64_t(8) << 20) / per_prompt) : P;
    if (group >= P) return mask_decoder->forward(embeddings, positions, sparse, dense, multimask);
    std::vector<torch::Tensor> masks, iou;
    for (int64_t s = 0; s < P; s += group) {
        auto d = mask_decoder->forward(embeddings, positions, sparse.slice(1, s, s + group), dense,
                                       multimask);
        masks.push_back(d.masks);
        iou.push_back(d.iou);
    }
    return {torch::cat(masks, 1), torch::cat(iou, 1)};
}

int64_t count_parameters(const SamConfig& c) {
    const int64_t h = c.vision_hidden, side = c.image_size / c.patch_size;
    int64_t n = 3 * h * c.patch_size * c.patch_size + h + side * side * h;
    const int64_t head = h / c.vision_heads;
    for (int i = 0; i < c.vision_layers; ++i) {
        const bool global = std::find(c.global_attn_indexes.begin(), c.global_attn_indexes.end(),
                                      i) != c.global_attn_indexes.end();
        const int64_t win = global ? side : c.window_size;
        n += 4 * h + 3 * h * h + 3 * h + h * h + h + 2 * (2 * win - 1) * head;
        n += 2 * h * c.vision_mlp + c.vision_mlp + h;
    }
    const int64_t o = c.output_channels, d = c.decoder_hidden;
    n += h * o + 9 * o * o + 4 * o;
    n += 2 * c.num_pos_feats;
    n += 6 * d + c.mask_input_channels * (c.mask_input_channels + 3) + d;  // prompt encoder
    n += int64_t(c.decoder_layers) *
         (4 * d * d + 8 * d * d / c.attention_downsample_rate + 2 * d * c.decoder_mlp + 12 * d);
    n += 4 * d * d / c.attention_downsample_rate;
    n += int64_t(c.num_multimask_outputs + 1) * (2 * d * d + d * d / 8 + d);
    return n;
}

}  // namespace rc::sam
