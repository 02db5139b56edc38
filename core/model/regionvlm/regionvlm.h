// RegionVLM (jbeomlee93/RegionVLM, NAACL 2024): LAVIS' BLIP-2 FlanT5 whose Q-Former also reads
// the region as text, a string of points "[12 34] [56 7] ..." next to its 32 queries. The parts:
// EVA-ViT-g (39 blocks, width 1408, no k bias, abs. position embedding interpolated 16 -> 26
// at load), ln_vision (eps 1e-5), the Q-Former (BERT-base: queries first, text positions from
// 0, one LayerNorm over both, bidirectional; cross-attention in every 2nd layer for the query
// rows only; separate query and text FFNs; the first 32 rows go on), t5_proj, FlanT5-XL with
// erf GELU (blip2_t5.py overrides the activation). Facts with file/line references:
// docs/regionvlm-layout.md.
//
// Layouts: "lavis" (the stack LAVIS loads: eva_vit_g.pth, the BLIP-2 .pth, the RegionVLM .pth
// over them, google/flan-t5-xl; described by RegionChat's config.json with LAVIS' yaml keys)
// and "hf-blip2" (one Blip2ForConditionalGeneration folder; it has no slot for the Q-Former's
// text parts, so it answers whole-image questions unless a RegionVLM .pth is named over it).
#pragma once

#include <list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/bert.h"
#include "model/kv_cache.h"
#include "model/layers.h"
#include "model/network.h"
#include "model/regionvlm/regionvlm_config.h"

namespace rc {

// ---- EVA-ViT-g (LAVIS eva_vit.py), parameter names as its state dict ----------------------
struct EvaAttentionImpl : torch::nn::Module {
    EvaAttentionImpl(int width, int heads);
    torch::Tensor forward(const torch::Tensor& x);
    Linear qkv{nullptr}, proj{nullptr};
    torch::Tensor q_bias, v_bias;
    int64_t heads;
};
TORCH_MODULE(EvaAttention);

struct EvaMlpImpl : torch::nn::Module {
    EvaMlpImpl(int width, int hidden);
    Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(EvaMlp);

struct EvaBlockImpl : torch::nn::Module {
    explicit EvaBlockImpl(const RegionVlmConfig& c);
    torch::Tensor forward(torch::Tensor x);
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    EvaAttention attn{nullptr};
    EvaMlp mlp{nullptr};
};
TORCH_MODULE(EvaBlock);

struct EvaPatchEmbedImpl : torch::nn::Module {
    EvaPatchEmbedImpl(int width, int patch);
    torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(EvaPatchEmbed);

struct EvaVitImpl : torch::nn::Module {
    explicit EvaVitImpl(const RegionVlmConfig& c);
    /// Pixels [N,3,S,S] -> every token after the last block (no final norm): [N, 1+g*g, W].
    torch::Tensor forward(const torch::Tensor& pixels);
    torch::Tensor cls_token, pos_embed;
    EvaPatchEmbed patch_embed{nullptr};
    torch::nn::ModuleList blocks{nullptr};
};
TORCH_MODULE(EvaVit);

/// interpolate_pos_embed: a [1, 1 + g0*g0, W] table to [1, 1 + g*g, W] (bicubic, align_corners
/// false, fp32), the class row kept. Returns `pos` itself when the grids agree.
torch::Tensor interpolate_pos_embed(const torch::Tensor& pos, int64_t grid);

// ---- the Q-Former with text input (RegionVLM's Qformer.py) ---------------------------------
struct QFormerLayerImpl : torch::nn::Module {
    QFormerLayerImpl(const RegionVlmConfig& c, bool cross);
    /// x [B, Q+L, H] (queries first); image [B, N, Wv]; mask additive or undefined.
    torch::Tensor forward(const torch::Tensor& x, int64_t queries, const torch::Tensor& image,
                          const torch::Tensor& mask);
    BertAttention attention{nullptr}, crossattention{nullptr};
    BertIntermediate intermediate{nullptr}, intermediate_query{nullptr};
    BertOutput output{nullptr}, output_query{nullptr};
};
TORCH_MODULE(QFormerLayer);

struct QFormerEmbeddingsImpl : torch::nn::Module {
    explicit QFormerEmbeddingsImpl(const RegionVlmConfig& c);
    Embedding word_embeddings{nullptr}, position_embeddings{nullptr};
    torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(QFormerEmbeddings);

struct QFormerEncoderImpl : torch::nn::Module {
    explicit QFormerEncoderImpl(const RegionVlmConfig& c);
    torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(QFormerEncoder);

struct QFormerBertImpl : torch::nn::Module {
    explicit QFormerBertImpl(const RegionVlmConfig& c);
    QFormerEmbeddings embeddings{nullptr};
    QFormerEncoder encoder{nullptr};
};
TORCH_MODULE(QFormerBert);

struct QFormerImpl : torch::nn::Module {  // "Qformer" in LAVIS' state dict
    explicit QFormerImpl(const RegionVlmConfig& c);
    QFormerBert bert{nullptr};
};
TORCH_MODULE(QFormer);

// ---- T5 (transformers' modeling_t5.py, as LAVIS copies it) ---------------------------------
struct T5AttentionImpl : torch::nn::Module {
    T5AttentionImpl(const T5Config& c, bool relative_bias);
    Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
    Embedding relative_attention_bias{nullptr};
    int64_t heads, d_kv;
};
TORCH_MODULE(T5Attention);

struct T5LayerNormImpl : torch::nn::Module {
    T5LayerNormImpl(int dim, double eps);
    torch::Tensor forward(const torch::Tensor& x);
    torch::Tensor weight;
    double eps;
};
TORCH_MODULE(T5LayerNorm);

struct T5DenseImpl : torch::nn::Module {  // DenseReluDense
    explicit T5DenseImpl(const T5Config& c);
    torch::Tensor forward(const torch::Tensor& x);
    Linear wi{nullptr}, wi_0{nullptr}, wi_1{nullptr}, wo{nullptr};
    std::string act;
};
TORCH_MODULE(T5Dense);

/// One sub-layer of a T5 block ("layer.N"): an attention (SelfAttention / EncDecAttention) or
/// the feed-forward, each with its layer_norm.
struct T5SubLayerImpl : torch::nn::Module {
    enum class Kind { Self, Cross, Ff };
    T5SubLayerImpl(const T5Config& c, Kind kind, bool relative_bias);
    Kind kind;
    T5Attention attention{nullptr};  ///< registered as SelfAttention or EncDecAttention
    T5Dense dense{nullptr};          ///< registered as DenseReluDense
    T5LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(T5SubLayer);

struct T5BlockImpl : torch::nn::Module {
    T5BlockImpl(const T5Config& c, bool decoder, bool relative_bias);
    torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(T5Block);

struct T5StackImpl : torch::nn::Module {
    T5StackImpl(const T5Config& c, bool decoder);
    torch::nn::ModuleList block{nullptr};
    T5LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(T5Stack);

/// What a T5 decoder keeps for one hypothesis: the encoder's output (its cross-attention keys
/// and values per layer, shared between copies) and the self-attention cache (a KvCache, as
/// the LLaMA decoders keep: reserved for the answer, written in place, doubled past that).
class T5State : public DecodeState {
public:
    int64_t length() const override { return self.length(); }
    void truncate(int64_t n) override { self.truncate(std::max<int64_t>(n, 0)); }
    void reserve(int64_t positions) override { self.reserve(positions); }
    std::unique_ptr<DecodeState> clone() const override;

    std::vector<torch::Tensor> cross_k, cross_v;  ///< per decoder layer [1,H,S,D]; empty: no encoder run
    KvCache self;                                 ///< per decoder layer [1,H,capacity,D]
    int64_t encoder_length = 0;
};

struct T5Impl : torch::nn::Module {  // "t5_model"
    explicit T5Impl(const T5Config& c);
    /// Encoder over embeddings [1,S,D] -> its final hidden states [1,S,D].
    torch::Tensor encode(const torch::Tensor& embeds);
    /// Puts an encoder output into `state` (cross keys/values per layer) and empties its cache.
    void start(const torch::Tensor& encoder_out, T5State& state);
    /// Decoder over embeddings [1,T,D] at positions [state.length(), +T); appends to the cache.
    torch::Tensor decode(const torch::Tensor& embeds, T5State& state);
    torch::Tensor logits(const torch::Tensor& hidden);
    T5Config config;
    Embedding shared{nullptr};
    T5Stack encoder{nullptr}, decoder{nullptr};
    Linear lm_head{nullptr};
};
TORCH_MODULE(T5);

/// The whole network; parameter names equal LAVIS' Blip2T5 state dict.
struct RegionVlmNetImpl : torch::nn::Module {
    explicit RegionVlmNetImpl(const RegionVlmConfig& c);
    /// ln_vision(ViT(pixels)) [N, 1+g*g, W].
    torch::Tensor image_embeds(const torch::Tensor& pixels);
    /// The Q-Former's first num_query rows [1, Q, H] for an image's embeddings [1, N, W] and BERT
    /// ids [L] (empty: queries only, predict_answers' text-free path).
    torch::Tensor query_states(const torch::Tensor& image, const std::vector<int64_t>& text_ids);
    RegionVlmConfig config;
    EvaVit visual_encoder{nullptr};
    torch::nn::LayerNorm ln_vision{nullptr};
    QFormer Qformer{nullptr};
    torch::Tensor query_tokens;
    Linear t5_proj{nullptr};
    T5 t5_model{nullptr};
};
TORCH_MODULE(RegionVlmNet);

/// Blip2ImageTrainProcessor (its random crop and flip commented out by RegionVLM): Pillow's
/// bicubic resize to S x S (aspect ignored), CLIP's mean/std: [3, S, S] float.
torch::Tensor regionvlm_pixels(const cv::Mat& bgr, int size);

class WordPiece;

/// RegionVLM as a Network of Architecture::EncoderDecoder.
class RegionVlmNetwork : public Network {
public:
    RegionVlmNetwork(RegionVlmNet net, std::shared_ptr<const WordPiece> bert, torch::Device device,
                     torch::Dtype dtype);
    Architecture architecture() const override { return Architecture::EncoderDecoder; }
    /// The text-free Q-Former rows projected to T5 [32, d_model] (whole-image questions).
    torch::Tensor encode_image(const cv::Mat& bgr) override;
    /// The Q-Former rows with `text` (a point string; "" gives [CLS][SEP]) as its text input.
    torch::Tensor encode_image_with_text(const cv::Mat& bgr, const std::string& text) override;
    torch::Tensor embed_tokens(const torch::Tensor& ids) override;
    std::unique_ptr<DecodeState> new_state() override;
    void encode_prompt(const torch::Tensor& embeds, DecodeState& state) override;
    int64_t decoder_start_id() const override { return net_->config.t5.decoder_start_token_id; }
    torch::Tensor forward(const torch::Tensor& embeds, DecodeState& state) override;
    torch::Tensor logits(const torch::Tensor& hidden) override;
    torch::Device device() const override { return device_; }
    int64_t max_positions() const override { return 512; }
    int64_t parameter_count() override;
    RegionVlmNet& module() { return net_; }
    /// BERT ids of a Q-Former text as blip2_t5.py makes them ([CLS] ... [SEP], cut at max_txt_len).
    std::vector<int64_t> qformer_ids(const std::string& text) const;

private:
    torch::Tensor image_embeds(const cv::Mat& bgr);
    RegionVlmNet net_;
    std::shared_ptr<const WordPiece> bert_;
    torch::Device device_;
    torch::Dtype dtype_;
    std::list<std::pair<uint64_t, torch::Tensor>> vision_cache_;  // ln_vision output, by image
};

}  // namespace rc
