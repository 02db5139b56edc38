// Helpers shared by every proposal generator: mask IoU, mask boxes and box NMS.
#include "regionchat/proposals.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"

namespace rc {

ProposalGenerator::~ProposalGenerator() = default;

double mask_iou(const cv::Mat& a, const cv::Mat& b) {
    if (a.size() != b.size()) throw Error("mask_iou: masks of different sizes");
    if (a.empty()) return 0;
    cv::Mat in_a, in_b, both, either;
    cv::compare(a, 0, in_a, cv::CMP_NE);
    cv::compare(b, 0, in_b, cv::CMP_NE);
    cv::bitwise_and(in_a, in_b, both);
    cv::bitwise_or(in_a, in_b, either);
    const int uni = cv::countNonZero(either);
    return uni == 0 ? 0.0 : static_cast<double>(cv::countNonZero(both)) / uni;
}

Box mask_box(const cv::Mat& mask) {
    if (mask.empty()) return {};
    cv::Mat inside;
    cv::compare(mask, 0, inside, cv::CMP_NE);
    const cv::Rect r = cv::boundingRect(inside);
    if (r.empty()) return {};
    return Box{double(r.x), double(r.y), double(r.x + r.width), double(r.y + r.height)};
}

std::vector<Proposal> nms(std::vector<Proposal> proposals, double iou_threshold, size_t max) {
    std::stable_sort(proposals.begin(), proposals.end(),
                     [](const Proposal& a, const Proposal& b) { return a.score > b.score; });
    std::vector<Proposal> kept;
    for (auto& p : proposals) {
        if (kept.size() >= max) break;
        const bool overlaps = std::any_of(kept.begin(), kept.end(), [&](const Proposal& k) {
            return iou(k.box, p.box) > iou_threshold;
        });
        if (!overlaps) kept.push_back(std::move(p));
    }
    return kept;
}

}  // namespace rc
