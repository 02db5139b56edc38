// Test access to a loaded model's internals (LibTorch): the LLaVA-architecture network and its
// preprocessing. Only for tests of the llava and pink families.
#pragma once

#include <stdexcept>

#include "engine/model_impl.h"
#include "model/llava/llava_family.h"

namespace rc::testing {

inline LlavaNetwork& llava_network(Model& model) {
    auto* net = dynamic_cast<LlavaNetwork*>(ModelAccess::of(model).network.get());
    if (!net) throw std::logic_error("not a LLaVA-architecture model");
    return *net;
}

inline Llava& llava_net(Model& model) {
    return llava_network(model).module();
}

/// Embeddings of `ids` with the image features scattered over the image-token positions, as
/// LlavaForConditionalGeneration (and PinkModel, over its patch tokens) builds them.
inline torch::Tensor embeds_with_images(Llava& net, const torch::Tensor& ids,
                                        const torch::Tensor& feats) {
    const auto is_image = ids.eq(net->config.image_token_index);
    auto e = net->language_model->embed(ids.masked_fill(is_image, 0));
    return e.masked_scatter(is_image.unsqueeze(-1).expand_as(e), feats.reshape({-1}));
}

/// Logits of one full forward pass over `ids` with the image of `pixels` (no cache).
inline torch::Tensor logits_with_images(Llava& net, const torch::Tensor& ids,
                                        const torch::Tensor& pixels) {
    const auto e = embeds_with_images(net, ids, net->encode_images(pixels));
    return net->language_model->logits(net->language_model->forward(e, 0, nullptr));
}

/// `n` greedy tokens after `ids` with the image of `pixels`, through the KV cache.
inline torch::Tensor greedy_continuation(Llava& net, const torch::Tensor& ids,
                                         const torch::Tensor& pixels, int64_t n) {
    torch::NoGradGuard ng;
    auto cache = net->language_model->make_cache();
    auto e = embeds_with_images(net, ids, net->encode_images(pixels));
    int64_t pos = 0;
    std::vector<int64_t> got;
    for (int64_t i = 0; i < n; ++i) {
        auto logits = net->language_model->logits(net->language_model->forward(e, pos, &cache));
        pos += e.size(1);
        const int64_t next = logits.select(1, logits.size(1) - 1).argmax(-1).item<int64_t>();
        got.push_back(next);
        e = net->language_model->embed(torch::tensor({next}, torch::kInt64).view({1, 1}));
    }
    return torch::tensor(got, torch::kInt64);
}

}  // namespace rc::testing
