// InternVL2's vision side (model/colva/internvl.h).
#include "model/colva/internvl.h"
#include "model/colva/radio.h"

#include <cmath>

#include "model/tensor_io.h"
#include "regionchat/error.h"

namespace rc {

InternVitAttentionImpl::InternVitAttentionImpl(int width, int heads_) : heads(heads_) {
    qkv = register_module("qkv", Linear(width, 3 * width));
    proj = register_module("proj", Linear(width, width));
}

torch::Tensor InternVitAttentionImpl::forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2), D = C / heads;
    auto t = qkv(x).reshape({B, N, 3, heads, D}).permute({2, 0, 3, 1, 4});
    auto o = attend(t[0], t[1], t[2], {}, 1.0 / std::sqrt(double(D)));
    return proj(o.transpose(1, 2).reshape({B, N, C}));
}

InternVitMlpImpl::InternVitMlpImpl(int width, int hidden) {
    fc1 = register_module("fc1", Linear(width, hidden));
    fc2 = register_module("fc2", Linear(hidden, width));
}

InternVitLayerImpl::InternVitLayerImpl(const InternVitConfig& c) {
    norm1 = register_module("norm1", layer_norm(c.width, c.eps));
    attn = register_module("attn", InternVitAttention(c.width, c.heads));
    if (c.layer_scale) ls1 = register_parameter("ls1", torch::ones({c.width}));
    norm2 = register_module("norm2", layer_norm(c.width, c.eps));
    mlp = register_module("mlp", InternVitMlp(c.width, c.mlp));
    if (c.layer_scale) ls2 = register_parameter("ls2", torch::ones({c.width}));
}

torch::Tensor InternVitLayerImpl::forward(torch::Tensor x) {
    if (!ls1.defined()) {  // timm's Block (RADIO)
        x = x + attn(norm1(x));
        return x + mlp->fc2(torch::gelu(mlp->fc1(norm2(x))));
    }
    x = x + attn(norm1(x)) * ls1;
    return x + mlp->fc2(torch::gelu(mlp->fc1(norm2(x)))) * ls2;
}

InternVitEmbeddingsImpl::InternVitEmbeddingsImpl(const InternVitConfig& c) {
    const int64_t g = c.grid();
    class_embedding = register_parameter("class_embedding", torch::zeros({1, 1, c.width}));
    position_embedding = register_parameter("position_embedding", torch::zeros({1, 1 + g * g, c.width}));
    patch_embedding = register_module(
        "patch_embedding", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.width, c.patch).stride(c.patch)));
}

InternVitEncoderImpl::InternVitEncoderImpl(const InternVitConfig& c) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int i = 0; i < c.depth; ++i) {
        InternVitLayer l(c);
        place_built(*l);
        layers->push_back(l);
    }
}

InternVitImpl::InternVitImpl(const InternVitConfig& c) {
    if (c.qk_norm) throw Error("InternViT with qk_normalization (the 6B tower) is not supported");
    embeddings = register_module("embeddings", InternVitEmbeddings(c));
    encoder = register_module("encoder", InternVitEncoder(c));
}

torch::Tensor InternVitImpl::forward(const torch::Tensor& pixels) {
    auto& e = *embeddings;
    auto x = e.patch_embedding(pixels).flatten(2).transpose(1, 2);
    if (x.size(1) + 1 != e.position_embedding.size(1))
        throw Error("InternViT takes tiles of its own size only (" +
                    std::to_string(e.position_embedding.size(1) - 1) + " patches, got " +
                    std::to_string(x.size(1)) + ")");
    x = torch::cat({e.class_embedding.expand({x.size(0), -1, -1}).to(x.dtype()), x}, 1) +
        e.position_embedding;
    for (const auto& l : *encoder->layers) x = l->as<InternVitLayer>()->forward(x);
    return x;
}

torch::Tensor internvl_pixel_shuffle(const torch::Tensor& tokens) {
    const int64_t n = tokens.size(0), c = tokens.size(2);
    const int64_t g = int64_t(std::lround(std::sqrt(double(tokens.size(1)))));
    if (g * g != tokens.size(1) || g % 2 != 0)
        throw Error("pixel shuffle needs an even square grid of tokens");
    auto x = tokens.reshape({n, g, g, c});          // (n, w, h, c) as InternVL names them
    x = x.view({n, g, g / 2, c * 2}).permute({0, 2, 1, 3}).contiguous();
    x = x.view({n, g / 2, g / 2, c * 4}).permute({0, 2, 1, 3}).contiguous();
    return x.reshape({n, -1, c * 4});
}

InternVlNetImpl::InternVlNetImpl(const InternVlConfig& c) : config(c) {
    vision_model = register_module("vision_model", InternVit(c.vision));
    mlp1 = register_module("mlp1", InternVlProjector(4 * c.vision.width, c.text.hidden_size));
    language_model = register_module("language_model", LlamaForCausalLM(c.text));
    if (c.has_radio) {
        object_tokenizer = register_module("object_tokenizer", std::make_shared<ObjectTokenizerImpl>(c.radio));
        ot_mlp1 = register_module("ot_mlp1", InternVlProjector(c.radio.width, c.text.hidden_size));
    }
}

torch::Tensor InternVlNetImpl::image_rows(const torch::Tensor& tiles) {
    auto vit = vision_model(tiles);
    auto rows = mlp1(internvl_pixel_shuffle(vit.narrow(1, 1, vit.size(1) - 1)));
    return rows.reshape({-1, rows.size(-1)});
}

std::string internvl_key(const std::string& name, int* part) {
    *part = -1;
    // vision_model.*, mlp1.*, embeddings, norms and lm_head are named as ours.
    if (name.rfind("language_model.model.layers.", 0) != 0) return name;
    static const struct {
        const char* ours;
        const char* theirs;
        int part;
    } kFused[] = {{"self_attn.q_proj.", "self_attn.qkv_proj.", 0},
                  {"self_attn.k_proj.", "self_attn.qkv_proj.", 1},
                  {"self_attn.v_proj.", "self_attn.qkv_proj.", 2},
                  {"mlp.gate_proj.", "mlp.gate_up_proj.", 0},
                  {"mlp.up_proj.", "mlp.gate_up_proj.", 1}};
    for (const auto& f : kFused) {
        const size_t at = name.find(f.ours);
        if (at == std::string::npos) continue;
        *part = f.part;
        std::string k = name;
        return k.replace(at, std::string(f.ours).size(), f.theirs);
    }
    return name;
}

torch::Tensor phi3_fused_part(const torch::Tensor& w, bool qkv, int part, const TextConfig& t) {
    const int64_t d = t.hidden_size / t.num_attention_heads;
    const int64_t q = t.num_attention_heads * d, kv = t.num_key_value_heads * d;
    const int64_t want = qkv ? q + 2 * kv : 2 * int64_t(t.intermediate_size);
    if (w.dim() != 2 || w.size(0) != want || w.size(1) != t.hidden_size)
        throw Error("does not fit the config's heads and sizes");
    if (qkv) return w.narrow(0, part == 0 ? 0 : part == 1 ? q : q + kv, part == 0 ? q : kv);
    return w.narrow(0, part * int64_t(t.intermediate_size), t.intermediate_size);
}

uint64_t load_internvl(InternVlNetImpl& net, const SafetensorsArchive& archive) {
    uint64_t bytes = 0;
    torch::NoGradGuard no_grad;
    for (auto& item : net.named_parameters()) {
        int part = -1;
        const std::string key = internvl_key(item.key(), &part);
        const TensorView* v = archive.find(key);
        if (!v) throw Error("tensor '" + key + "' is missing (for " + item.key() + ")");
        torch::Tensor& p = item.value();
        if (part < 0) {
            if (v->shape != p.sizes().vec())
                throw Error(v->file + ": tensor '" + key + "' has the wrong shape");
            copy_view_into(*v, p);
            bytes += v->nbytes;
            continue;
        }
        auto w = torch::empty(v->shape, torch::kFloat32);
        copy_view_into(*v, w);
        try {
            p.copy_(phi3_fused_part(w, key.find("qkv_proj") != std::string::npos, part, net.config.text));
        } catch (const Error& e) {
            throw Error(v->file + ": tensor '" + key + "' " + e.what());
        }
        bytes += uint64_t(p.numel()) * v->nbytes / uint64_t(w.numel());
    }
    return bytes;
}

InternVlProjectorImpl::InternVlProjectorImpl(int in, int out) {
    norm = register_module("0", layer_norm(in, 1e-5));
    fc1 = register_module("1", Linear(in, out));
    fc2 = register_module("3", Linear(out, out));
}

torch::Tensor InternVlProjectorImpl::forward(const torch::Tensor& x) {
    return fc2(torch::gelu(fc1(norm(x))));
}

}  // namespace rc
