// Felzenszwalb-Huttenlocher graph segmentation, private to the classic proposal generator.
#pragma once

#include <functional>
#include <vector>

#include <opencv2/core.hpp>

namespace rc::detail {

/// One over-segmentation: every pixel's segment id, 0..count-1 numbered in raster order.
struct Segmentation {
    cv::Mat labels;  ///< CV_32S, the image's size
    int count = 0;
};

/// Segments a CV_32FC3 image once per `scales` entry (the k of the paper, in the image's
/// units: larger k, larger segments), merging segments under `min_size` pixels into a
/// neighbour. The 8-connected edges are built and sorted once and shared by all scales.
/// `after_each` runs after every scale (progress, cancellation). Deterministic.
std::vector<Segmentation> graph_segmentations(const cv::Mat& image,
                                              const std::vector<double>& scales, int min_size,
                                              const std::function<void()>& after_each = {});

}  // namespace rc::detail
