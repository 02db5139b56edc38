#include "model/clip_vision.h"

#include "model/attention.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"

namespace rc {

namespace nn = torch::nn;

ClipAttentionImpl::ClipAttentionImpl(const VisionConfig& c)
    : heads(c.num_attention_heads), head_dim(c.hidden_size / c.num_attention_heads) {
    const int64_t d = c.hidden_size;
    q_proj = register_module("q_proj", Linear(d, d));
    k_proj = register_module("k_proj", Linear(d, d));
    v_proj = register_module("v_proj", Linear(d, d));
    out_proj = register_module("out_proj", Linear(d, d));
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), T = x.size(1);
    auto split = [&](const torch::Tensor& t) {
        return t.view({B, T, heads, head_dim}).transpose(1, 2);
    };
    auto out = attention(split(q_proj(x)), split(k_proj(x)), split(v_proj(x)), -1);
    return out_proj(out.transpose(1, 2).reshape({B, T, heads * head_dim}));
}

ClipMlpImpl::ClipMlpImpl(const VisionConfig& c) : quick_gelu(c.hidden_act == "quick_gelu") {
    fc1 = register_module("fc1", Linear(c.hidden_size, c.intermediate_size));
    fc2 = register_module("fc2", Linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x) {
    auto h = fc1(x);
    h = quick_gelu ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
    return fc2(h);
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const VisionConfig& c, bool with_adapters) {
    auto ln = nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps);
    self_attn = register_module("self_attn", ClipAttention(c));
    layer_norm1 = register_module("layer_norm1", nn::LayerNorm(ln));
    mlp = register_module("mlp", ClipMlp(c));
    layer_norm2 = register_module("layer_norm2", nn::LayerNorm(ln));
    if (with_adapters)
        register_adapters(*this, c.hidden_size, c.adapter, &adapter_attn, &adapter_mlp);
}

torch::Tensor ClipEncoderLayerImpl::forward(torch::Tensor x) {
    // Pink (CLIPEncoderAdapterLayer): x + Attn(Adapter(LN1(x))), then x + MLP(Adapter(LN2(x))).
    auto h = layer_norm1(x);
    if (adapter_attn) h = adapter_attn(h);
    x = x + self_attn(h);
    h = layer_norm2(x);
    if (adapter_mlp) h = adapter_mlp(h);
    return x + mlp(h);
}

ClipEncoderImpl::ClipEncoderImpl(const VisionConfig& c) {
    layers = register_module("layers", nn::ModuleList());
    for (int i = 0; i < c.num_hidden_layers; ++i) {
        ClipEncoderLayer layer(c, i < c.adapter_layers);
        place_built(*layer);
        layers->push_back(layer);
    }
}

ClipEmbeddingsImpl::ClipEmbeddingsImpl(const VisionConfig& c) {
    const int64_t patches = (c.image_size / c.patch_size) * (c.image_size / c.patch_size);
    class_embedding = register_parameter("class_embedding", torch::randn({c.hidden_size}));
    patch_embedding = register_module(
        "patch_embedding", nn::Conv2d(nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size)
                                          .stride(c.patch_size)
                                          .bias(false)));
    position_embedding =
        register_module("position_embedding", Embedding(patches + 1, c.hidden_size));
}

torch::Tensor ClipEmbeddingsImpl::forward(const torch::Tensor& pixels) {
    const int64_t B = pixels.size(0);
    const auto& w = patch_embedding->weight;
    // A bf16 tower on the CPU convolves in fp32 (LibTorch 1.13's bf16 convolution is many times
    // slower there), the patches rounded back to bf16 as the bf16 convolution gives them.
    const bool widen = w.scalar_type() == torch::kBFloat16 && w.device().is_cpu() &&
                       !torch::GradMode::is_enabled();
    auto conv = widen ? torch::conv2d(pixels.to(torch::kFloat32), w.to(torch::kFloat32), {},
                                      patch_embedding->options.stride())
                            .to(torch::kBFloat16)
                      : patch_embedding(pixels.to(w.dtype()));
    auto patches = conv.flatten(2).transpose(1, 2);  // [B, P, D]
    auto cls = class_embedding.view({1, 1, -1}).expand({B, 1, class_embedding.size(0)});
    auto x = torch::cat({cls, patches}, 1);
    if (x.size(1) != position_embedding->weight.size(0)) {
        throw Error("image gives " + std::to_string(x.size(1)) +
                    " vision tokens, the position table has " +
                    std::to_string(position_embedding->weight.size(0)));
    }
    return x + position_embedding->weight.unsqueeze(0);
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const VisionConfig& c) {
    auto ln = nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps);
    embeddings = register_module("embeddings", ClipEmbeddings(c));
    pre_layrnorm = register_module("pre_layrnorm", nn::LayerNorm(ln));
    encoder = register_module("encoder", ClipEncoder(c));
    post_layernorm = register_module("post_layernorm", nn::LayerNorm(ln));
}

ClipVisionModelImpl::ClipVisionModelImpl(const VisionConfig& c) : num_layers(c.num_hidden_layers) {
    vision_model = register_module("vision_model", ClipVisionTransformer(c));
}

torch::Tensor ClipVisionModelImpl::forward(const torch::Tensor& pixels, int feature_layer) {
    const int index = feature_layer >= 0 ? feature_layer : num_layers + 1 + feature_layer;
    if (index < 0 || index > num_layers) {
        throw Error("vision_feature_layer " + std::to_string(feature_layer) + " is outside " +
                    std::to_string(num_layers) + " layers");
    }
    auto& vm = *vision_model;
    auto x = vm.pre_layrnorm(vm.embeddings(pixels));
    auto& layers = *vm.encoder->layers;
    for (int i = 0; i < index; ++i) x = layers[i]->as<ClipEncoderLayer>()->forward(x);
    return x;
}

}  // namespace rc
