// The DualFocus zoom-in crop (../shared/docs/FORMATS.md): square of side max(w, h) around the
// box centre, 25 px added on every side, clipped to the image, cropped.
#pragma once

#include <opencv2/core.hpp>

#include "regionchat/region_format.h"

namespace rc {

/// The crop rectangle in pixels for `box` on an image of `size` (empty rect for an empty box).
cv::Rect dual_focus_crop_rect(const Box& box, ImageSize size, int margin = 25);
/// The cropped pixels (a deep copy); empty Mat when the rect is empty.
cv::Mat dual_focus_crop(const cv::Mat& image, const Box& box, int margin = 25);

}  // namespace rc
