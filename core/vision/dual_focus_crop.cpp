// The DualFocus zoom-in crop (../shared/docs/FORMATS.md): box -> pixels, square of side
// max(w, h) around the box centre, `margin` px added on every side, clipped to the image.
// Start coordinates are floored and end coordinates ceiled, so the crop never loses a
// partially covered pixel.
#include "regionchat/dual_focus_crop.h"

#include <algorithm>
#include <cmath>

namespace rc {

cv::Rect dual_focus_crop_rect(const Box& box, ImageSize size, int margin) {
    const double coords[] = {box.x0, box.y0, box.x1, box.y1};
    for (double v : coords)
        if (!std::isfinite(v)) return {};
    const double x0 = std::min(box.x0, box.x1), x1 = std::max(box.x0, box.x1);
    const double y0 = std::min(box.y0, box.y1), y1 = std::max(box.y0, box.y1);
    if (x1 - x0 <= 0 || y1 - y0 <= 0 || size.width <= 0 || size.height <= 0) return {};

    const double half = std::max(x1 - x0, y1 - y0) / 2 + margin;
    const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    // Clamp in double first: a huge box must not overflow int.
    auto clamp_to = [](double v, int hi) {
        return static_cast<int>(std::clamp(v, 0.0, static_cast<double>(hi)));
    };
    const int left = clamp_to(std::floor(cx - half), size.width);
    const int right = clamp_to(std::ceil(cx + half), size.width);
    const int top = clamp_to(std::floor(cy - half), size.height);
    const int bottom = clamp_to(std::ceil(cy + half), size.height);
    if (right <= left || bottom <= top) return {};
    return {left, top, right - left, bottom - top};
}

cv::Mat dual_focus_crop(const cv::Mat& image, const Box& box, int margin) {
    if (image.empty()) return {};
    const cv::Rect r = dual_focus_crop_rect(box, {image.cols, image.rows}, margin);
    if (r.empty()) return {};
    return image(r).clone();
}

std::string dual_focus_box_prompt(const std::string& question) {
    return "Please provide the bounding box coordinate of the region this question asks: " +
           question;
}

std::string dual_focus_micro_prompt(const std::string& question) {
    return "Please combine the information from these two images and answer this question: " +
           question;
}

const char* const kDualFocusScoreSuffix = "\nAnswer the question using a single word or phrase.";

}  // namespace rc
