// SAM's image side, as transformers' SamImageProcessor does it: a cv::Mat to the encoder's
// input, prompts' pixels to the resized frame, low-resolution logits back to masks of the
// original image, stability scores and the "segment everything" point grid.
#pragma once

#include <vector>

#include <torch/torch.h>
#include <opencv2/core.hpp>

namespace rc::sam {

/// The size an image of `size` is resized to: longest side `image_size`, the other side
/// scaled and rounded to the nearest pixel (at least 1).
cv::Size resized_size(cv::Size size, int image_size);

/// 8-bit BGR -> normalized pixels [1, 3, S, S] (S = image_size): RGB, resized to
/// resized_size() with bilinear filtering that widens its support when shrinking (PIL's and
/// transformers' BILINEAR, antialiased), rounded to 8 bits as PIL does, scaled to 0..1,
/// normalized with ImageNet's mean and std, padded with 0 at the bottom and right.
torch::Tensor preprocess(const cv::Mat& bgr, int image_size);

/// Low-resolution mask logits [K, s, s] -> K masks CV_8U 0/255 of `original` size: upscaled
/// to S x S (bilinear), cropped to the resized image `resized`, resized to `original`
/// (bilinear), thresholded at 0. Works in chunks so K may be large.
std::vector<cv::Mat> masks_from_logits(const torch::Tensor& logits, int image_size,
                                       cv::Size resized, cv::Size original);

/// Stability of each mask [K, s, s] -> [K] (float, CPU): the pixel count of logits > offset
/// over that of logits > -offset (0 for a mask empty at both).
torch::Tensor stability_scores(const torch::Tensor& logits, double offset = 1.0);

/// The "segment everything" grid in pixels of a `size` image: n x n points at the centres of
/// n x n equal cells (SAM's build_point_grid, offset 1 / 2n), row by row.
std::vector<cv::Point2f> point_grid(int n, cv::Size size);

}  // namespace rc::sam
