// The one cv::Mat -> Tensor path for model input (LLaVA-1.5 / CLIP preprocessing).
// Includes LibTorch: for core/, the CLI and tests, not for ui/ headers.
#pragma once

#include <array>

#include <torch/torch.h>
#include <opencv2/core.hpp>

#include "regionchat/image_io.h"  // to_bgr8
#include "regionchat/image_resize.h"

namespace rc {

/// How a non-square image becomes the square the vision tower takes.
enum class ImageFit {
    Pad,         ///< LLaVA "pad": centred on a square of the mean colour, then resized
    CenterCrop,  ///< CLIPImageProcessor: shortest edge resized to the side, centre cropped
    Stretch,     ///< resized to the square, aspect ignored (Pink's torchvision Resize)
};

struct PreprocessOptions {
    int size = 336;               ///< output side in pixels
    ImageFit fit = ImageFit::Pad;
    /// Resize with antialiased bicubic to 8 bits, as PIL's Image.resize(BICUBIC) (Pink's
    /// torchvision Resize); otherwise area when shrinking and bicubic when enlarging.
    bool bicubic_antialias = false;
    std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};  ///< CLIP, RGB
    std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};


/// BGR image -> float tensor [3, size, size]: RGB, fitted to the square as `fit` says,
/// resized (as bicubic_antialias says), scaled to [0,1], normalized. Owns its memory.
torch::Tensor preprocess_image(const cv::Mat& image, const PreprocessOptions& options);

}  // namespace rc
