#include "regionchat/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"

namespace rc {

namespace {

// The image at o.size x o.size, 8-bit BGR, as the model's processor makes it.
cv::Mat fit_image(const cv::Mat& image, const PreprocessOptions& o) {
    const cv::Mat bgr = as_bgr8(image);  // shares the pixels: nothing below writes to them
    if (o.fit == ImageFit::Pad && o.bicubic_antialias)
        // expand2square, then the resize, without the padded square in memory (243 MB for a
        // 9000x7000 photo).
        return resize_padded_square(bgr, o.mean, o.size);
    const cv::Mat src =
        o.fit == ImageFit::Pad ? expand_to_square(shrink_before_padding(bgr, o.size), o.mean) : bgr;
    const cv::Size target = o.fit == ImageFit::CenterCrop
                                ? shortest_edge_size(src.cols, src.rows, o.size)
                                : cv::Size(o.size, o.size);
    cv::Mat resized;
    if (o.bicubic_antialias) {
        resized = resize_bicubic_antialias(src, target.width, target.height);
    } else if (src.size() == target) {
        resized = src;
    } else {
        const bool shrinking = src.cols > target.width || src.rows > target.height;
        cv::resize(src, resized, target, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_CUBIC);
    }
    if (resized.cols != o.size || resized.rows != o.size)  // transformers' center_crop offsets
        resized = resized(cv::Rect((resized.cols - o.size) / 2, (resized.rows - o.size) / 2,
                                   o.size, o.size));
    return resized;
}

}  // namespace

torch::Tensor preprocess_image(const cv::Mat& image, const PreprocessOptions& o) {
    if (o.size <= 0 || o.size > 4096) throw Error("bad preprocessing size");
    const cv::Mat resized = fit_image(image, o);
    cv::Mat rgb;
    cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);
    cv::Mat f;
    rgb.convertTo(f, CV_32FC3, 1.0 / 255.0);
    // from_blob on the local Mat, then clone: the tensor must own its memory.
    auto t = torch::from_blob(f.data, {o.size, o.size, 3}, torch::kFloat32).clone();
    t = t.permute({2, 0, 1});
    auto mean = torch::tensor({o.mean[0], o.mean[1], o.mean[2]}).view({3, 1, 1});
    auto stdv = torch::tensor({o.std[0], o.std[1], o.std[2]}).view({3, 1, 1});
    return ((t - mean) / stdv).contiguous();
}

}  // namespace rc
