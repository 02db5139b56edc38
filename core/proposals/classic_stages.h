// Replaceable stages of the classic proposal generator, private to core/proposals and the
// measurement program tools/proposals-bench (which plugs OpenCV ximgproc's segmentation and
// selective search in here to compare them with ours). make_classic_generator() uses none.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <opencv2/core.hpp>

#include "graph_segmentation.h"
#include "regionchat/proposals.h"

namespace rc::detail {

struct ClassicStages {
    /// Over-segments the working image (CV_32FC3 Lab, already blurred) once per scale, with
    /// graph_segmentations' contract; empty: graph_segmentations.
    std::function<std::vector<Segmentation>(const cv::Mat& lab, const std::vector<double>& scales,
                                            int min_size, const std::function<void()>& after_each)>
        segment;
    /// Candidates instead of our hierarchical grouping: sets of segment ids of segmentation
    /// `index` (each is scored and ranked like one of our groups). `bgr` is the 8-bit working
    /// image. Empty: our grouping.
    std::function<std::vector<std::vector<int>>(const cv::Mat& bgr, const Segmentation& seg,
                                                size_t index)>
        groups;
};

std::unique_ptr<ProposalGenerator> make_classic_generator(ClassicStages stages);

}  // namespace rc::detail
