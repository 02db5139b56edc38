// InternVL2's vision side as CoLVA uses it (InternVL2-4B: InternViT-300M-448px, pixel shuffle
// 0.5, mlp1), with OpenGVLab's original parameter names (vision_model.*, mlp1.{0,1,3}), which
// CoLVA's checkpoints keep. InternViT: pre-norm blocks with layer scale (ls1, ls2), fused qkv
// with biases, erf GELU MLP, LayerNorm eps 1e-6, no final norm; the features are the last
// layer's without CLS, pixel-shuffled from g x g x C to g/2 x g/2 x 4C (InternVL's ps_version
// v2), then mlp1 (LayerNorm -> Linear -> GELU -> Linear). Parity: test_model's
// internVitEqualsTransformers (transformers' native InternVLVisionModel and projector).
#pragma once

#include <torch/torch.h>

#include "model/bert.h"
#include "model/layers.h"
#include "model/llama.h"
#include "model/colva/colva_config.h"
#include "regionchat/safetensors.h"

namespace rc {

struct InternVitAttentionImpl : torch::nn::Module {
    InternVitAttentionImpl(int width, int heads);
    torch::Tensor forward(const torch::Tensor& x);
    Linear qkv{nullptr}, proj{nullptr};
    int64_t heads;
};
TORCH_MODULE(InternVitAttention);

struct InternVitMlpImpl : torch::nn::Module {
    InternVitMlpImpl(int width, int hidden);
    Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(InternVitMlp);

struct InternVitLayerImpl : torch::nn::Module {
    explicit InternVitLayerImpl(const InternVitConfig& c);
    torch::Tensor forward(torch::Tensor x);
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    InternVitAttention attn{nullptr};
    InternVitMlp mlp{nullptr};
    torch::Tensor ls1, ls2;
};
TORCH_MODULE(InternVitLayer);

struct InternVitEmbeddingsImpl : torch::nn::Module {
    explicit InternVitEmbeddingsImpl(const InternVitConfig& c);
    torch::Tensor class_embedding, position_embedding;
    torch::nn::Conv2d patch_embedding{nullptr};
};
TORCH_MODULE(InternVitEmbeddings);

struct InternVitEncoderImpl : torch::nn::Module {
    explicit InternVitEncoderImpl(const InternVitConfig& c);
    torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(InternVitEncoder);

/// "vision_model": tiles [N,3,S,S] -> the last layer's tokens [N, 1 + g*g, W] (CLS first).
struct InternVitImpl : torch::nn::Module {
    explicit InternVitImpl(const InternVitConfig& c);
    torch::Tensor forward(const torch::Tensor& pixels);
    InternVitEmbeddings embeddings{nullptr};
    InternVitEncoder encoder{nullptr};
};
TORCH_MODULE(InternVit);

/// InternVL's pixel_shuffle (ps_version v2) of tokens [N, g*g, C] without CLS, scale 0.5:
/// [N, (g/2)^2, 4C].
torch::Tensor internvl_pixel_shuffle(const torch::Tensor& tokens);

/// "mlp1": LayerNorm(in) -> Linear(in, out) -> GELU -> Linear(out, out), registered as the
/// nn.Sequential's 0, 1 and 3.
struct InternVlProjectorImpl : torch::nn::Module {
    InternVlProjectorImpl(int in, int out);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::LayerNorm norm{nullptr};
    Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(InternVlProjector);

struct ObjectTokenizerImpl;  // radio.h

struct InternVlNetImpl : torch::nn::Module {
    explicit InternVlNetImpl(const InternVlConfig& c);
    /// Normalised tiles [N,3,S,S] -> LLM rows [N * (g/2)^2, hidden] (extract_feature + mlp1).
    torch::Tensor image_rows(const torch::Tensor& tiles);
    /// CoLVA: RADIO pixels [1,3,C,C] (colva_radio_pixels) and masks [n, g*g] on its patch grid
    /// (colva_mask_grid) -> one row per mask [n, hidden] (RADIO, ot_mlp1 on every patch,
    /// masked mean). Defined in radio_net.cpp.
    torch::Tensor region_rows(const torch::Tensor& pixels, const torch::Tensor& masks);
    InternVlConfig config;
    InternVit vision_model{nullptr};
    InternVlProjector mlp1{nullptr};
    LlamaForCausalLM language_model{nullptr};
    std::shared_ptr<ObjectTokenizerImpl> object_tokenizer;  ///< with has_radio
    InternVlProjector ot_mlp1{nullptr};                     ///< with has_radio
};
TORCH_MODULE(InternVlNet);

/// The checkpoint key of one of our parameters in OpenGVLab's layout, and which third of a
/// fused qkv_proj (0 q, 1 k, 2 v) or half of gate_up_proj (0 gate, 1 up) it is (-1: none).
std::string internvl_key(const std::string& name, int* part);

/// Rows of a Phi-3 fused weight [q + 2kv, D] (qkv_proj) or [2I, D] (gate_up_proj) for `part`
/// (internvl_key's); rc::Error when the weight does not fit `t`.
torch::Tensor phi3_fused_part(const torch::Tensor& w, bool qkv, int part, const TextConfig& t);

/// Fills every parameter of `net` from `archive` (OpenGVLab's names), splitting Phi-3's fused
/// projections; rc::Error naming a missing or misshapen tensor. Returns the bytes copied.
uint64_t load_internvl(InternVlNetImpl& net, const SafetensorsArchive& archive);

}  // namespace rc
