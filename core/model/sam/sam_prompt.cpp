#include "model/sam/sam_prompt.h"

#include <cmath>

namespace rc::sam {

namespace nn = torch::nn;

PositionalEmbeddingImpl::PositionalEmbeddingImpl(const SamConfig& c) {
    positional_embedding =
        register_parameter("positional_embedding", torch::randn({2, c.num_pos_feats}));
}

torch::Tensor PositionalEmbeddingImpl::forward(torch::Tensor coords, int64_t input_size) {
    if (input_size > 0) coords = coords / double(input_size);
    coords = 2 * coords.to(positional_embedding.dtype()) - 1;
    coords = torch::matmul(coords, positional_embedding) * (2 * M_PI);
    return torch::cat({torch::sin(coords), torch::cos(coords)}, -1);
}

MaskEmbeddingImpl::MaskEmbeddingImpl(const SamConfig& c) {
    const int64_t m = c.mask_input_channels;
    conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, m / 4, 2).stride(2)));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(m / 4, m, 2).stride(2)));
    conv3 = register_module("conv3", nn::Conv2d(nn::Conv2dOptions(m, c.prompt_hidden, 1)));
    layer_norm1 = register_module("layer_norm1", LayerNorm2d(m / 4, 1e-6));
    layer_norm2 = register_module("layer_norm2", LayerNorm2d(m, 1e-6));
}

PromptEncoderImpl::PromptEncoderImpl(const SamConfig& c)
    : input_size(c.image_size), embedding_size(c.image_embedding_size) {
    mask_embed = register_module("mask_embed", MaskEmbedding(c));
    no_mask_embed = register_module("no_mask_embed", nn::Embedding(1, c.prompt_hidden));
    point_embed = register_module("point_embed", nn::ModuleList());
    for (int i = 0; i < 4; ++i) point_embed->push_back(nn::Embedding(1, c.prompt_hidden));
    not_a_point_embed = register_module("not_a_point_embed", nn::Embedding(1, c.prompt_hidden));
}

torch::Tensor PromptEncoderImpl::sparse(const torch::Tensor& points, const torch::Tensor& labels,
                                        const torch::Tensor& boxes,
                                        PositionalEmbedding& shared) const {
    auto weight = [&](int i) {
        return point_embed->ptr(size_t(i))->as<nn::EmbeddingImpl>()->weight[0];
    };
    torch::Tensor tokens;
    if (points.defined()) {
        auto p = points + 0.5;  // pixel centres
        auto l = labels;
        if (!boxes.defined()) {  // a padding point stands in for the missing box
            p = torch::cat({p, torch::zeros({p.size(0), p.size(1), 1, 2}, p.options())}, 2);
            l = torch::cat({l, -torch::ones({l.size(0), l.size(1), 1}, l.options())}, 2);
        }
        auto e = shared->forward(p, input_size);
        const auto lab = l.unsqueeze(-1);
        e = torch::where(lab == -1, not_a_point_embed->weight[0].expand_as(e), e);
        e = torch::where(lab == -10, torch::zeros_like(e), e);
        e = torch::where(lab == 0, e + weight(0), e);
        e = torch::where(lab == 1, e + weight(1), e);
        tokens = e;
    }
    if (boxes.defined()) {
        const auto corners = (boxes + 0.5).reshape({boxes.size(0), boxes.size(1), 2, 2});
        auto e = shared->forward(corners, input_size);
        e = torch::stack({e.select(2, 0) + weight(2), e.select(2, 1) + weight(3)}, 2);
        tokens = tokens.defined() ? torch::cat({tokens, e}, 2) : e;
    }
    return tokens;
}

torch::Tensor PromptEncoderImpl::dense() const {
    return no_mask_embed->weight.reshape({1, -1, 1, 1})
        .expand({1, -1, embedding_size, embedding_size});
}

}  // namespace rc::sam
