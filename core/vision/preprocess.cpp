#include "regionchat/preprocess.h"

#include <algorithm>
#include <cstring>

#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"

namespace rc {

cv::Mat expand_to_square(const cv::Mat& bgr, const std::array<float, 3>& fill_rgb01) {
    const int w = bgr.cols, h = bgr.rows;
    if (w == h) return bgr.clone();
    const int side = std::max(w, h);
    // LLaVA fills with tuple(int(x * 255) for x in image_mean): truncation, not rounding.
    cv::Scalar fill(static_cast<int>(fill_rgb01[2] * 255), static_cast<int>(fill_rgb01[1] * 255),
                    static_cast<int>(fill_rgb01[0] * 255));
    cv::Mat out(side, side, bgr.type(), fill);
    bgr.copyTo(out(cv::Rect((side - w) / 2, (side - h) / 2, w, h)));
    return out;
}

cv::Mat resize_bicubic_antialias(const cv::Mat& bgr, int size) {
    if (bgr.empty() || bgr.type() != CV_8UC3) throw Error("expected an 8-bit BGR image");
    if (bgr.cols == size && bgr.rows == size) return bgr.clone();
    cv::Mat src = bgr;
    // Exact to PIL up to 16 Mpx (a 192 MB float copy); a larger image is first averaged down
    // to 4 x size per side so its float copy stays small (the bicubic filter after it still
    // decides most of the result, but it is no longer PIL's to the last level).
    if (double(src.cols) * src.rows > 16e6 && (src.cols > 4 * size || src.rows > 4 * size))
        cv::resize(src, src, cv::Size(std::min(src.cols, 4 * size), std::min(src.rows, 4 * size)),
                   0, 0, cv::INTER_AREA);
    namespace F = torch::nn::functional;
    const int64_t row = int64_t(src.step[0]);
    auto t = torch::from_blob(src.data, {1, src.rows, src.cols, 3}, {row * src.rows, row, 3, 1},
                              torch::kUInt8)
                 .permute({0, 3, 1, 2})
                 .to(torch::kFloat32);
    // As PIL: the horizontal pass, rounded to 8 bits, then the vertical pass.
    auto pass = [&](const torch::Tensor& in, int64_t h, int64_t w) {
        return F::interpolate(in, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{h, w})
                                      .mode(torch::kBicubic)
                                      .align_corners(false)
                                      .antialias(true))
            .round()
            .clamp(0, 255);
    };
    if (src.cols != size) t = pass(t, src.rows, size);
    if (src.rows != size) t = pass(t, size, size);
    t = t.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
    cv::Mat out(size, size, CV_8UC3);
    std::memcpy(out.data, t.data_ptr<uint8_t>(), size_t(size) * size * 3);
    return out;
}

torch::Tensor preprocess_image(const cv::Mat& image, const PreprocessOptions& o) {
    if (o.size <= 0 || o.size > 4096) throw Error("bad preprocessing size");
    cv::Mat bgr = to_bgr8(image);
    if (o.pad_to_square) bgr = expand_to_square(bgr, o.mean);
    cv::Mat resized;
    if (o.bicubic_antialias) {
        resized = resize_bicubic_antialias(bgr, o.size);
    } else {
        const bool shrinking = bgr.cols > o.size || bgr.rows > o.size;
        cv::resize(bgr, resized, cv::Size(o.size, o.size), 0, 0,
                   shrinking ? cv::INTER_AREA : cv::INTER_CUBIC);
    }
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
