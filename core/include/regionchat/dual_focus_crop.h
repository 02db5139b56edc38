// DualFocus' fixed pieces (../shared/docs/FORMATS.md): the zoom-in crop (square of side
// max(w, h) around the box centre, 25 px added on every side, clipped to the image) and the
// wording of its box and micro passes. OpenCV only; the pipeline is in dual_focus.h.
#pragma once

#include <string>

#include <opencv2/core.hpp>

#include "regionchat/region_format.h"

namespace rc {

/// The crop rectangle in pixels for `box` on an image of `size` (empty rect for an empty box).
cv::Rect dual_focus_crop_rect(const Box& box, ImageSize size, int margin = 25);
/// The cropped pixels (a deep copy); empty Mat when the rect is empty.
cv::Mat dual_focus_crop(const cv::Mat& image, const Box& box, int margin = 25);

/// "Please provide the bounding box coordinate of the region this question asks: {question}"
std::string dual_focus_box_prompt(const std::string& question);
/// "Please combine the information from these two images and answer this question: {question}"
std::string dual_focus_micro_prompt(const std::string& question);
/// Appended to the micro prompt when the two candidate answers are scored.
extern const char* const kDualFocusScoreSuffix;

}  // namespace rc
