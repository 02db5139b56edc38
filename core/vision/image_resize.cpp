// Image geometry without LibTorch: LLaVA's expand2square, CLIP's shortest-edge size and
// Pillow's bicubic resize, shared by the model input path (preprocess.cpp) and the remote
// backend's client-side resize (remote/remote_backend.cpp).
#include "regionchat/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"

namespace rc {

namespace {

// LLaVA fills with tuple(int(x * 255) for x in image_mean): truncation, not rounding.
cv::Scalar pad_colour(const std::array<float, 3>& fill_rgb01) {
    return cv::Scalar(static_cast<int>(fill_rgb01[2] * 255), static_cast<int>(fill_rgb01[1] * 255),
                      static_cast<int>(fill_rgb01[0] * 255));
}

}  // namespace

cv::Mat solid_image(int rows, int cols, int type, const cv::Scalar& colour) {
    cv::Mat out(rows, cols, type);
    out.setTo(colour);
    return out;
}

cv::Mat expand_to_square(const cv::Mat& bgr, const std::array<float, 3>& fill_rgb01) {
    const int w = bgr.cols, h = bgr.rows;
    if (w == h) return bgr.clone();
    const int side = std::max(w, h);
    cv::Mat out = solid_image(side, side, bgr.type(), pad_colour(fill_rgb01));
    bgr.copyTo(out(cv::Rect((side - w) / 2, (side - h) / 2, w, h)));
    return out;
}

cv::Size shortest_edge_size(int width, int height, int side) {
    if (width <= 0 || height <= 0 || side <= 0) throw Error("bad image or target size");
    const int shortest = std::min(width, height), longest = std::max(width, height);
    // Python's int(side * long / short): a double division, truncated.
    const int other = static_cast<int>(double(side) * longest / shortest);
    return width <= height ? cv::Size(side, other) : cv::Size(other, side);
}

namespace {

// Pillow's resampling (libImaging/Resample.c) for 8-bit images, to the last bit: coefficients
// in double, normalised per output pixel, turned into 22-bit fixed point; each pass rounds
// and clamps to 8 bits; horizontal pass first.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic_filter(double x) {  // a = -0.5, support 2
    constexpr double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

struct PilCoeffs {
    int ksize = 0;
    std::vector<int> bounds;  // per output pixel: first input pixel, count
    std::vector<int32_t> k;   // ksize per output pixel
};

PilCoeffs pil_coeffs(int in_size, int out_size) {
    PilCoeffs c;
    const double scale = double(in_size) / out_size;
    const double filterscale = std::max(scale, 1.0);
    const double support = 2.0 * filterscale;
    c.ksize = int(std::ceil(support)) * 2 + 1;
    c.bounds.resize(size_t(out_size) * 2);
    c.k.assign(size_t(out_size) * c.ksize, 0);
    std::vector<double> k(size_t(c.ksize));
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        int xmin = int(center - support + 0.5);  // C's truncating cast, as Pillow
        if (xmin < 0) xmin = 0;
        int xmax = int(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            k[size_t(x)] = bicubic_filter((x + xmin - center + 0.5) * ss);
            ww += k[size_t(x)];
        }
        for (int x = 0; x < xmax; ++x) {
            const double v = ww != 0.0 ? k[size_t(x)] / ww : k[size_t(x)];
            c.k[size_t(xx) * c.ksize + x] =
                v < 0 ? int(-0.5 + v * (1 << kPrecisionBits)) : int(0.5 + v * (1 << kPrecisionBits));
        }
        c.bounds[size_t(xx) * 2] = xmin;
        c.bounds[size_t(xx) * 2 + 1] = xmax;
    }
    return c;
}

inline uint8_t pil_clip8(int32_t ss) {
    const int32_t v = ss >> kPrecisionBits;  // arithmetic shift: floor
    return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

// acc[j] += line[j] * k for j < m (restrict parameters: bytes may alias anything otherwise,
// and the loop would not vectorise).
inline void pil_mac(int32_t* __restrict acc, const uint8_t* __restrict line, int32_t k, int m) {
    for (int j = 0; j < m; ++j) acc[j] += int32_t(line[j]) * k;
}

// Pillow's sums for whole lines at once: out[j] = clip8(half + sum_t lines[t][j] * k[t]) for
// j < n. Integer sums, so the order does not matter and the result is Pillow's to the bit; the
// loop over j vectorises (AVX2 where the CPU has it, chosen at load by the compiler's
// target_clones).
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default"), optimize("no-loop-unroll-and-jam")))
#endif
void pil_lines(const uint8_t* const* lines, const int32_t* k, int taps, int n, uint8_t* out) {
    constexpr int kBlock = 1024;
    int32_t acc[kBlock];
    for (int j0 = 0; j0 < n; j0 += kBlock) {
        const int m = std::min(kBlock, n - j0);
        std::fill(acc, acc + m, int32_t(1) << (kPrecisionBits - 1));
        for (int t = 0; t < taps; ++t) pil_mac(acc, lines[t] + j0, k[t], m);
        for (int j = 0; j < m; ++j) out[j0 + j] = pil_clip8(acc[j]);
    }
}

// The pass along y: each output row from `taps` whole input rows.
cv::Mat pil_vertical(const cv::Mat& in, int out_size) {
    const PilCoeffs c = pil_coeffs(in.rows, out_size);
    cv::Mat out(out_size, in.cols, CV_8UC3);
    std::vector<const uint8_t*> lines(size_t(c.ksize));
    for (int y = 0; y < out_size; ++y) {
        const int ymin = c.bounds[size_t(y) * 2], taps = c.bounds[size_t(y) * 2 + 1];
        for (int t = 0; t < taps; ++t) lines[size_t(t)] = in.ptr<uint8_t>(ymin + t);
        pil_lines(lines.data(), &c.k[size_t(y) * c.ksize], taps, in.cols * 3, out.ptr<uint8_t>(y));
    }
    return out;
}

// The pass along x, strip by strip: a strip of rows transposed, so that the taps along x are
// whole lines for pil_lines, and its result transposed back into `out` from row `row0`. Memory:
// a strip of kStrip rows, not a transposed copy of the image.
class PilHorizontal {
public:
    static constexpr int kStrip = 64;
    PilHorizontal(int in_size, int out_size)
        : c_(pil_coeffs(in_size, out_size)), out_size_(out_size), lines_(size_t(c_.ksize)) {}

    // `strip`: at most kStrip rows of in_size pixels; `out`: out_size pixels a row.
    void run(const cv::Mat& strip, cv::Mat& out, int row0) {
        const int n = strip.rows;
        cv::transpose(strip, t_);  // in_size x n
        if (o_.rows != out_size_ || o_.cols != n) o_.create(out_size_, n, CV_8UC3);
        for (int x = 0; x < out_size_; ++x) {
            const int xmin = c_.bounds[size_t(x) * 2], taps = c_.bounds[size_t(x) * 2 + 1];
            for (int t = 0; t < taps; ++t) lines_[size_t(t)] = t_.ptr<uint8_t>(xmin + t);
            pil_lines(lines_.data(), &c_.k[size_t(x) * c_.ksize], taps, n * 3, o_.ptr<uint8_t>(x));
        }
        cv::Mat dst = out.rowRange(row0, row0 + n);
        cv::transpose(o_, dst);
    }

private:
    PilCoeffs c_;
    int out_size_;
    std::vector<const uint8_t*> lines_;
    cv::Mat t_, o_;
};

cv::Mat pil_horizontal(const cv::Mat& in, int out_size) {
    cv::Mat out(in.rows, out_size, CV_8UC3);
    PilHorizontal pass(in.cols, out_size);
    for (int y = 0; y < in.rows; y += PilHorizontal::kStrip)
        pass.run(in.rowRange(y, std::min(in.rows, y + PilHorizontal::kStrip)), out, y);
    return out;
}

// Pillow averages nothing down first; above this many pixels RegionChat does (INTER_AREA to 4
// x the target per side) so the filter's taps stay few.
constexpr double kExactPixels = 16e6;

}  // namespace

cv::Mat resize_bicubic_antialias(const cv::Mat& bgr, int width, int height) {
    if (bgr.empty() || bgr.type() != CV_8UC3) throw Error("expected an 8-bit BGR image");
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
        throw Error("bad resize target " + std::to_string(width) + "x" + std::to_string(height));
    if (bgr.cols == width && bgr.rows == height) return bgr.clone();
    cv::Mat src = bgr;
    // Exact to Pillow up to 16 Mpx; a larger image is first averaged down to 4 x the target per
    // side, so the filter's taps stay few (the bicubic pass after it still decides most of the
    // result, but it is no longer Pillow's to the last level).
    if (double(src.cols) * src.rows > kExactPixels && (src.cols > 4 * width || src.rows > 4 * height))
        cv::resize(src, src,
                   cv::Size(std::min(src.cols, 4 * width), std::min(src.rows, 4 * height)), 0, 0,
                   cv::INTER_AREA);
    if (src.cols != width) src = pil_horizontal(src, width);
    if (src.rows != height) src = pil_vertical(src, height);
    return src.data == bgr.data ? src.clone() : src;
}

cv::Mat shrink_before_padding(const cv::Mat& bgr, int size) {
    const int w = bgr.cols, h = bgr.rows, side = std::max(w, h);
    if (!(double(side) * side > kExactPixels && side > 4 * size)) return bgr;
    const double f = 4.0 * size / side;
    const cv::Size target(std::max(1, int(std::lround(w * f))), std::max(1, int(std::lround(h * f))));
    // OpenCV's area resize is several times faster at a whole factor: averaged k x k first
    // (the last w % k columns and h % k rows, under k pixels of thousands, left out), then
    // the fractional rest.
    const int k = int(1.0 / f);
    cv::Mat src = bgr, small;
    if (k >= 2 && w / k >= target.width && h / k >= target.height) {
        cv::resize(bgr(cv::Rect(0, 0, w / k * k, h / k * k)), src, cv::Size(w / k, h / k), 0, 0,
                   cv::INTER_AREA);
    }
    cv::resize(src, small, target, 0, 0, cv::INTER_AREA);
    return small;
}

cv::Mat resize_padded_square(const cv::Mat& bgr, const std::array<float, 3>& fill_rgb01,
                             int size) {
    if (bgr.empty() || bgr.type() != CV_8UC3) throw Error("expected an 8-bit BGR image");
    if (size <= 0 || size > 16384) throw Error("bad resize target " + std::to_string(size));
    const int w = bgr.cols, h = bgr.rows, side = std::max(w, h);
    if (w == h) return resize_bicubic_antialias(bgr, size, size);
    if (double(side) * side > kExactPixels && side > 4 * size)
        // resize_bicubic_antialias's approximate path, taken on the content alone: averaged
        // down, then padded (a small square now) and resized exactly.
        return resize_bicubic_antialias(
            expand_to_square(shrink_before_padding(bgr, size), fill_rgb01), size, size);
    const cv::Scalar fill = pad_colour(fill_rgb01);
    // The horizontal pass over the side x side square: side rows of `size` pixels.
    cv::Mat across(side, size, CV_8UC3);
    PilHorizontal pass(side, size);
    if (w > h) {
        // Padding above and below: those rows are the fill colour, all alike after the pass.
        const int top = (side - h) / 2;
        cv::Mat fill_row(1, size, CV_8UC3);
        pass.run(solid_image(1, side, CV_8UC3, fill), fill_row, 0);
        for (int y = 0; y < side; ++y)
            if (y < top || y >= top + h) fill_row.copyTo(across.row(y));
        for (int y = 0; y < h; y += PilHorizontal::kStrip)
            pass.run(bgr.rowRange(y, std::min(h, y + PilHorizontal::kStrip)), across, top + y);
    } else {
        // Padding left and right: each strip of rows goes through one padded strip buffer.
        const int left = (side - w) / 2;
        cv::Mat strip = solid_image(PilHorizontal::kStrip, side, CV_8UC3, fill);
        for (int y = 0; y < h; y += PilHorizontal::kStrip) {
            const int n = std::min(h - y, PilHorizontal::kStrip);
            cv::Mat rows = strip.rowRange(0, n);
            bgr.rowRange(y, y + n).copyTo(rows.colRange(left, left + w));
            pass.run(rows, across, y);
        }
    }
    return pil_vertical(across, size);
}

}  // namespace rc
