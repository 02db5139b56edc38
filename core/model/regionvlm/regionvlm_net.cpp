// RegionVLM's network: EVA-ViT-g, ln_vision, the Q-Former with its text input, t5_proj and
// T5. The math follows LAVIS' eva_vit.py and RegionVLM's Qformer.py / blip2_t5.py and
// transformers' modeling_t5.py as regionvlm.h and docs/regionvlm-layout.md say; parity with
// that code is test_regionvlm_reference's.
#include <cmath>

#include "engine/model_impl.h"
#include "model/regionvlm/regionvlm.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"
#include "regionchat/preprocess.h"
#include "regionchat/wordpiece.h"

namespace rc {

// ---- EVA-ViT-g ------------------------------------------------------------------------------

EvaAttentionImpl::EvaAttentionImpl(int width, int heads_) : heads(heads_) {
    qkv = register_module("qkv", Linear(width, 3 * width, false));
    q_bias = register_parameter("q_bias", torch::zeros({width}));
    v_bias = register_parameter("v_bias", torch::zeros({width}));
    proj = register_module("proj", Linear(width, width));
}

torch::Tensor EvaAttentionImpl::forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2), D = C / heads;
    auto bias = torch::cat({q_bias, torch::zeros_like(v_bias), v_bias});
    auto t = torch::linear(x, qkv->weight, bias).reshape({B, N, 3, heads, D}).permute({2, 0, 3, 1, 4});
    auto q = t[0] * (1.0 / std::sqrt(double(D)));  // eva_vit.py scales q before q @ k^T
    auto attn = torch::softmax(torch::matmul(q, t[1].transpose(-2, -1)), -1);
    return proj(torch::matmul(attn, t[2]).transpose(1, 2).reshape({B, N, C}));
}

EvaMlpImpl::EvaMlpImpl(int width, int hidden) {
    fc1 = register_module("fc1", Linear(width, hidden));
    fc2 = register_module("fc2", Linear(hidden, width));
}

EvaBlockImpl::EvaBlockImpl(const RegionVlmConfig& c) {
    norm1 = register_module("norm1", layer_norm(c.vision_width, c.vision_eps));
    attn = register_module("attn", EvaAttention(c.vision_width, c.vision_heads));
    norm2 = register_module("norm2", layer_norm(c.vision_width, c.vision_eps));
    mlp = register_module("mlp", EvaMlp(c.vision_width, c.vision_mlp));
}

torch::Tensor EvaBlockImpl::forward(torch::Tensor x) {
    x = x + attn(norm1(x));
    return x + mlp->fc2(torch::gelu(mlp->fc1(norm2(x))));
}

EvaPatchEmbedImpl::EvaPatchEmbedImpl(int width, int patch) {
    proj = register_module(
        "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width, patch).stride(patch)));
}

EvaVitImpl::EvaVitImpl(const RegionVlmConfig& c) {
    const int64_t g = c.grid();
    cls_token = register_parameter("cls_token", torch::zeros({1, 1, c.vision_width}));
    pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + g * g, c.vision_width}));
    patch_embed = register_module("patch_embed", EvaPatchEmbed(c.vision_width, c.patch_size));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < c.vision_depth; ++i) {
        EvaBlock b(c);
        place_built(*b);
        blocks->push_back(b);
    }
}

torch::Tensor EvaVitImpl::forward(const torch::Tensor& pixels) {
    auto x = patch_embed->proj(pixels).flatten(2).transpose(1, 2);
    x = torch::cat({cls_token.expand({x.size(0), -1, -1}).to(x.dtype()), x}, 1) + pos_embed;
    for (const auto& b : *blocks) x = b->as<EvaBlock>()->forward(x);
    return x;
}

torch::Tensor interpolate_pos_embed(const torch::Tensor& pos, int64_t grid) {
    const int64_t n = pos.size(1) - 1, W = pos.size(2);
    const int64_t g0 = int64_t(std::lround(std::sqrt(double(n))));
    if (g0 * g0 != n) throw Error("pos_embed has " + std::to_string(n) + " grid rows, not a square");
    if (g0 == grid) return pos;
    auto p = pos.to(torch::kFloat32);
    auto grid_rows = p.narrow(1, 1, n).reshape({1, g0, g0, W}).permute({0, 3, 1, 2});
    namespace F = torch::nn::functional;
    auto up = F::interpolate(grid_rows, F::InterpolateFuncOptions()
                                            .size(std::vector<int64_t>{grid, grid})
                                            .mode(torch::kBicubic)
                                            .align_corners(false));
    up = up.permute({0, 2, 3, 1}).flatten(1, 2);
    return torch::cat({p.narrow(1, 0, 1), up}, 1);
}

// ---- Q-Former --------------------------------------------------------------------------------

QFormerLayerImpl::QFormerLayerImpl(const RegionVlmConfig& c, bool cross) {
    const int H = c.qf_hidden, I = c.qf_intermediate;
    attention = register_module("attention", BertAttention(H, H, c.qf_heads, c.qf_eps));
    if (cross)
        crossattention =
            register_module("crossattention", BertAttention(H, c.vision_width, c.qf_heads, c.qf_eps));
    if (c.qformer_text) {
        intermediate = register_module("intermediate", BertIntermediate(H, I));
        output = register_module("output", BertOutput(I, H, c.qf_eps));
    }
    intermediate_query = register_module("intermediate_query", BertIntermediate(H, I));
    output_query = register_module("output_query", BertOutput(I, H, c.qf_eps));
}

torch::Tensor QFormerLayerImpl::forward(const torch::Tensor& x, int64_t queries,
                                        const torch::Tensor& image, const torch::Tensor& mask) {
    auto a = attention(x, x, mask);
    auto q = a.narrow(1, 0, queries);
    if (crossattention) q = crossattention(q, image, torch::Tensor());
    q = output_query(torch::gelu(intermediate_query->dense(q)), q);
    if (a.size(1) == queries) return q;
    if (!intermediate) throw Error("this Q-Former has no text feed-forward (intermediate/output)");
    auto t = a.narrow(1, queries, a.size(1) - queries);
    t = output(torch::gelu(intermediate->dense(t)), t);
    return torch::cat({q, t}, 1);
}

QFormerEmbeddingsImpl::QFormerEmbeddingsImpl(const RegionVlmConfig& c) {
    if (c.qformer_text) {
        word_embeddings = register_module("word_embeddings", Embedding(c.qf_vocab, c.qf_hidden));
        position_embeddings =
            register_module("position_embeddings", Embedding(c.qf_max_positions, c.qf_hidden));
    }
    LayerNorm = register_module("LayerNorm", layer_norm(c.qf_hidden, c.qf_eps));
}

QFormerEncoderImpl::QFormerEncoderImpl(const RegionVlmConfig& c) {
    layer = register_module("layer", torch::nn::ModuleList());
    for (int i = 0; i < c.qf_layers; ++i) layer->push_back(QFormerLayer(c, i % c.cross_attention_freq == 0));
}

QFormerBertImpl::QFormerBertImpl(const RegionVlmConfig& c) {
    embeddings = register_module("embeddings", QFormerEmbeddings(c));
    encoder = register_module("encoder", QFormerEncoder(c));
}

QFormerImpl::QFormerImpl(const RegionVlmConfig& c) {
    bert = register_module("bert", QFormerBert(c));
}

// ---- T5 ------------------------------------------------------------------------------------

namespace {

// transformers' T5Attention._relative_position_bucket, in the same float32 arithmetic.
torch::Tensor relative_bucket(const torch::Tensor& rel, bool bidirectional, int64_t buckets,
                              int64_t max_distance) {
    auto out = torch::zeros_like(rel);
    auto r = rel;
    if (bidirectional) {
        buckets /= 2;
        out = out + (r > 0).to(torch::kLong) * buckets;
        r = r.abs();
    } else {
        r = -torch::min(r, torch::zeros_like(r));
    }
    const int64_t max_exact = buckets / 2;
    auto is_small = r < max_exact;
    auto large = max_exact + (torch::log(r.to(torch::kFloat32) / float(max_exact)) /
                              std::log(double(max_distance) / double(max_exact)) *
                              double(buckets - max_exact))
                                 .to(torch::kLong);
    large = torch::min(large, torch::full_like(large, buckets - 1));
    return out + torch::where(is_small, r, large);
}

// Position bias [1,H,T,S] for queries at [q0, q0+T) and keys at [0, S).
torch::Tensor position_bias(T5AttentionImpl& a, const T5Config& c, int64_t q0, int64_t T, int64_t S,
                            bool bidirectional) {
    auto dev = a.relative_attention_bias->weight.device();
    auto ctx = torch::arange(q0, q0 + T, torch::dtype(torch::kLong).device(dev)).unsqueeze(1);
    auto mem = torch::arange(0, S, torch::dtype(torch::kLong).device(dev)).unsqueeze(0);
    auto b = relative_bucket(mem - ctx, bidirectional, c.buckets, c.max_distance);
    return a.relative_attention_bias(b).permute({2, 0, 1}).unsqueeze(0);
}

// softmax(q k^T + bias) v with T5's fp32 softmax; no 1/sqrt(d) scaling.
torch::Tensor t5_attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& bias) {
    auto scores = torch::matmul(q, k.transpose(-2, -1));
    if (bias.defined()) scores = scores + bias.to(scores.dtype());
    auto w = torch::softmax(scores.to(torch::kFloat32), -1).to(scores.dtype());
    return torch::matmul(w, v);
}

torch::Tensor heads_of(const torch::Tensor& x, int64_t H, int64_t D) {
    return x.view({x.size(0), x.size(1), H, D}).transpose(1, 2);
}

torch::Tensor merge_heads(const torch::Tensor& x) {
    return x.transpose(1, 2).reshape({x.size(0), x.size(2), -1});
}

}  // namespace

T5AttentionImpl::T5AttentionImpl(const T5Config& c, bool relative_bias)
    : heads(c.num_heads), d_kv(c.d_kv) {
    const int inner = c.num_heads * c.d_kv;
    q = register_module("q", Linear(c.d_model, inner, false));
    k = register_module("k", Linear(c.d_model, inner, false));
    v = register_module("v", Linear(c.d_model, inner, false));
    o = register_module("o", Linear(inner, c.d_model, false));
    if (relative_bias)
        relative_attention_bias =
            register_module("relative_attention_bias", Embedding(c.buckets, c.num_heads));
}

T5LayerNormImpl::T5LayerNormImpl(int dim, double eps_) : eps(eps_) {
    weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor T5LayerNormImpl::forward(const torch::Tensor& x) {
    auto var = x.to(torch::kFloat32).pow(2).mean(-1, true);
    auto y = x * torch::rsqrt(var + eps);
    if (weight.scalar_type() == torch::kHalf || weight.scalar_type() == torch::kBFloat16)
        y = y.to(weight.scalar_type());
    return weight * y;
}

T5DenseImpl::T5DenseImpl(const T5Config& c) : act(c.act) {
    if (c.gated) {
        wi_0 = register_module("wi_0", Linear(c.d_model, c.d_ff, false));
        wi_1 = register_module("wi_1", Linear(c.d_model, c.d_ff, false));
    } else {
        wi = register_module("wi", Linear(c.d_model, c.d_ff, false));
    }
    wo = register_module("wo", Linear(c.d_ff, c.d_model, false));
}

torch::Tensor T5DenseImpl::forward(const torch::Tensor& x) {
    auto f = [this](const torch::Tensor& t) {
        if (act == "relu") return torch::relu(t);
        if (act == "gelu_new") return torch::gelu(t, "tanh");
        return torch::gelu(t);
    };
    auto h = wi_0 ? f(wi_0(x)) * wi_1(x) : f(wi(x));
    return wo(h.to(wo->weight.scalar_type()));
}

T5SubLayerImpl::T5SubLayerImpl(const T5Config& c, Kind k, bool relative_bias) : kind(k) {
    if (k == Kind::Ff)
        dense = register_module("DenseReluDense", T5Dense(c));
    else
        attention = register_module(k == Kind::Self ? "SelfAttention" : "EncDecAttention",
                                    T5Attention(c, relative_bias));
    layer_norm = register_module("layer_norm", T5LayerNorm(c.d_model, c.eps));
}

T5BlockImpl::T5BlockImpl(const T5Config& c, bool decoder, bool relative_bias) {
    using K = T5SubLayerImpl::Kind;
    layer = register_module("layer", torch::nn::ModuleList());
    layer->push_back(T5SubLayer(c, K::Self, relative_bias));
    if (decoder) layer->push_back(T5SubLayer(c, K::Cross, false));
    layer->push_back(T5SubLayer(c, K::Ff, false));
}

T5StackImpl::T5StackImpl(const T5Config& c, bool decoder) {
    block = register_module("block", torch::nn::ModuleList());
    const int n = decoder ? c.num_decoder_layers : c.num_layers;
    for (int i = 0; i < n; ++i) {
        T5Block b(c, decoder, i == 0);
        place_built(*b);
        block->push_back(b);
    }
    final_layer_norm = register_module("final_layer_norm", T5LayerNorm(c.d_model, c.eps));
}

std::unique_ptr<DecodeState> T5State::clone() const {
    auto s = std::make_unique<T5State>();
    s->cross_k = cross_k;  // never written after start(): shared
    s->cross_v = cross_v;
    s->self = self.clone();
    s->encoder_length = encoder_length;
    return s;
}

T5Impl::T5Impl(const T5Config& c) : config(c) {
    shared = register_module("shared", Embedding(c.vocab_size, c.d_model));
    place_built(*shared);
    encoder = register_module("encoder", T5Stack(c, false));
    decoder = register_module("decoder", T5Stack(c, true));
    lm_head = register_module("lm_head", Linear(c.d_model, c.vocab_size, false));
    place_built(*lm_head);
}

torch::Tensor T5Impl::encode(const torch::Tensor& embeds) {
    auto x = embeds;
    const int64_t S = x.size(1);
    torch::Tensor bias;
    for (const auto& bm : *encoder->block) {
        auto& layers = *bm->as<T5Block>()->layer;
        auto* sa = layers[0]->as<T5SubLayer>();
        auto& att = *sa->attention;
        if (!bias.defined()) bias = position_bias(att, config, 0, S, S, true);
        auto h = sa->layer_norm(x);
        auto q = heads_of(att.q(h), att.heads, att.d_kv), k = heads_of(att.k(h), att.heads, att.d_kv),
             v = heads_of(att.v(h), att.heads, att.d_kv);
        x = x + att.o(merge_heads(t5_attend(q, k, v, bias)));
        auto* ff = layers[1]->as<T5SubLayer>();
        x = x + ff->dense(ff->layer_norm(x));
    }
    return encoder->final_layer_norm(x);
}

void T5Impl::start(const torch::Tensor& encoder_out, T5State& state) {
    state.cross_k.clear();
    state.cross_v.clear();
    const auto& self_att =
        *(*decoder->block[0]->as<T5Block>()->layer)[0]->as<T5SubLayer>()->attention;
    state.self = KvCache(int(decoder->block->size()), self_att.heads, self_att.d_kv,
                         encoder_out.options());
    for (const auto& bm : *decoder->block) {
        auto& att = *(*bm->as<T5Block>()->layer)[1]->as<T5SubLayer>()->attention;
        state.cross_k.push_back(heads_of(att.k(encoder_out), att.heads, att.d_kv));
        state.cross_v.push_back(heads_of(att.v(encoder_out), att.heads, att.d_kv));
    }
    state.encoder_length = encoder_out.size(1);
}

torch::Tensor T5Impl::decode(const torch::Tensor& embeds, T5State& state) {
    if (state.cross_k.empty()) throw Error("the decoder has no encoder output to attend to");
    auto x = embeds;
    const int64_t T = x.size(1), past = state.length(), S = past + T;
    torch::Tensor bias;
    size_t li = 0;
    for (const auto& bm : *decoder->block) {
        auto& layers = *bm->as<T5Block>()->layer;
        auto* sa = layers[0]->as<T5SubLayer>();
        auto& att = *sa->attention;
        if (!bias.defined()) {
            bias = position_bias(att, config, past, T, S, false);
            if (T > 1) {  // causal within the new positions
                auto pos_q = torch::arange(past, S, torch::dtype(torch::kLong).device(x.device())).unsqueeze(1);
                auto pos_k = torch::arange(0, S, torch::dtype(torch::kLong).device(x.device())).unsqueeze(0);
                auto masked = (pos_k > pos_q).to(bias.dtype()) * -1e30;
                bias = bias + masked;
            }
        }
        auto h = sa->layer_norm(x);
        auto q = heads_of(att.q(h), att.heads, att.d_kv);
        auto k = heads_of(att.k(h), att.heads, att.d_kv), v = heads_of(att.v(h), att.heads, att.d_kv);
        std::tie(k, v) = state.self.update(int(li), k, v, past);
        x = x + att.o(merge_heads(t5_attend(q, k, v, bias)));
        auto* ca = layers[1]->as<T5SubLayer>();
        auto& cat = *ca->attention;
        auto cq = heads_of(cat.q(ca->layer_norm(x)), cat.heads, cat.d_kv);
        x = x + cat.o(merge_heads(t5_attend(cq, state.cross_k[li], state.cross_v[li], {})));
        auto* ff = layers[2]->as<T5SubLayer>();
        x = x + ff->dense(ff->layer_norm(x));
        ++li;
    }
    state.self.set_length(S);
    return decoder->final_layer_norm(x);
}

torch::Tensor T5Impl::logits(const torch::Tensor& hidden) {
    auto h = config.tie_word_embeddings ? hidden * std::pow(double(config.d_model), -0.5) : hidden;
    return lm_head(h);
}

// ---- the whole network ----------------------------------------------------------------------

RegionVlmNetImpl::RegionVlmNetImpl(const RegionVlmConfig& c) : config(c) {
    visual_encoder = register_module("visual_encoder", EvaVit(c));
    ln_vision = register_module("ln_vision", layer_norm(c.vision_width, c.ln_vision_eps));
    Qformer = register_module("Qformer", QFormer(c));
    query_tokens = register_parameter("query_tokens", torch::zeros({1, c.num_query, c.qf_hidden}));
    t5_proj = register_module("t5_proj", Linear(c.qf_hidden, c.t5.d_model));
    t5_model = register_module("t5_model", T5(c.t5));
}

torch::Tensor RegionVlmNetImpl::image_embeds(const torch::Tensor& pixels) {
    return ln_vision(visual_encoder(pixels));
}

torch::Tensor RegionVlmNetImpl::query_states(const torch::Tensor& image,
                                             const std::vector<int64_t>& text_ids) {
    auto& emb = *Qformer->bert->embeddings;
    auto x = query_tokens.expand({image.size(0), -1, -1});
    const int64_t Q = x.size(1);
    if (!text_ids.empty()) {
        if (!emb.word_embeddings)
            throw Error("this Q-Former has no text embeddings: it cannot read a region prompt");
        if (int64_t(text_ids.size()) > config.qf_max_positions)
            throw Error("the Q-Former text is longer than its position table");
        auto ids = torch::tensor(text_ids, torch::kLong).to(x.device()).unsqueeze(0);
        auto pos = torch::arange(int64_t(text_ids.size()), torch::dtype(torch::kLong).device(x.device()))
                       .unsqueeze(0);
        auto t = emb.word_embeddings(ids) + emb.position_embeddings(pos);
        x = torch::cat({x, t.to(x.dtype())}, 1);
    }
    x = emb.LayerNorm(x);
    for (const auto& l : *Qformer->bert->encoder->layer)
        x = l->as<QFormerLayer>()->forward(x, Q, image, {});  // batch 1: no padding to mask
    return x.narrow(1, 0, std::min<int64_t>(Q, 32));  // blip2_t5.py keeps [:, :32]
}

torch::Tensor regionvlm_pixels(const cv::Mat& image, int size) {
    PreprocessOptions o;  // CLIP's mean and std
    o.size = size;
    o.fit = ImageFit::Stretch;
    o.bicubic_antialias = true;  // torchvision's Resize on a PIL image is Pillow's bicubic
    return preprocess_image(image, o);
}

RegionVlmNetwork::RegionVlmNetwork(RegionVlmNet net, std::shared_ptr<const WordPiece> bert,
                                   torch::Device device, torch::Dtype dtype)
    : net_(std::move(net)), bert_(std::move(bert)), device_(device), dtype_(dtype) {}

torch::Tensor RegionVlmNetwork::image_embeds(const cv::Mat& bgr) {
    const uint64_t h = image_hash(bgr);
    for (auto it = vision_cache_.begin(); it != vision_cache_.end(); ++it)
        if (it->first == h) {
            vision_cache_.splice(vision_cache_.begin(), vision_cache_, it);
            return it->second;
        }
    torch::NoGradGuard no_grad;
    auto pixels = regionvlm_pixels(bgr, net_->config.image_size).unsqueeze(0).to(device_, dtype_);
    auto e = net_->image_embeds(pixels);
    vision_cache_.emplace_front(h, e);
    if (vision_cache_.size() > 4) vision_cache_.pop_back();
    return e;
}

std::vector<int64_t> RegionVlmNetwork::qformer_ids(const std::string& text) const {
    if (!bert_) throw Error("this model has no Q-Former tokenizer (vocab.txt)");
    // BertTokenizer(padding="longest", truncation=True, max_length=max_txt_len): [CLS], the
    // text's ids cut to fit, [SEP].
    const int cls = bert_->id("[CLS]"), sep = bert_->id("[SEP]");
    if (cls < 0 || sep < 0) throw Error("the Q-Former's vocab.txt has no [CLS] or [SEP]");
    const std::vector<int> body = bert_->encode(text);
    const size_t keep = std::min(body.size(), size_t(std::max(0, net_->config.max_txt_len - 2)));
    std::vector<int64_t> ids{cls};
    ids.insert(ids.end(), body.begin(), body.begin() + keep);
    ids.push_back(sep);
    return ids;
}

torch::Tensor RegionVlmNetwork::encode_image(const cv::Mat& bgr) {
    torch::NoGradGuard no_grad;
    auto image = image_embeds(bgr);
    return net_->t5_proj(net_->query_states(image, {})).squeeze(0);
}

torch::Tensor RegionVlmNetwork::encode_image_with_text(const cv::Mat& bgr, const std::string& text) {
    torch::NoGradGuard no_grad;
    auto image = image_embeds(bgr);
    return net_->t5_proj(net_->query_states(image, qformer_ids(text))).squeeze(0);
}

torch::Tensor RegionVlmNetwork::embed_tokens(const torch::Tensor& ids) {
    return net_->t5_model->shared(ids);
}

std::unique_ptr<DecodeState> RegionVlmNetwork::new_state() {
    return std::make_unique<T5State>();
}

void RegionVlmNetwork::encode_prompt(const torch::Tensor& embeds, DecodeState& state) {
    auto& s = static_cast<T5State&>(state);
    net_->t5_model->start(net_->t5_model->encode(embeds), s);
}

torch::Tensor RegionVlmNetwork::forward(const torch::Tensor& embeds, DecodeState& state) {
    return net_->t5_model->decode(embeds, static_cast<T5State&>(state));
}

torch::Tensor RegionVlmNetwork::logits(const torch::Tensor& hidden) {
    return net_->t5_model->logits(hidden);
}

int64_t RegionVlmNetwork::parameter_count() {
    int64_t n = 0;
    for (const auto& p : net_->parameters()) n += p.numel();
    return n;
}

}  // namespace rc
