// ParGo (bytedance/ParGo, AAAI 2025): EVA02-L/14 at 336 px, the partial/global projector (a
// BERT whose 304 learned queries cross-attend to the 576 vision tokens, 288 of them to two
// tokens each, 16 to all), InternLM2-7B with a LoRA on wqkv merged at load. Its release layout:
// ParGo's own config json (prompt_template, num_query_token, llm_model, bert_type, ckpt, ...)
// naming the InternLM2 folder, the bert-small-uncased folder and the checkpoint file (a
// torch.save of MiniGPT_v2's state_dict: visual_encoder.*, ln_vision.*, ParGo.bert.*,
// query_tokens, llm_proj.*, llm_model.base_model.model.* with PEFT's LoRA names).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/bert.h"
#include "model/kv_cache.h"
#include "model/layers.h"
#include "model/llama.h"
#include "model/network.h"
#include "model/pargo/pargo_config.h"
#include "regionchat/config.h"

namespace rc {

// EVA02 (ParGo's pargo/backbone/vision/eva_vit.py with subln, SwiGLU, 2-D RoPE, q/v biases).
struct Eva02AttentionImpl : torch::nn::Module {
    Eva02AttentionImpl(int width, int heads, double eps);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
    Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, proj{nullptr};
    torch::Tensor q_bias, v_bias;
    torch::nn::LayerNorm inner_attn_ln{nullptr};
    int64_t heads;
};
TORCH_MODULE(Eva02Attention);

struct Eva02MlpImpl : torch::nn::Module {
    Eva02MlpImpl(int width, int hidden, double eps);
    torch::Tensor forward(const torch::Tensor& x);
    Linear w1{nullptr}, w2{nullptr}, w3{nullptr};
    torch::nn::LayerNorm ffn_ln{nullptr};
};
TORCH_MODULE(Eva02Mlp);

struct Eva02BlockImpl : torch::nn::Module {
    explicit Eva02BlockImpl(const ParGoConfig& c);
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& sin);
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    Eva02Attention attn{nullptr};
    Eva02Mlp mlp{nullptr};
};
TORCH_MODULE(Eva02Block);

struct PatchEmbedImpl : torch::nn::Module {
    PatchEmbedImpl(int width, int patch);
    torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

struct Eva02Impl : torch::nn::Module {
    explicit Eva02Impl(const ParGoConfig& c);
    /// Pixels [N,3,S,S] -> every token after the last block, no final norm: [N, 1 + S*S/p^2, W].
    torch::Tensor forward(const torch::Tensor& pixels);
    torch::Tensor cls_token, pos_embed;
    PatchEmbed patch_embed{nullptr};
    torch::nn::ModuleList blocks{nullptr};
    int64_t grid, head_dim;

private:
    torch::Tensor cos_, sin_;  // RoPE tables [grid*grid, head_dim], fp32, built on first use
};
TORCH_MODULE(Eva02);

// The projector's BERT (ParGo's qformer_bert.py, query side only): model/bert.h's parts.
struct ParGoLayerImpl : torch::nn::Module {
    explicit ParGoLayerImpl(const ParGoConfig& c);
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& vision, const torch::Tensor& self_mask,
                          const torch::Tensor& cross_mask);
    BertAttention attention{nullptr}, crossattention{nullptr};
    BertIntermediate intermediate_query{nullptr};
    BertOutput output_query{nullptr};
};
TORCH_MODULE(ParGoLayer);

struct BertEmbeddingsImpl : torch::nn::Module {
    explicit BertEmbeddingsImpl(const ParGoConfig& c);
    Embedding position_embeddings{nullptr};
    torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BertEmbeddings);

struct BertEncoderImpl : torch::nn::Module {
    explicit BertEncoderImpl(const ParGoConfig& c);
    torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(BertEncoder);

struct ParGoBertImpl : torch::nn::Module {
    explicit ParGoBertImpl(const ParGoConfig& c);
    BertEmbeddings embeddings{nullptr};
    BertEncoder encoder{nullptr};
};
TORCH_MODULE(ParGoBert);

struct ParGoProjectorImpl : torch::nn::Module {  // "ParGo" in the checkpoint
    explicit ParGoProjectorImpl(const ParGoConfig& c);
    ParGoBert bert{nullptr};
};
TORCH_MODULE(ParGoProjector);

/// The whole ParGo network; parameter names equal the release checkpoint's keys, but for
/// language_model.* (InternLM2, mapped at load).
struct ParGoNetImpl : torch::nn::Module {
    explicit ParGoNetImpl(const ParGoConfig& c);
    /// Normalised pixels [N,3,S,S] of the ViT tile -> LLM embeddings [N, num_query, hidden].
    torch::Tensor encode_images(const torch::Tensor& pixels);
    /// The steps, for tests: vision tokens after ln_vision without CLS [N,576,W]; the BERT's
    /// last hidden states [N,304,H].
    torch::Tensor vision_tokens(const torch::Tensor& pixels);
    torch::Tensor query_states(const torch::Tensor& vision);

    ParGoConfig config;
    Eva02 visual_encoder{nullptr};
    torch::nn::LayerNorm ln_vision{nullptr};
    ParGoProjector ParGo{nullptr};
    torch::Tensor query_tokens;
    Linear llm_proj{nullptr};
    LlamaForCausalLM language_model{nullptr};

private:
    torch::Tensor self_mask_, cross_mask_;  // additive, built on first use
};
TORCH_MODULE(ParGoNet);

/// ParGo's image path before the ViT (mmebench_datasets.py + new_encode_img): an 8-bit BGRA
/// image composited onto white as ParGo does for PNGs with alpha (images loaded by the app have
/// no alpha left: OpenCV drops it as PIL's convert("RGB") does), letterboxed onto
/// config.letterbox (Pillow bicubic, int(w * ratio), centred on (122, 116, 104)), normalised
/// with CLIP's mean/std, and only the top-left image_size tile kept: [3, S, S] float.
torch::Tensor pargo_pixels(const cv::Mat& bgr, const ParGoConfig& c);

class ParGoNetwork : public LlamaBackedNetwork {
public:
    ParGoNetwork(ParGoNet net, torch::Device device, torch::Dtype dtype);
    torch::Tensor encode_image(const cv::Mat& bgr) override;
    ParGoNet& module() { return net_; }

private:
    ParGoNet net_;
};

}  // namespace rc
