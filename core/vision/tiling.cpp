// InternVL's dynamic tiling (regionchat/tiling.h).
#include "regionchat/tiling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "regionchat/error.h"
#include "regionchat/image_resize.h"

namespace rc {

TileGrid internvl_tile_grid(int width, int height, int max_num, int min_num, int tile) {
    if (width <= 0 || height <= 0) throw Error("an empty image has no tiles");
    if (max_num < 1 || min_num < 1 || min_num > max_num || tile < 1)
        throw Error("bad tiling limits");
    // Every (i, j) with min_num <= i*j <= max_num, ordered by area (Python's sorted is stable;
    // ties in area never tie in aspect ratio, so their order does not matter).
    std::vector<std::pair<int, int>> ratios;
    for (int i = 1; i <= max_num; ++i)
        for (int j = 1; j <= max_num; ++j)
            if (i * j >= min_num && i * j <= max_num) ratios.emplace_back(i, j);
    std::stable_sort(ratios.begin(), ratios.end(), [](const auto& a, const auto& b) {
        return a.first * a.second < b.first * b.second;
    });
    const double aspect = double(width) / double(height);
    const double area = double(width) * double(height);
    double best_diff = std::numeric_limits<double>::infinity();
    std::pair<int, int> best{1, 1};
    for (const auto& r : ratios) {
        const double diff = std::abs(aspect - double(r.first) / double(r.second));
        if (diff < best_diff) {
            best_diff = diff;
            best = r;
        } else if (diff == best_diff && area > 0.5 * tile * tile * r.first * r.second) {
            best = r;
        }
    }
    return {best.first, best.second};
}

std::vector<cv::Mat> internvl_tiles(const cv::Mat& bgr, int max_num, bool thumbnail, int tile) {
    if (bgr.empty() || bgr.type() != CV_8UC3) throw Error("tiling takes an 8-bit BGR image");
    const TileGrid g = internvl_tile_grid(bgr.cols, bgr.rows, max_num, 1, tile);
    const cv::Mat resized = resize_bicubic_antialias(bgr, g.cols * tile, g.rows * tile);
    std::vector<cv::Mat> tiles;
    for (int i = 0; i < g.count(); ++i)
        tiles.push_back(resized(cv::Rect((i % g.cols) * tile, (i / g.cols) * tile, tile, tile)).clone());
    if (thumbnail && tiles.size() != 1) tiles.push_back(resize_bicubic_antialias(bgr, tile, tile));
    return tiles;
}

}  // namespace rc
