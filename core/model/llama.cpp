#include "model/llama.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/decode_ops.h"
#include "model/attention.h"
#include "model/tensor_io.h"

namespace rc {

namespace nn = torch::nn;

namespace {
// Up to this many new positions in one forward take the fused attention (a decode step, beams'
// single steps, a second turn's prompt); longer prompts take LibTorch's batched products.
constexpr int64_t kFusedRows = 32;

bool torch_ops_only() {
    static const bool env_off = [] {
        const char* v = std::getenv("REGIONCHAT_TORCH_OPS");
        return v && *v && std::strcmp(v, "0") != 0;
    }();
    return TorchOpsOnly::on() || env_off;
}

// Whether this forward takes the fused CPU kernels: fp32 on the CPU, no autograd (training keeps
// LibTorch's operations and their gradients).
bool fused(const torch::Tensor& x) {
    return !torch_ops_only() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
           !torch::GradMode::is_enabled();
}

// A bf16 model on the CPU computes its activations (and holds its KV cache) in fp32, as
// llama.cpp does with bf16 weights: the products read bf16 weights either way, and everything
// between them then takes the fused kernels instead of LibTorch's bf16 operations.
bool fp32_activations(const torch::Tensor& weight) {
    return !torch_ops_only() && weight.device().is_cpu() &&
           weight.scalar_type() == torch::kBFloat16;
}
}  // namespace

RmsNormImpl::RmsNormImpl(int64_t dim, double eps_) : eps(eps_) {
    weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
    if (fused(x) && (weight.scalar_type() == torch::kFloat32 || weight.scalar_type() == torch::kBFloat16) &&
        weight.is_contiguous() && x.dim() >= 1 && x.size(-1) == weight.size(0)) {
        const auto xc = x.contiguous();
        auto y = torch::empty_like(xc);
        const int64_t dim = weight.size(0), rows = dim > 0 ? xc.numel() / dim : 0;
        if (weight.scalar_type() == torch::kBFloat16)
            kernels::rms_norm(xc.data_ptr<float>(),
                              reinterpret_cast<const uint16_t*>(weight.data_ptr<at::BFloat16>()),
                              y.data_ptr<float>(), rows, dim, float(eps));
        else
            kernels::rms_norm(xc.data_ptr<float>(), weight.data_ptr<float>(), y.data_ptr<float>(),
                              rows, dim, float(eps));
        return y;
    }
    // As Hugging Face: normalise in fp32, cast back, then scale.
    auto h = x.to(torch::kFloat32);
    h = h * torch::rsqrt(h.pow(2).mean(-1, true) + eps);
    return weight * h.to(x.scalar_type());
}

Rope::Rope(const TextConfig& c)
    : head_dim_(c.hidden_size / c.num_attention_heads),
      theta_(c.rope_theta),
      short_(c.rope_short_factor),
      long_(c.rope_long_factor),
      original_max_(c.rope_original_max),
      attention_factor_(c.rope_attention_factor) {}

void Rope::grow(Table& t, int64_t needed, const torch::Tensor& like,
                const std::vector<double>& factors) {
    if (t.cos.defined() && t.cos.size(0) >= needed && t.cos.device() == like.device()) return;
    const int64_t n = std::max<int64_t>(needed, t.cos.defined() ? t.cos.size(0) * 2 : 512);
    auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(like.device());
    auto inv_freq =
        1.0 / torch::pow(theta_, torch::arange(0, head_dim_, 2, opts.dtype(torch::kFloat64))
                                     .to(torch::kFloat32)
                                     .div(static_cast<double>(head_dim_)));
    if (!factors.empty())  // LongRoPE: 1 / (factor * base^(2i/d)), as transformers computes it
        inv_freq = 1.0 / (torch::tensor(factors, torch::kFloat64).to(torch::kFloat32).to(like.device()) *
                          torch::pow(theta_, torch::arange(0, head_dim_, 2, opts.dtype(torch::kFloat64))
                                                 .to(torch::kFloat32)
                                                 .div(static_cast<double>(head_dim_))));
    auto freqs = torch::outer(torch::arange(n, opts), inv_freq.to(opts));
    auto emb = torch::cat({freqs, freqs}, -1);
    t.cos = emb.cos() * attention_factor_;
    t.sin = emb.sin() * attention_factor_;
}

std::pair<torch::Tensor, torch::Tensor> Rope::table(int64_t pos, int64_t T,
                                                    const torch::Tensor& like) {
    const int64_t needed = pos + T;
    // transformers' LongRoPE update: the long factors for a forward reaching past the
    // original context, the short ones otherwise.
    const bool use_long = !long_.empty() && needed > original_max_;
    Table& t = use_long ? long_table_ : plain_;
    grow(t, needed, like, use_long ? long_ : short_);
    return {t.cos.narrow(0, pos, T).to(like.scalar_type()),
            t.sin.narrow(0, pos, T).to(like.scalar_type())};
}

namespace {

torch::Tensor rotate_half(const torch::Tensor& x) {
    const int64_t h = x.size(-1) / 2;
    return torch::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
    return x * cos + rotate_half(x) * sin;
}

}  // namespace

LlamaAttentionImpl::LlamaAttentionImpl(const TextConfig& c)
    : heads(c.num_attention_heads),
      kv_heads(c.num_key_value_heads),
      head_dim(c.hidden_size / c.num_attention_heads) {
    const int64_t d = c.hidden_size;
    auto lin = [](int64_t i, int64_t o) { return Linear(i, o, /*with_bias=*/false); };
    q_proj = register_module("q_proj", lin(d, heads * head_dim));
    k_proj = register_module("k_proj", lin(d, kv_heads * head_dim));
    v_proj = register_module("v_proj", lin(d, kv_heads * head_dim));
    o_proj = register_module("o_proj", lin(heads * head_dim, d));
}

torch::Tensor LlamaAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                          const torch::Tensor& sin, int64_t pos, KvCache* cache,
                                          int layer) {
    const int64_t B = x.size(0), T = x.size(1);
    const int64_t nq = heads * head_dim, nkv = kv_heads * head_dim;
    if (qkv && cache && B == 1 && T <= kFusedRows && fused(x) &&
        cos.scalar_type() == torch::kFloat32 && cos.is_contiguous() && sin.is_contiguous() &&
        !cache->empty_storage() && cache->keys(layer).scalar_type() == torch::kFloat32) {
        // A decode step, or a short prompt continuing a conversation (a second turn's few
        // dozen tokens), in one pass per row: rotary embedding in place on the fused q/k/v
        // output, k and v written into the cache, and each row's attention over positions
        // [0, pos + t], computed as a decode step at that position computes it (so a row's values
        // do not depend on how the tokens were cut into steps).
        const auto y = qkv(x).contiguous();
        float* yp = y.data_ptr<float>();
        const int64_t row = nq + 2 * nkv;
        const float* cp = cos.data_ptr<float>();
        const float* sp = sin.data_ptr<float>();
        cache->make_room(layer, pos + T);
        const int64_t cap = cache->capacity();
        float* kp = cache->keys(layer).data_ptr<float>();
        float* vp = cache->values(layer).data_ptr<float>();
        for (int64_t t = 0; t < T; ++t) {
            float* yr = yp + t * row;
            kernels::rope(yr, heads, head_dim, cp + t * head_dim, sp + t * head_dim);
            kernels::rope(yr + nq, kv_heads, head_dim, cp + t * head_dim, sp + t * head_dim);
            for (int64_t h = 0; h < kv_heads; ++h) {
                std::memcpy(kp + (h * cap + pos + t) * head_dim, yr + nq + h * head_dim, size_t(head_dim) * 4);
                std::memcpy(vp + (h * cap + pos + t) * head_dim, yr + nq + nkv + h * head_dim, size_t(head_dim) * 4);
            }
        }
        auto out = torch::empty({1, T, nq}, x.options());
        float* op = out.data_ptr<float>();
        const float scale = float(1.0 / std::sqrt(double(head_dim)));
        kernels::attend_rows(yp, row, T, heads, kv_heads, head_dim, kp, vp, cap * head_dim,
                             pos + 1, scale, op, nq);
        return o_proj(out);
    }
    torch::Tensor q, k, v;
    if (qkv) {
        const auto y = qkv(x);
        q = y.narrow(-1, 0, nq);
        k = y.narrow(-1, nq, nkv);
        v = y.narrow(-1, nq + nkv, nkv);
    } else {
        q = q_proj(x);
        k = k_proj(x);
        v = v_proj(x);
    }
    q = q.view({B, T, heads, head_dim}).transpose(1, 2);
    k = k.view({B, T, kv_heads, head_dim}).transpose(1, 2);
    v = v.view({B, T, kv_heads, head_dim}).transpose(1, 2);
    q = apply_rope(q, cos, sin);
    k = apply_rope(k, cos, sin);
    if (cache) std::tie(k, v) = cache->update(layer, k, v, pos);
    torch::Tensor out;
    if (kv_heads != heads && !x.is_cuda()) {
        // Grouped-query attention without copying the cache: the query heads sharing a
        // key/value head are one row block against it (heads h*g .. h*g+g-1 read kv head h,
        // as repeat_interleave would have laid them out).
        const int64_t g = heads / kv_heads;
        out = attention(q.reshape({B, kv_heads, g * T, head_dim}), k, v, cache ? pos : 0, g)
                  .view({B, heads, T, head_dim});
    } else {
        if (kv_heads != heads) {
            k = k.repeat_interleave(heads / kv_heads, 1);
            v = v.repeat_interleave(heads / kv_heads, 1);
        }
        out = attention(q, k, v, cache ? pos : 0);
    }
    return o_proj(out.transpose(1, 2).reshape({B, T, nq}));
}

void LlamaAttentionImpl::fuse() {
    if (!qkv) qkv = fuse_linears({q_proj.get(), k_proj.get(), v_proj.get()});
}

LlamaMlpImpl::LlamaMlpImpl(const TextConfig& c) {
    auto lin = [](int64_t i, int64_t o) { return Linear(i, o, /*with_bias=*/false); };
    gate_proj = register_module("gate_proj", lin(c.hidden_size, c.intermediate_size));
    up_proj = register_module("up_proj", lin(c.hidden_size, c.intermediate_size));
    down_proj = register_module("down_proj", lin(c.intermediate_size, c.hidden_size));
}

torch::Tensor LlamaMlpImpl::forward(const torch::Tensor& x) {
    if (gate_up && fused(x)) {
        const auto y = gate_up(x).contiguous();
        const int64_t n = y.size(-1) / 2;
        auto sizes = y.sizes().vec();
        sizes.back() = n;
        auto h = torch::empty(sizes, y.options());
        kernels::silu_mul(y.data_ptr<float>(), h.data_ptr<float>(), n > 0 ? y.numel() / (2 * n) : 0, n);
        return down_proj(h);
    }
    if (gate_up) {
        const auto y = gate_up(x);
        const int64_t n = y.size(-1) / 2;
        return down_proj(torch::silu(y.narrow(-1, 0, n)) * y.narrow(-1, n, n));
    }
    return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

void LlamaMlpImpl::fuse() {
    if (!gate_up) gate_up = fuse_linears({gate_proj.get(), up_proj.get()});
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const TextConfig& c) {
    self_attn = register_module("self_attn", LlamaAttention(c));
    mlp = register_module("mlp", LlamaMlp(c));
    input_layernorm = register_module("input_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
    post_attention_layernorm =
        register_module("post_attention_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
    register_adapters(*this, c.hidden_size, c.adapter, &adapter_attn, &adapter_mlp);
}

torch::Tensor LlamaDecoderLayerImpl::forward(torch::Tensor x, const torch::Tensor& cos,
                                             const torch::Tensor& sin, int64_t pos, KvCache* cache,
                                             int layer) {
    // Pink (LlamaAdapterDecoderLayer): the adapters sit between each norm and its block.
    auto h = input_layernorm(x);
    if (adapter_attn) h = adapter_attn(h);
    x = x + self_attn(h, cos, sin, pos, cache, layer);
    h = post_attention_layernorm(x);
    if (adapter_mlp) h = adapter_mlp(h);
    return x + mlp(h);
}

LlamaModelImpl::LlamaModelImpl(const TextConfig& c) {
    embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size));
    place_built(*embed_tokens);
    layers = register_module("layers", nn::ModuleList());
    for (int i = 0; i < c.num_hidden_layers; ++i) {
        LlamaDecoderLayer layer(c);
        place_built(*layer);
        layers->push_back(layer);
    }
    norm = register_module("norm", RmsNorm(c.hidden_size, c.rms_norm_eps));
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const TextConfig& c)
    : config(c), rope(c) {
    model = register_module("model", LlamaModel(c));
    // Tied embeddings share the table; it is still registered once (as embed_tokens).
    if (!c.tie_word_embeddings) {
        lm_head = register_module(
            "lm_head", Linear(c.hidden_size, c.vocab_size, /*with_bias=*/false));
        place_built(*lm_head);
    }
    if (int8_after_load())
        for (const auto& m : modules(/*include_self=*/false))
            if (auto* lin = m->as<LinearImpl>()) lin->int8_after_load = true;
}

torch::Tensor LlamaForCausalLMImpl::embed(const torch::Tensor& ids) {
    return model->embed_tokens(ids);
}

torch::Tensor LlamaForCausalLMImpl::forward(const torch::Tensor& embeds, int64_t pos,
                                            KvCache* cache) {
    auto x = embeds;
    // fp32 activations for a bf16 model on the CPU: the cache decides once it exists (it was
    // made in fp32 or not), a forward without one when autograd is off.
    if (x.scalar_type() == torch::kBFloat16 && x.device().is_cpu() &&
        (cache ? cache->dtype() == torch::kFloat32
               : !torch::GradMode::is_enabled() && fp32_activations(model->embed_tokens->weight)))
        x = x.to(torch::kFloat32);
    auto [cos, sin] = rope.table(pos, x.size(1), x);
    auto& layers = *model->layers;
    for (size_t i = 0; i < layers.size(); ++i)
        x = layers[i]->as<LlamaDecoderLayer>()->forward(x, cos, sin, pos, cache,
                                                        static_cast<int>(i));
    if (cache) cache->set_length(pos + embeds.size(1));
    return model->norm(x);
}

torch::Tensor LlamaForCausalLMImpl::logits(const torch::Tensor& hidden) {
    if (lm_head) return lm_head(hidden);
    const auto& w = model->embed_tokens->weight;
    return torch::matmul(hidden.to(w.scalar_type()), w.t()).to(hidden.scalar_type());
}

KvCache LlamaForCausalLMImpl::make_cache() const {
    const auto& w = model->embed_tokens->weight;
    return KvCache(config.num_hidden_layers, config.num_key_value_heads,
                   config.hidden_size / config.num_attention_heads,
                   fp32_activations(w) ? w.options().dtype(torch::kFloat32) : w.options());
}

}  // namespace rc
