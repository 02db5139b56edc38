// ParGo's network: EVA02 with its 2-D RoPE, ln_vision, the partial/global BERT projector with
// its masks, llm_proj, and InternLM2 as a LLaMA decoder. The math follows ParGo's code
// (eva_vit.py, qformer_bert.py, init_models.py new_encode_img) as the facts in pargo.h say;
// parity with that code is test_pargo_reference's.
#include <cmath>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "model/pargo/pargo.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/image_resize.h"

namespace rc {

namespace {

// EVA's rotate_half for interleaved pairs: (x0, x1) -> (-x1, x0).
torch::Tensor rotate_pairs(const torch::Tensor& x) {
    auto p = x.unflatten(-1, {-1, 2});
    return torch::stack({-p.select(-1, 1), p.select(-1, 0)}, -1).flatten(-2);
}

}  // namespace

// ---- EVA02 ---------------------------------------------------------------------------------

Eva02AttentionImpl::Eva02AttentionImpl(int width, int heads_, double eps) : heads(heads_) {
    q_proj = register_module("q_proj", Linear(width, width, false));
    k_proj = register_module("k_proj", Linear(width, width, false));
    v_proj = register_module("v_proj", Linear(width, width, false));
    q_bias = register_parameter("q_bias", torch::zeros({width}));
    v_bias = register_parameter("v_bias", torch::zeros({width}));
    inner_attn_ln = register_module("inner_attn_ln", layer_norm(width, eps));
    proj = register_module("proj", Linear(width, width));
}

torch::Tensor Eva02AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                          const torch::Tensor& sin) {
    const int64_t B = x.size(0), N = x.size(1), W = x.size(2), D = W / heads;
    auto split = [&](const torch::Tensor& t) { return t.view({B, N, heads, D}).transpose(1, 2); };
    auto q = split(torch::linear(x, q_proj->weight, q_bias));
    auto k = split(k_proj(x));  // no k bias
    auto v = split(torch::linear(x, v_proj->weight, v_bias));
    // RoPE on every token but CLS, computed in fp32 and cast back (as eva_vit.py's type_as).
    auto rope = [&](const torch::Tensor& t) {
        auto body = t.narrow(2, 1, N - 1).to(torch::kFloat32);
        body = (body * cos + rotate_pairs(body) * sin).to(t.dtype());
        return torch::cat({t.narrow(2, 0, 1), body}, 2);
    };
    q = rope(q);
    k = rope(k);
    auto out = attend(q, k, v, {}, 1.0 / std::sqrt(double(D)));
    out = out.transpose(1, 2).reshape({B, N, W});
    return proj(inner_attn_ln(out));
}

Eva02MlpImpl::Eva02MlpImpl(int width, int hidden, double eps) {
    w1 = register_module("w1", Linear(width, hidden));
    w2 = register_module("w2", Linear(width, hidden));
    ffn_ln = register_module("ffn_ln", layer_norm(hidden, eps));
    w3 = register_module("w3", Linear(hidden, width));
}

torch::Tensor Eva02MlpImpl::forward(const torch::Tensor& x) {
    // SwiGLU: w1 is the gate, w2 the up projection, w3 the down projection.
    return w3(ffn_ln(torch::silu(w1(x)) * w2(x)));
}

Eva02BlockImpl::Eva02BlockImpl(const ParGoConfig& c) {
    norm1 = register_module("norm1", layer_norm(c.vision_width, c.vision_eps));
    attn = register_module(
        "attn", Eva02Attention(c.vision_width, c.vision_width / c.vision_head_width, c.vision_eps));
    norm2 = register_module("norm2", layer_norm(c.vision_width, c.vision_eps));
    mlp = register_module("mlp", Eva02Mlp(c.vision_width, c.vision_mlp, c.vision_eps));
}

torch::Tensor Eva02BlockImpl::forward(torch::Tensor x, const torch::Tensor& cos,
                                      const torch::Tensor& sin) {
    x = x + attn(norm1(x), cos, sin);
    return x + mlp(norm2(x));
}

PatchEmbedImpl::PatchEmbedImpl(int width, int patch) {
    proj = register_module(
        "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width, patch).stride(patch)));
}

Eva02Impl::Eva02Impl(const ParGoConfig& c)
    : grid(c.image_size / c.patch_size), head_dim(c.vision_head_width) {
    const int W = c.vision_width;
    cls_token = register_parameter("cls_token", torch::zeros({1, 1, W}));
    pos_embed = register_parameter("pos_embed", torch::zeros({1, grid * grid + 1, W}));
    patch_embed = register_module("patch_embed", PatchEmbed(W, c.patch_size));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < c.vision_depth; ++i) blocks->push_back(Eva02Block(c));
}

torch::Tensor Eva02Impl::forward(const torch::Tensor& pixels) {
    if (!cos_.defined() || cos_.device() != pixels.device()) {
        // VisionRotaryEmbeddingFast: half the head dim per axis, frequencies for 'lang'
        // (theta 10000), positions of the grid scaled to the 16-patch grid it was trained on,
        // each frequency repeated for its pair; rows, then columns.
        const int64_t dim = head_dim / 2;
        auto freqs = 1.0 / torch::pow(10000.0, torch::arange(0, dim, 2, torch::kFloat64) / double(dim));
        auto t = torch::arange(grid, torch::kFloat64) / double(grid) * 16.0;
        auto f = torch::outer(t, freqs).repeat_interleave(2, -1);  // [grid, dim]
        auto rows = f.unsqueeze(1).expand({grid, grid, dim});
        auto cols = f.unsqueeze(0).expand({grid, grid, dim});
        auto full = torch::cat({rows, cols}, -1).reshape({grid * grid, 2 * dim});
        cos_ = full.cos().to(torch::kFloat32).to(pixels.device());
        sin_ = full.sin().to(torch::kFloat32).to(pixels.device());
    }
    auto x = patch_embed->proj(pixels).flatten(2).transpose(1, 2);  // [N, grid^2, W]
    x = torch::cat({cls_token.expand({x.size(0), 1, x.size(2)}).to(x.dtype()), x}, 1);
    x = x + pos_embed.to(x.dtype());
    for (const auto& b : *blocks) x = b->as<Eva02Block>()->forward(x, cos_, sin_);
    return x;  // all blocks, no final norm (return_all_features)
}

// ---- the projector's BERT ------------------------------------------------------------------

ParGoLayerImpl::ParGoLayerImpl(const ParGoConfig& c) {
    attention = register_module(
        "attention", BertAttention(c.bert_hidden, c.bert_hidden, c.bert_heads, c.bert_eps));
    crossattention = register_module(
        "crossattention", BertAttention(c.bert_hidden, c.vision_width, c.bert_heads, c.bert_eps));
    intermediate_query =
        register_module("intermediate_query", BertIntermediate(c.bert_hidden, c.bert_intermediate));
    output_query =
        register_module("output_query", BertOutput(c.bert_intermediate, c.bert_hidden, c.bert_eps));
}

torch::Tensor ParGoLayerImpl::forward(torch::Tensor x, const torch::Tensor& vision,
                                      const torch::Tensor& self_mask,
                                      const torch::Tensor& cross_mask) {
    x = attention(x, x, self_mask);
    x = crossattention(x, vision, cross_mask);
    return output_query(torch::gelu(intermediate_query->dense(x)), x);  // erf GELU
}

BertEmbeddingsImpl::BertEmbeddingsImpl(const ParGoConfig& c) {
    position_embeddings =
        register_module("position_embeddings", Embedding(c.bert_max_positions, c.bert_hidden));
    LayerNorm = register_module("LayerNorm", layer_norm(c.bert_hidden, c.bert_eps));
}

BertEncoderImpl::BertEncoderImpl(const ParGoConfig& c) {
    layer = register_module("layer", torch::nn::ModuleList());
    for (int i = 0; i < c.bert_layers; ++i) layer->push_back(ParGoLayer(c));
}

ParGoBertImpl::ParGoBertImpl(const ParGoConfig& c) {
    embeddings = register_module("embeddings", BertEmbeddings(c));
    encoder = register_module("encoder", BertEncoder(c));
}

ParGoProjectorImpl::ParGoProjectorImpl(const ParGoConfig& c) {
    bert = register_module("bert", ParGoBert(c));
}

// ---- the whole network ---------------------------------------------------------------------

ParGoNetImpl::ParGoNetImpl(const ParGoConfig& c) : config(c) {
    visual_encoder = register_module("visual_encoder", Eva02(c));
    ln_vision = register_module("ln_vision", layer_norm(c.vision_width, c.ln_vision_eps));
    ParGo = register_module("ParGo", ParGoProjector(c));
    query_tokens = register_parameter("query_tokens", torch::zeros({1, c.num_query, c.bert_hidden}));
    llm_proj = register_module("llm_proj", Linear(c.bert_hidden, c.text.hidden_size));
    language_model = register_module("language_model", LlamaForCausalLM(c.text));
}

torch::Tensor ParGoNetImpl::vision_tokens(const torch::Tensor& pixels) {
    return ln_vision(visual_encoder(pixels)).narrow(1, 1, config.vision_tokens());
}

torch::Tensor ParGoNetImpl::query_states(const torch::Tensor& vision) {
    const int64_t Q = config.num_query, L = config.num_local_query, N = vision.size(1);
    if (!self_mask_.defined() || self_mask_.device() != vision.device()) {
        // get_global_local_attention: partial queries see the partial ones, global queries the
        // global ones; partial query i cross-attends to vision tokens [i*N/L, (i+1)*N/L), the
        // global ones to all N.
        if (L <= 0 || L > Q || N % L != 0)
            throw Error("ParGo: " + std::to_string(N) + " vision tokens cannot be split among " +
                        std::to_string(L) + " partial queries");
        const float inf = std::numeric_limits<float>::infinity();
        auto s = torch::full({Q, Q}, -inf);
        s.narrow(0, 0, L).narrow(1, 0, L).zero_();
        s.narrow(0, L, Q - L).narrow(1, L, Q - L).zero_();
        auto cm = torch::full({Q, N}, -inf);
        const int64_t per = N / L;
        for (int64_t i = 0; i < L; ++i) cm[i].narrow(0, i * per, per).zero_();
        cm.narrow(0, L, Q - L).zero_();
        self_mask_ = s.to(vision.device());
        cross_mask_ = cm.to(vision.device());
    }
    auto& emb = *ParGo->bert->embeddings;
    auto x = query_tokens.to(vision.dtype()).expand({vision.size(0), Q, query_tokens.size(2)}) +
             emb.position_embeddings->weight.narrow(0, 0, Q).to(vision.dtype());
    x = emb.LayerNorm(x);
    for (const auto& l : *ParGo->bert->encoder->layer)
        x = l->as<ParGoLayer>()->forward(x, vision, self_mask_, cross_mask_);
    return x;
}

torch::Tensor ParGoNetImpl::encode_images(const torch::Tensor& pixels) {
    return llm_proj(query_states(vision_tokens(pixels)));
}

// An 8-bit BGRA image pasted onto white through its alpha, as PIL's
// Image.new("RGB", size, white).paste(image, mask=alpha) rounds: white + (v - white) * a / 255
// with Pillow's BLEND rounding.
cv::Mat composite_on_white(const cv::Mat& bgra) {
    cv::Mat out(bgra.rows, bgra.cols, CV_8UC3);
    for (int y = 0; y < bgra.rows; ++y) {
        const uint8_t* in = bgra.ptr<uint8_t>(y);
        uint8_t* o = out.ptr<uint8_t>(y);
        for (int x = 0; x < bgra.cols; ++x, in += 4, o += 3) {
            const int a = in[3];
            for (int ch = 0; ch < 3; ++ch) {
                const int tmp = (int(in[ch]) - 255) * a + 128;
                o[ch] = uint8_t(255 + (((tmp >> 8) + tmp) >> 8));
            }
        }
    }
    return out;
}

torch::Tensor pargo_pixels(const cv::Mat& image, const ParGoConfig& c) {
    // mmebench_datasets.py pastes a PNG with an alpha band onto white; other images lose alpha.
    const cv::Mat bgr = image.type() == CV_8UC4 ? composite_on_white(image) : to_bgr8(image);
    if (bgr.empty()) throw Error("empty image");
    const int L = c.letterbox;
    const double ratio = std::min(double(L) / bgr.cols, double(L) / bgr.rows);
    const int nw = std::max(1, int(bgr.cols * ratio)), nh = std::max(1, int(bgr.rows * ratio));
    const cv::Mat resized = resize_bicubic_antialias(bgr, nw, nh);
    // The pad is int(mean * 255) per channel: RGB (122, 116, 104).
    cv::Mat canvas = solid_image(L, L, CV_8UC3, cv::Scalar(104, 116, 122));
    resized.copyTo(canvas(cv::Rect((L - nw) / 2, (L - nh) / 2, nw, nh)));
    const int S = std::min(c.image_size, L);
    cv::Mat tile = canvas(cv::Rect(0, 0, S, S)), rgb, f;
    cv::cvtColor(tile, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(f, CV_32FC3, 1.0 / 255.0);
    auto t = torch::from_blob(f.data, {S, S, 3}, torch::kFloat32).clone().permute({2, 0, 1});
    const auto mean = torch::tensor({0.48145466f, 0.4578275f, 0.40821073f}).view({3, 1, 1});
    const auto stdv = torch::tensor({0.26862954f, 0.26130258f, 0.27577711f}).view({3, 1, 1});
    return ((t - mean) / stdv).contiguous();
}


ParGoNetwork::ParGoNetwork(ParGoNet net, torch::Device device, torch::Dtype dtype)
    : LlamaBackedNetwork(net.ptr(), net->language_model, device, dtype), net_(std::move(net)) {}

torch::Tensor ParGoNetwork::encode_image(const cv::Mat& bgr) {
    torch::NoGradGuard no_grad;
    auto pixels = pargo_pixels(bgr, net_->config).unsqueeze(0).to(device_, dtype_);
    return net_->encode_images(pixels).squeeze(0);
}

}  // namespace rc
