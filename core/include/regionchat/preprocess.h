// The one cv::Mat -> Tensor path for model input (LLaVA-1.5 / CLIP preprocessing).
// Includes LibTorch: for core/, the CLI and tests, not for ui/ headers.
#pragma once

#include <array>

#include <torch/torch.h>
#include <opencv2/core.hpp>

#include "regionchat/image_io.h"  // to_bgr8

namespace rc {

struct PreprocessOptions {
    int size = 336;             ///< output side in pixels
    bool pad_to_square = true;  ///< LLaVA "pad": centre on a square of the mean colour
    /// Resize with antialiased bicubic to 8 bits, as PIL's Image.resize(BICUBIC) (Pink's
    /// torchvision Resize); otherwise area when shrinking and bicubic when enlarging.
    bool bicubic_antialias = false;
    std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};  ///< CLIP, RGB
    std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};


/// Pads to a square of side max(w, h) with the image centred as LLaVA's expand2square does
/// (offset ((side-w)/2, (side-h)/2), integer division); `fill_rgb` is the padding colour.
cv::Mat expand_to_square(const cv::Mat& bgr, const std::array<float, 3>& fill_rgb01);

/// 8-bit BGR image stretched to size x size with antialiased bicubic (PIL's BICUBIC filter,
/// a = -0.5, support scaled when shrinking), rounded back to 8 bits.
cv::Mat resize_bicubic_antialias(const cv::Mat& bgr, int size);

/// BGR image -> float tensor [3, size, size]: RGB, padded (optional), resized (as
/// bicubic_antialias says), scaled to [0,1], normalized. Owns its memory.
torch::Tensor preprocess_image(const cv::Mat& image, const PreprocessOptions& options);

}  // namespace rc
