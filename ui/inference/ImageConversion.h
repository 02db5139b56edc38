// QImage <-> cv::Mat (BGR, 8-bit) conversions at the GUI/core boundary. Both directions copy the
// pixels, so the result never points into memory owned by the other side.
#pragma once

#include <QImage>
#include <QSize>

#include <QList>
#include <vector>

#include <opencv2/core.hpp>

#include "document/Region.h"
#include "regionchat/backend.h"

namespace rcui {

/// Document regions as core's region data (box, clicked points, mask, colour); the backend
/// writes them in its model's format or draws them.
std::vector<rc::RegionInput> toRegionInputs(const QList<Region>& regions);

/// An image pair's request (ImageDocument::ImagePair): the side-by-side canvas, images[0], cut
/// back into its two images (first at x 0, second at x `split`, both top-aligned), each region
/// moved to the image its box's centre is on (box, points and mask in that image's pixels),
/// and "Image-1: <image>\nImage-2: <image>\n" in front of a question without <image>
/// markers. Requests without a canvas image are returned as they are.
rc::ChatRequest splitImagePair(rc::ChatRequest request, int split, QSize first, QSize second);

/// Any QImage format -> 8-bit BGR cv::Mat (deep copy); an empty Mat for a null image.
cv::Mat toBgrMat(const QImage& image);
/// 8-bit BGR, BGRA or grey cv::Mat -> QImage RGB888 (deep copy); a null QImage when empty.
QImage toQImage(const cv::Mat& bgr);

/// A CV_8U mask (non-zero inside) -> QImage Format_Grayscale8 (deep copy); null when empty.
QImage toMaskImage(const cv::Mat& mask);
/// A mask QImage (any format; converted to Grayscale8) -> CV_8U cv::Mat (deep copy).
cv::Mat toMaskMat(const QImage& mask);

}  // namespace rcui
