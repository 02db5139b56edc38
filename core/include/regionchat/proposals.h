// Region proposals: masks, boxes and scores from generators behind one interface (classic
// OpenCV segmentation, SAM), run on the worker thread with progress and cancellation.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "regionchat/region_format.h"

namespace rc {

/// One candidate region the user can pick.
struct Proposal {
    cv::Mat mask;  ///< CV_8U, 0 or 255, the input image's size
    Box box;       ///< pixels, the mask's bounding rect ([x0, x1) style, like synth boxes)
    float score = 0;
    std::string source;  ///< generator that made it: "classic", "sam"
};

struct ProposalParams {
    int max_proposals = 64;             ///< at most this many are returned (<= 0: none)
    double min_area_fraction = 0.0005;  ///< smaller regions (vs the image's area) are dropped
    double nms_iou = 0.7;               ///< no two returned boxes overlap more than this
    /// Called between stages with 0..1, non-decreasing; return false to cancel.
    std::function<bool(float)> progress;
};

/// A source of proposals. Not thread-safe: use one instance per thread.
class ProposalGenerator {
public:
    virtual ~ProposalGenerator();
    /// Short name for menus and Proposal::source, e.g. "classic".
    virtual std::string name() const = 0;
    /// Proposals for a BGR image (gray and BGRA are accepted too), best first; throws
    /// rc::Error for an empty image and rc::Error("cancelled") when progress returns false.
    virtual std::vector<Proposal> generate(const cv::Mat& bgr, const ProposalParams& params) = 0;
};

/// The default generator: multi-scale graph segmentation plus hierarchical grouping on
/// OpenCV, no weights. Deterministic; about 0.1 s for 640x480 on one CPU core.
std::unique_ptr<ProposalGenerator> make_classic_generator();

/// Intersection over union of two masks of the same size (non-zero = inside); 0 when both
/// are empty. Throws rc::Error when the sizes differ.
double mask_iou(const cv::Mat& a, const cv::Mat& b);

/// Bounding rect of a mask's non-zero pixels as a Box ([x0, x1) style); empty box if none.
Box mask_box(const cv::Mat& mask);

/// Box non-maximum suppression: sorts by score (stable, best first), then keeps each
/// proposal whose box overlaps no kept one by more than `iou_threshold`, up to `max`.
std::vector<Proposal> nms(std::vector<Proposal> proposals, double iou_threshold, size_t max);

}  // namespace rc
