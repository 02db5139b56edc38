// CoLVA's object tokenizer (model/colva/radio.h).
#include "model/colva/radio.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "model/tensor_io.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/image_resize.h"

namespace rc {

namespace F = torch::nn::functional;

RadioInputConditionerImpl::RadioInputConditionerImpl() {
    // RADIO's defaults (OpenAI CLIP's); the checkpoint's buffers replace them.
    norm_mean = register_parameter(
        "norm_mean", torch::tensor({0.48145466f, 0.4578275f, 0.40821073f}).view({3, 1, 1}), false);
    norm_std = register_parameter(
        "norm_std", torch::tensor({0.26862954f, 0.26130258f, 0.27577711f}).view({3, 1, 1}), false);
}

RadioClsTokenImpl::RadioClsTokenImpl(const RadioConfig& c) {
    token = register_parameter("token", torch::zeros({c.prefix_tokens, c.width}));
}

RadioPatchGeneratorImpl::RadioPatchGeneratorImpl(const RadioConfig& c) {
    embedder = register_module("embedder", Linear(3 * c.patch * c.patch, c.width, false));
    pos_embed = register_parameter(
        "pos_embed", torch::zeros({1, int64_t(c.pos_grid) * c.pos_grid, c.width}));
    cls_token = register_module("cls_token", RadioClsToken(c));
}

namespace {
InternVitConfig block_config(const RadioConfig& c) {
    InternVitConfig b;
    b.width = c.width;
    b.heads = c.heads;
    b.mlp = c.mlp;
    b.eps = c.eps;
    b.layer_scale = false;
    return b;
}
}  // namespace

RadioVitImpl::RadioVitImpl(const RadioConfig& c) {
    patch_generator = register_module("patch_generator", RadioPatchGenerator(c));
    blocks = register_module("blocks", torch::nn::ModuleList());
    const InternVitConfig b = block_config(c);
    for (int i = 0; i < c.depth; ++i) {
        InternVitLayer l(b);  // timm's Block: norm1, attn.qkv, attn.proj, norm2, mlp.fc1/fc2
        place_built(*l);
        blocks->push_back(l);
    }
    if (c.final_norm) norm = register_module("norm", layer_norm(c.width, c.eps));
}

RadioImpl::RadioImpl(const RadioConfig& c) : config(c) {
    input_conditioner = register_module("input_conditioner", RadioInputConditioner());
    model = register_module("model", RadioVit(c));
}

torch::Tensor radio_position_table(const torch::Tensor& pos_embed, int table_grid, int rows,
                                   int cols) {
    if (rows == table_grid && cols == table_grid) return pos_embed;
    const int64_t C = pos_embed.size(2);
    auto t = pos_embed.reshape({1, table_grid, table_grid, C}).permute({0, 3, 1, 2});
    const int64_t side = std::max(rows, cols);
    if (side != table_grid)
        t = F::interpolate(t.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                      .size(std::vector<int64_t>{side, side})
                                                      .mode(torch::kBilinear)
                                                      .align_corners(true))
                .to(pos_embed.dtype());
    t = t.narrow(2, 0, rows).narrow(3, 0, cols);
    return t.flatten(2).permute({0, 2, 1});
}

torch::Tensor RadioImpl::forward(const torch::Tensor& pixels) {
    const int p = config.patch;
    const int64_t B = pixels.size(0), H = pixels.size(2), W = pixels.size(3);
    if (H % p != 0 || W % p != 0)
        throw Error("RADIO takes images whose sides are multiples of " + std::to_string(p));
    const int64_t py = H / p, px = W / p;
    auto x = (pixels - input_conditioner->norm_mean) / input_conditioner->norm_std;
    // Im2Patches: 'b c (py yy) (px xx) -> b (py px) (c yy xx)'.
    x = x.reshape({B, 3, py, p, px, p}).permute({0, 2, 4, 1, 3, 5}).reshape({B, py * px, 3 * p * p});
    auto& g = *model->patch_generator;
    x = g.embedder(x) + radio_position_table(g.pos_embed, config.pos_grid, int(py), int(px));
    x = torch::cat({g.cls_token->token.unsqueeze(0).expand({B, -1, -1}).to(x.dtype()), x}, 1);
    for (const auto& b : *model->blocks) x = b->as<InternVitLayer>()->forward(x);
    if (model->norm) x = model->norm(x);
    return x.narrow(1, config.prefix_tokens, py * px).to(torch::kFloat32);
}

ObjectTokenizerImpl::ObjectTokenizerImpl(const RadioConfig& c) {
    radio_model = register_module("radio_model", Radio(c));
}

torch::Tensor InternVlNetImpl::region_rows(const torch::Tensor& pixels, const torch::Tensor& masks) {
    if (!object_tokenizer) throw Error("this InternVL model has no object tokenizer (RADIO)");
    auto features = ot_mlp1(object_tokenizer->radio_model(pixels)[0].to(pixels.dtype()));
    return colva_pool_regions(features, masks);
}

torch::Tensor colva_radio_pixels(const cv::Mat& image, int canvas) {
    const cv::Mat bgr = to_bgr8(image);
    if (bgr.empty()) throw Error("empty image");
    const int w = bgr.cols, h = bgr.rows;
    // The kit: w > h: (1024, int(h / w * 1024)); else (int(w / h * 1024), 1024).
    const int nw = w > h ? canvas : std::max(1, int(double(w) / h * canvas));
    const int nh = w > h ? std::max(1, int(double(h) / w * canvas)) : canvas;
    const cv::Mat resized = resize_bicubic_antialias(bgr, nw, nh);
    cv::Mat padded(canvas, canvas, CV_8UC3, cv::Scalar(255, 255, 255)), rgb, f;
    resized.copyTo(padded(cv::Rect(0, 0, nw, nh)));
    cv::cvtColor(padded, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(f, CV_32FC3, 1.0 / 255.0);
    return torch::from_blob(f.data, {canvas, canvas, 3}, torch::kFloat32).permute({2, 0, 1}).clone();
}

torch::Tensor colva_mask_grid(const std::vector<cv::Mat>& masks, int canvas, int grid) {
    std::vector<torch::Tensor> out;
    for (const cv::Mat& m : masks) {
        if (m.empty() || m.type() != CV_8UC1) throw Error("a region mask must be 8-bit, one channel");
        const int side = std::max(m.rows, m.cols);
        auto sq = torch::zeros({1, 1, side, side}, torch::kFloat32);
        cv::Mat f;
        cv::Mat inside = m != 0;
        inside.convertTo(f, CV_32F, 1.0 / 255.0);
        sq[0][0].narrow(0, 0, m.rows).narrow(1, 0, m.cols).copy_(
            torch::from_blob(f.data, {m.rows, m.cols}, torch::kFloat32));
        auto opts = [](int64_t s) {
            return F::InterpolateFuncOptions()
                .size(std::vector<int64_t>{s, s})
                .mode(torch::kBilinear)
                .align_corners(false);
        };
        auto big = F::interpolate(sq, opts(canvas));
        auto small = F::interpolate(big, opts(grid));
        out.push_back((small > 0.55).to(torch::kFloat32).reshape({1, int64_t(grid) * grid}));
    }
    if (out.empty()) return torch::zeros({0, int64_t(grid) * grid});
    return torch::cat(out, 0);
}

torch::Tensor colva_pool_regions(const torch::Tensor& features, const torch::Tensor& masks) {
    auto m = masks.to(features.dtype());
    auto w = m / (m.sum(-1, true) + 1e-4);
    return torch::matmul(w, features);
}

}  // namespace rc
