// MMVM visual prompts: the query object's contour in cyan; candidates' contours in distinct
// colours with a white numeric id on a filled box at the centroid of the largest contour.
// Follows the published contour_rendering of the CoLVA / MMVM code.
#include <algorithm>
#include <cmath>
#include <string>

#include <opencv2/imgproc.hpp>

#include "regionchat/bench.h"

namespace rc {
namespace bench {

namespace {

const cv::Scalar kQueryColour(255, 255, 0);  // cyan, BGR
const cv::Scalar kTextColour(255, 255, 255);
constexpr int kContourThickness = 2;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Distinct BGR colours, none of them cyan (the query's) or white (the ids').
const std::vector<cv::Scalar>& candidate_palette() {
    static const std::vector<cv::Scalar> palette = {
        {0, 0, 255},   {0, 200, 0}, {255, 0, 0}, {255, 0, 255}, {0, 215, 255}, {0, 128, 255},
        {128, 0, 128}, {0, 100, 0}, {128, 0, 0}, {0, 0, 128},   {128, 128, 0}, {42, 42, 165}};
    return palette;
}

cv::Mat as_bgr(const cv::Mat& image) {
    cv::Mat out;
    if (image.channels() == 1) {
        cv::cvtColor(image, out, cv::COLOR_GRAY2BGR);
    } else if (image.channels() == 4) {
        cv::cvtColor(image, out, cv::COLOR_BGRA2BGR);
    } else {
        out = image.clone();
    }
    return out;
}

std::vector<std::vector<cv::Point>> object_contours(const MmvmObject& object, cv::Size size) {
    cv::Mat mask = mmvm_object_mask(object, size);
    std::vector<std::vector<cv::Point>> contours;
    std::vector<cv::Vec4i> hierarchy;
    cv::findContours(mask, contours, hierarchy, cv::RETR_TREE, cv::CHAIN_APPROX_SIMPLE);
    return contours;
}

struct Label {
    std::string text;
    cv::Scalar colour;
    cv::Point2d centroid;
    int thickness = 1;
};

}  // namespace

cv::Mat mmvm_object_mask(const MmvmObject& object, cv::Size size) {
    cv::Mat count = cv::Mat::zeros(size, CV_8U);
    if (size.width <= 0 || size.height <= 0) return count;
    const double sx = object.width > 0 ? double(size.width) / object.width : 1.0;
    const double sy = object.height > 0 ? double(size.height) / object.height : 1.0;
    for (const auto& polygon : object.polygons) {
        std::vector<cv::Point> pts;
        pts.reserve(polygon.size());
        // Clamped so hostile coordinates cannot overflow the integer conversion.
        auto px = [](double v) { return int(std::lround(std::clamp(v, -1e6, 1e6))); };
        for (const cv::Point2f& p : polygon) pts.emplace_back(px(p.x * sx), px(p.y * sy));
        cv::Mat one = cv::Mat::zeros(size, CV_8U);
        cv::fillPoly(one, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(1));
        count += one;
    }
    // polygons_to_bitmask: where two or more polygons overlap the pixel is cleared.
    cv::Mat mask = count == 1;
    return mask;
}

cv::Mat draw_mmvm_prompt(const cv::Mat& image, const std::vector<MmvmObject>& objects, bool query,
                         const std::vector<cv::Scalar>& colours) {
    if (image.empty()) return cv::Mat();
    cv::Mat out = as_bgr(image);

    if (query) {
        for (const MmvmObject& object : objects) {
            const auto contours = object_contours(object, out.size());
            if (!contours.empty())
                cv::drawContours(out, contours, -1, kQueryColour, kContourThickness);
        }
        return out;
    }

    const auto& palette = candidate_palette();
    std::vector<Label> labels;
    double font_scale = 10.0;
    for (size_t k = 0; k < objects.size(); ++k) {
        const MmvmObject& object = objects[k];
        const auto contours = object_contours(object, out.size());
        if (contours.empty()) continue;
        Label label;
        label.colour = k < colours.size() ? colours[k] : palette[k % palette.size()];
        label.text = std::to_string(object.id >= 0 ? object.id : int(k) + 1);
        cv::drawContours(out, contours, -1, label.colour, kContourThickness);

        size_t largest = 0;
        double largest_area = -1;
        for (size_t c = 0; c < contours.size(); ++c) {
            const double area = cv::contourArea(contours[c]);
            if (area > largest_area) {
                largest_area = area;
                largest = c;
            }
        }
        const cv::Rect box = cv::boundingRect(contours[largest]);
        const cv::Moments m = cv::moments(contours[largest]);
        label.centroid = m.m00 > 0 ? cv::Point2d(m.m10 / m.m00, m.m01 / m.m00)
                                   : cv::Point2d(box.x + box.width / 2.0, box.y + box.height / 2.0);
        label.thickness = std::max(box.width, box.height) < 25 ? 1 : 2;

        // The largest scale whose text stays within 15% of the contour's box, else 0.5.
        double scale = 0.5;
        for (int s = 59; s >= 5; --s) {
            int baseline = 0;
            const cv::Size t =
                cv::getTextSize(label.text, kFont, s / 10.0, label.thickness, &baseline);
            if (t.height <= 0.15 * box.height && t.width <= 0.15 * box.width) {
                scale = s / 10.0;
                break;
            }
        }
        // One scale for all ids, so no candidate's id looks more prominent.
        font_scale = std::min(font_scale, scale);
        labels.push_back(std::move(label));
    }

    for (const Label& label : labels) {
        int bottom = 0;
        const cv::Size t = cv::getTextSize(label.text, kFont, font_scale, label.thickness, &bottom);
        const cv::Point origin(int(label.centroid.x - t.width / 2.0),
                               int(label.centroid.y + (t.height + bottom) / 2.0));
        cv::rectangle(out, cv::Point(origin.x, int(origin.y - t.height - bottom / 2.0)),
                      cv::Point(origin.x + t.width, int(origin.y + bottom / 2.0)), label.colour,
                      cv::FILLED);
        cv::putText(out, label.text, origin, kFont, font_scale, kTextColour, label.thickness);
    }
    return out;
}

}  // namespace bench
}  // namespace rc
