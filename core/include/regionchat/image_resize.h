// Image geometry without LibTorch: padding to a square, CLIP's shortest-edge size and a
// Pillow-exact bicubic resize. For the model input path and the remote backend alike.
#pragma once

#include <array>

#include <opencv2/core.hpp>

namespace rc {

/// Pads to a square of side max(w, h) with the image centred as LLaVA's expand2square does
/// (offset ((side-w)/2, (side-h)/2), integer division); `fill_rgb` is the padding colour.
cv::Mat expand_to_square(const cv::Mat& bgr, const std::array<float, 3>& fill_rgb01);

/// 8-bit BGR image resized to width x height as Pillow's Image.resize(BICUBIC) resizes (a =
/// -0.5, support scaled when shrinking, 22-bit fixed-point coefficients, horizontal pass
/// first, 8 bits after each pass): bit-exact up to 16 Mpx.
cv::Mat resize_bicubic_antialias(const cv::Mat& bgr, int width, int height);
inline cv::Mat resize_bicubic_antialias(const cv::Mat& bgr, int size) {
    return resize_bicubic_antialias(bgr, size, size);
}

/// The size CLIPImageProcessor resizes a width x height image to before its centre crop:
/// the shortest edge becomes `side`, the other int(side * long / short) (truncated).
cv::Size shortest_edge_size(int width, int height, int side);

}  // namespace rc
