// LLaMA decoder: RMSNorm, rotary positions (rope_theta), SwiGLU MLP, grouped-query attention
// with an optional KV cache. Module names equal Hugging Face LlamaForCausalLM keys.
#pragma once

#include <torch/torch.h>

#include "model/adapter.h"
#include "model/kv_cache.h"
#include "model/layers.h"
#include "model/network.h"
#include "regionchat/config.h"

namespace rc {

/// While alive, the LLaMA layers built from this header compute with LibTorch operations only
/// on this thread, not the fused CPU kernels (kernels/decode_ops.h) that an fp32 forward
/// without autograd otherwise takes for its norms, SwiGLU and a one-token step's attention,
/// and a bf16 model keeps bf16 activations. For comparing the two (tests);
/// REGIONCHAT_TORCH_OPS=1 does the same for a whole process (measuring).
using TorchOpsOnly = ThreadFlag<struct TorchOpsOnlyTag>;

struct RmsNormImpl : torch::nn::Module {
    RmsNormImpl(int64_t dim, double eps);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor weight;
    double eps;
};
TORCH_MODULE(RmsNorm);

/// cos/sin tables for rotary embeddings, grown on demand; LongRoPE's two when the config has
/// them (TextConfig::rope_short_factor).
class Rope {
public:
    Rope(int64_t head_dim, double theta) : head_dim_(head_dim), theta_(theta) {}
    explicit Rope(const TextConfig& c);
    /// cos and sin [T, head_dim] for positions [pos, pos+T), on `like`'s device and dtype.
    std::pair<torch::Tensor, torch::Tensor> table(int64_t pos, int64_t T,
                                                  const torch::Tensor& like);

private:
    struct Table {
        torch::Tensor cos, sin;  // fp32 on the device last used
    };
    void grow(Table& t, int64_t needed, const torch::Tensor& like, const std::vector<double>& factors);
    int64_t head_dim_;
    double theta_;
    std::vector<double> short_, long_;
    int64_t original_max_ = 0;
    double attention_factor_ = 1.0;
    Table plain_, long_table_;
};

struct LlamaAttentionImpl : torch::nn::Module {
    explicit LlamaAttentionImpl(const TextConfig& c);
    /// x [B,T,D]; cos/sin from Rope; pos = absolute position of x[:,0]; cache may be null.
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin, int64_t pos, KvCache* cache, int layer);
    /// q/k/v as one product from now on (after loading and any quantisation: the three then
    /// hold views of the fused weight).
    void fuse();
    Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
    Linear qkv{nullptr};  ///< set by fuse(); not registered (no names of its own)
    int64_t heads, kv_heads, head_dim;
};
TORCH_MODULE(LlamaAttention);

struct LlamaMlpImpl : torch::nn::Module {
    explicit LlamaMlpImpl(const TextConfig& c);
    torch::Tensor forward(const torch::Tensor& x);
    /// gate/up as one product from now on (as LlamaAttentionImpl::fuse).
    void fuse();
    Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
    Linear gate_up{nullptr};  ///< set by fuse(); not registered
};
TORCH_MODULE(LlamaMlp);

struct LlamaDecoderLayerImpl : torch::nn::Module {
    explicit LlamaDecoderLayerImpl(const TextConfig& c);
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin,
                          int64_t pos, KvCache* cache, int layer);
    LlamaAttention self_attn{nullptr};
    LlamaMlp mlp{nullptr};
    RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
    Adapter adapter_attn{nullptr}, adapter_mlp{nullptr};  ///< Pink only (c.adapter)
};
TORCH_MODULE(LlamaDecoderLayer);

/// `model.*` of LlamaForCausalLM.
struct LlamaModelImpl : torch::nn::Module {
    explicit LlamaModelImpl(const TextConfig& c);
    Embedding embed_tokens{nullptr};
    torch::nn::ModuleList layers{nullptr};
    RmsNorm norm{nullptr};
};
TORCH_MODULE(LlamaModel);

struct LlamaForCausalLMImpl : torch::nn::Module {
    explicit LlamaForCausalLMImpl(const TextConfig& c);
    /// Final hidden states [B,T,D] for input embeddings [B,T,D] starting at position `pos`.
    /// With a cache, keys/values are appended at `pos` and the cache length set to pos+T.
    torch::Tensor forward(const torch::Tensor& embeds, int64_t pos, KvCache* cache);
    /// Logits [.., vocab] for hidden states.
    torch::Tensor logits(const torch::Tensor& hidden);
    /// Token embeddings for ids [B,T].
    torch::Tensor embed(const torch::Tensor& ids);
    /// An empty cache shaped for this model.
    KvCache make_cache() const;

    LlamaModel model{nullptr};
    Linear lm_head{nullptr};
    TextConfig config;
    Rope rope;
};
TORCH_MODULE(LlamaForCausalLM);

/// A LLaMA decoder's state for one conversation: its KV cache (copyable for beam search).
class LlamaState : public DecodeState {
public:
    explicit LlamaState(KvCache cache) : cache(std::move(cache)) {}
    int64_t length() const override { return cache.length(); }
    void truncate(int64_t n) override { cache.truncate(n); }
    void reserve(int64_t positions) override { cache.reserve(positions); }
    std::unique_ptr<DecodeState> clone() const override {
        return std::make_unique<LlamaState>(cache.clone());
    }
    KvCache cache;
};

/// The decoder half every Network whose language model is our LLaMA shares (LLaVA, ParGo,
/// InternVL2): token embeddings, a LlamaState per conversation, forward through its cache,
/// logits, the context length; parameters counted over the whole network `whole`.
class LlamaBackedNetwork : public Network {
public:
    LlamaBackedNetwork(std::shared_ptr<torch::nn::Module> whole, LlamaForCausalLM lm,
                       torch::Device device, torch::Dtype dtype)
        : device_(device), dtype_(dtype), lm_(std::move(lm)), whole_(std::move(whole)) {}
    torch::Tensor embed_tokens(const torch::Tensor& ids) override { return lm_->embed(ids); }
    std::unique_ptr<DecodeState> new_state() override {
        return std::make_unique<LlamaState>(lm_->make_cache());
    }
    torch::Tensor forward(const torch::Tensor& embeds, DecodeState& state) override {
        auto& s = static_cast<LlamaState&>(state);
        return lm_->forward(embeds, s.cache.length(), &s.cache);
    }
    torch::Tensor logits(const torch::Tensor& hidden) override { return lm_->logits(hidden); }
    torch::Device device() const override { return device_; }
    int64_t max_positions() const override { return lm_->config.max_position_embeddings; }
    int64_t parameter_count() override {
        int64_t n = 0;
        for (const auto& p : whole_->parameters()) n += p.numel();
        return n;
    }
    uint64_t weight_bytes() override {
        uint64_t n = 0;
        for (const auto& t : whole_->parameters()) n += t.numel() * t.element_size();
        for (const auto& t : whole_->buffers()) n += t.numel() * t.element_size();
        return n;
    }
    void fuse_projections() override {
        for (const auto& layer : *lm_->model->layers) {
            auto* l = layer->as<LlamaDecoderLayerImpl>();
            l->self_attn->fuse();
            l->mlp->fuse();
        }
    }
    uint64_t decode_weight_bytes() override {
        // One decode step reads every weight of the language model but the token embeddings
        // (one row of them), unless lm_head is tied to them.
        uint64_t n = 0;
        for (const auto& t : lm_->parameters()) n += t.numel() * t.element_size();
        for (const auto& t : lm_->buffers()) n += t.numel() * t.element_size();
        if (!lm_->config.tie_word_embeddings) {
            const auto& e = lm_->model->embed_tokens->weight;
            n -= std::min<uint64_t>(n, e.numel() * e.element_size());
        }
        return n;
    }
    void quantize_int8() override {
        // The fused q/k/v and gate/up products are not registered and would stay in floats:
        // dropped first and fused again from the int8 layers, so the order of the two calls
        // does not matter.
        bool was_fused = false;
        for (const auto& layer : *lm_->model->layers) {
            auto* l = layer->as<LlamaDecoderLayerImpl>();
            was_fused = was_fused || l->self_attn->qkv || l->mlp->gate_up;
            l->self_attn->qkv = nullptr;
            l->mlp->gate_up = nullptr;
        }
        for (const auto& m : lm_->modules(/*include_self=*/false))
            if (auto* lin = m->as<LinearImpl>()) lin->quantize_int8();
        if (was_fused) fuse_projections();
    }

protected:
    torch::Device device_;
    torch::Dtype dtype_;

private:
    LlamaForCausalLM lm_;
    std::shared_ptr<torch::nn::Module> whole_;
};

/// Parameters of this decoder as LlamaForCausalLM builds it: embeddings, lm_head unless tied,
/// q/k/v/o, the SwiGLU MLP and two norms per layer, the final norm (for families' plans).
inline int64_t llama_parameters(const TextConfig& t) {
    const int64_t D = t.hidden_size, d = D / t.num_attention_heads;
    int64_t n = int64_t(t.vocab_size) * D * (t.tie_word_embeddings ? 1 : 2) + D;
    n += t.num_hidden_layers * (D * t.num_attention_heads * d * 2 + 2 * D * t.num_key_value_heads * d +
                                3 * D * int64_t(t.intermediate_size) + 2 * D);
    return n;
}

/// Parameters of this decoder's linear layers (q/k/v/o, the MLP, lm_head unless tied): the
/// ones --dtype int8 keeps in 8 bits.
inline int64_t llama_linear_parameters(const TextConfig& t) {
    const int64_t D = t.hidden_size, d = D / t.num_attention_heads;
    return (t.tie_word_embeddings ? 0 : int64_t(t.vocab_size) * D) +
           t.num_hidden_layers * (D * t.num_attention_heads * d * 2 +
                                  2 * D * t.num_key_value_heads * d + 3 * D * int64_t(t.intermediate_size));
}

/// Elements of a KV cache holding `positions` positions of this decoder (keys and values).
inline uint64_t kv_cache_elements(const TextConfig& t, int64_t positions) {
    return 2ull * t.num_hidden_layers * uint64_t(positions) * t.num_key_value_heads *
           uint64_t(t.hidden_size / t.num_attention_heads);
}

}  // namespace rc
