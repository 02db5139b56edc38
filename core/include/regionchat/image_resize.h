// Image geometry without LibTorch: padding to a square, CLIP's shortest-edge size and a
// Pillow-exact bicubic resize. For the model input path and the remote backend alike.
#pragma once

#include <array>

#include <opencv2/core.hpp>

namespace rc {

/// A rows x cols image of `type` filled with `colour`. OpenCV 4.6's Mat(rows, cols, type,
/// Scalar) fills a 3-channel image whose channels differ element by element: 2.1 ms for
/// 640x640 against 0.024 ms for Mat::setTo, which this uses (the same pixels).
cv::Mat solid_image(int rows, int cols, int type, const cv::Scalar& colour);

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

/// A large image, whose padded square would be over 16 Mpx and over 4 x `size` per side,
/// averaged down (INTER_AREA) by the factor that brings that square's side to 4 x `size`;
/// any other image as it is (shared). What both padded resizes do first, so that no
/// full-size square is ever built (243 MB for a 9000x7000 photo).
cv::Mat shrink_before_padding(const cv::Mat& bgr, int size);

/// resize_bicubic_antialias(expand_to_square(bgr, fill), size, size) without building the
/// padded square: the padding's rows (or columns) are fed to Pillow's passes as they would
/// be, so the result is the same to the bit up to 16 Mpx of square. Memory: one side x size
/// intermediate (9 MB for a 9000-pixel side at 336) instead of the side x side square.
cv::Mat resize_padded_square(const cv::Mat& bgr, const std::array<float, 3>& fill_rgb01,
                             int size);

/// The size CLIPImageProcessor resizes a width x height image to before its centre crop:
/// the shortest edge becomes `side`, the other int(side * long / short) (truncated).
cv::Size shortest_edge_size(int width, int height, int side);

}  // namespace rc
