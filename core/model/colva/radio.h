// CoLVA's object tokenizer: NVIDIA RADIO v2.1 (timm's ViT-H/16 with RADIO's CPE patch
// generator) on the ORIGINAL image, then the adapter ot_mlp1 on every patch feature, then one
// masked mean per region. Parameter names are the HF checkpoint's
// (object_tokenizer.radio_model.{input_conditioner,model}.*, ot_mlp1.{0,1,3}); the kit's RADIO
// folder names them without "object_tokenizer.". Facts and line numbers: docs/colva-layout.md
// sections 3 and 4. Parity: test_model's radioEqualsOriginal (tools/reference/radio_reference.py
// runs RADIO's own code from CoLVA's repository).
#pragma once

#include <vector>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "model/colva/internvl.h"

namespace rc {

struct RadioInputConditionerImpl : torch::nn::Module {
    RadioInputConditionerImpl();
    torch::Tensor norm_mean, norm_std;  ///< [3,1,1] buffers in the checkpoint
};
TORCH_MODULE(RadioInputConditioner);

struct RadioClsTokenImpl : torch::nn::Module {
    explicit RadioClsTokenImpl(const RadioConfig& c);
    torch::Tensor token;  ///< [prefix_tokens, width]
};
TORCH_MODULE(RadioClsToken);

struct RadioPatchGeneratorImpl : torch::nn::Module {
    explicit RadioPatchGeneratorImpl(const RadioConfig& c);
    Linear embedder{nullptr};  ///< [width, 3 * patch * patch], no bias
    torch::Tensor pos_embed;   ///< [1, pos_grid^2, width]
    RadioClsToken cls_token{nullptr};
};
TORCH_MODULE(RadioPatchGenerator);

/// "model": the ViT with CPE (_forward_cpe: patch generator, blocks, norm).
struct RadioVitImpl : torch::nn::Module {
    explicit RadioVitImpl(const RadioConfig& c);
    RadioPatchGenerator patch_generator{nullptr};
    torch::nn::ModuleList blocks{nullptr};
    torch::nn::LayerNorm norm{nullptr};  ///< only with final_norm
};
TORCH_MODULE(RadioVit);

/// "radio_model": pixels [B,3,H,W] in 0..1 (RGB) -> patch features [B, (H/p)*(W/p), width]
/// (RADIOModel.forward's features: the tokens after the CLS and register tokens, fp32).
struct RadioImpl : torch::nn::Module {
    explicit RadioImpl(const RadioConfig& c);
    torch::Tensor forward(const torch::Tensor& pixels);
    RadioConfig config;
    RadioInputConditioner input_conditioner{nullptr};
    RadioVit model{nullptr};
};
TORCH_MODULE(Radio);

struct ObjectTokenizerImpl : torch::nn::Module {
    explicit ObjectTokenizerImpl(const RadioConfig& c);
    Radio radio_model{nullptr};
};
TORCH_MODULE(ObjectTokenizer);

/// RADIO's position table for a grid of rows x cols patches (ViTPatchGenerator's eval path):
/// as stored when it is that size, else bilinear (align_corners) to max(rows, cols) square and
/// cropped top-left. [1, rows*cols, width].
torch::Tensor radio_position_table(const torch::Tensor& pos_embed, int table_grid, int rows,
                                   int cols);

/// The kit's RADIO input: the image's longest side resized to `canvas` (int truncation of the
/// other, Pillow bicubic), pasted top-left on a white canvas x canvas, RGB in 0..1: [3,C,C].
torch::Tensor colva_radio_pixels(const cv::Mat& bgr, int canvas);

/// The kit's region masks on the patch grid: each 8-bit mask (non-zero inside) zero-padded to
/// a square at the top-left, bilinear to canvas x canvas, bilinear to grid x grid, > 0.55:
/// [n, grid*grid] float 0/1.
torch::Tensor colva_mask_grid(const std::vector<cv::Mat>& masks, int canvas, int grid);

/// One row per region: the masked mean of projected features [grid*grid, D] over masks
/// [n, grid*grid] (sum / (count + 1e-4); an empty mask gives zeros): [n, D].
torch::Tensor colva_pool_regions(const torch::Tensor& features, const torch::Tensor& masks);

}  // namespace rc
