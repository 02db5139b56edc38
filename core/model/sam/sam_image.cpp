#include "model/sam/sam_image.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"

namespace rc::sam {

namespace F = torch::nn::functional;

cv::Size resized_size(cv::Size size, int image_size) {
    const double scale = double(image_size) / std::max(size.width, size.height);
    return {std::max(1, int(size.width * scale + 0.5)),
            std::max(1, int(size.height * scale + 0.5))};
}

torch::Tensor preprocess(const cv::Mat& bgr, int image_size) {
    if (bgr.empty() || bgr.type() != CV_8UC3) throw Error("SAM: expected an 8-bit BGR image");
    const int S = image_size;
    const cv::Size out = resized_size(bgr.size(), S);
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    // A huge photo is first averaged down to 4 x S so its float copy below stays small; the
    // filter after it still decides the result.
    if (std::max(rgb.cols, rgb.rows) > 4 * S)
        cv::resize(rgb, rgb, resized_size(rgb.size(), 4 * S), 0, 0, cv::INTER_AREA);
    // from_blob only views rgb, which outlives the copy that .to() makes.
    auto t = torch::from_blob(rgb.data, {1, rgb.rows, rgb.cols, 3}, torch::kUInt8)
                 .permute({0, 3, 1, 2})
                 .to(torch::kFloat32);
    if (rgb.size() != out) {
        t = F::interpolate(t, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{out.height, out.width})
                                  .mode(torch::kBilinear)
                                  .align_corners(false)
                                  .antialias(true));
        t = t.round().clamp(0, 255);  // PIL resizes 8-bit images to 8 bits
    }
    const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
    const auto stdv = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
    t = (t / 255.0 - mean) / stdv;
    return F::pad(t, F::PadFuncOptions({0, S - out.width, 0, S - out.height})).contiguous();
}

std::vector<cv::Mat> masks_from_logits(const torch::Tensor& logits, int image_size,
                                       cv::Size resized, cv::Size original) {
    const int64_t S = image_size;
    // A few S x S planes at a time (4 MiB each at S = 1024): small temporaries are reused.
    const int64_t chunk = std::max<int64_t>(1, (int64_t(8) << 20) / (S * S * 4));
    std::vector<cv::Mat> out;
    out.reserve(size_t(logits.size(0)));
    for (int64_t start = 0; start < logits.size(0); start += chunk) {
        const auto part = logits.slice(0, start, std::min(start + chunk, logits.size(0)))
                              .unsqueeze(1)
                              .to(torch::kFloat32);
        auto up = F::interpolate(part, F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{S, S})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
        up = up.slice(2, 0, resized.height).slice(3, 0, resized.width);
        up = F::interpolate(up, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{original.height, original.width})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
        const auto bin =
            (up.squeeze(1) > 0).to(torch::kUInt8).mul(255).to(torch::kCPU).contiguous();
        for (int64_t i = 0; i < bin.size(0); ++i) {
            cv::Mat m(original, CV_8UC1);
            std::memcpy(m.data, bin[i].data_ptr<uint8_t>(), m.total());
            out.push_back(m);
        }
    }
    return out;
}

torch::Tensor stability_scores(const torch::Tensor& logits, double offset) {
    const auto inner = (logits > offset).sum({1, 2}).to(torch::kFloat32);
    const auto outer = (logits > -offset).sum({1, 2}).to(torch::kFloat32);
    return (inner / outer.clamp_min(1)).to(torch::kCPU);
}

std::vector<cv::Point2f> point_grid(int n, cv::Size size) {
    std::vector<cv::Point2f> grid;
    grid.reserve(size_t(n) * size_t(n));
    for (int gy = 0; gy < n; ++gy)
        for (int gx = 0; gx < n; ++gx)
            grid.emplace_back(float((gx + 0.5) / n * size.width),
                              float((gy + 0.5) / n * size.height));
    return grid;
}

}  // namespace rc::sam
