// Regions as RegionVLM's point prompts (docs/regionvlm-layout.md §5).
#include "regionchat/point_prompt.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace rc {

namespace {

int percent(double v, int side) {
    if (side <= 0) return 0;
    const double p = std::trunc(v / side * 100.0);  // numpy's astype(int) truncates toward zero
    return int(std::clamp(p, 0.0, 99.0));
}

// The pixels to sample from: the mask's non-zero pixels, else the box's, row-major as
// np.argwhere lists them. Counted first, so a huge region is sampled without listing it.
struct PixelSet {
    const cv::Mat* mask = nullptr;
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // the box, clipped (mask: its bounds)
};

}  // namespace

std::string point_prompt_string(const std::vector<Point>& pixels, ImageSize size) {
    std::string s;
    for (const Point& p : pixels) {
        if (!s.empty()) s += ' ';
        s += '[' + std::to_string(percent(p.x, size.width)) + ' ' +
             std::to_string(percent(p.y, size.height)) + ']';
    }
    return s;
}

std::vector<Point> resample_stroke(const std::vector<Point>& stroke, int count, uint32_t seed) {
    if (stroke.empty() || count <= 0) return {};
    std::vector<Point> pts = stroke;
    if (int(pts.size()) < count) {  // select_point: int((len-1)/(k-1)*(j-1)), j = 1..k
        std::vector<Point> up;
        const double step = count > 1 ? double(pts.size() - 1) / double(count - 1) : 0.0;
        for (int j = 0; j < count; ++j) up.push_back(pts[size_t(int(step * j))]);
        pts = std::move(up);
    }
    std::vector<size_t> idx(pts.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::mt19937 rng(seed);
    // The first `count` of a seeded shuffle, sorted back into stroke order.
    for (int i = 0; i < count; ++i) {
        std::uniform_int_distribution<size_t> pick(size_t(i), idx.size() - 1);
        std::swap(idx[size_t(i)], idx[pick(rng)]);
    }
    idx.resize(size_t(count));
    std::sort(idx.begin(), idx.end());
    std::vector<Point> out;
    for (size_t i : idx) out.push_back(pts[i]);
    return out;
}

std::vector<Point> region_prompt_points(const RegionInput& region, ImageSize size,
                                        uint32_t seed, int count) {
    if (count <= 0) return {};
    if (!region.points.empty()) {
        if (region.scribble) return resample_stroke(region.points, count, seed);
        std::vector<Point> out(region.points.begin(),
                               region.points.begin() + std::min<size_t>(region.points.size(), size_t(count)));
        return out;
    }
    PixelSet set;
    const bool use_mask = !region.mask.empty() && region.mask.type() == CV_8UC1 &&
                          region.mask.cols == size.width && region.mask.rows == size.height;
    const Box b = region.box.normalized().clipped(size.width, size.height);
    set.x0 = int(std::floor(b.x0));
    set.y0 = int(std::floor(b.y0));
    set.x1 = int(std::ceil(b.x1));
    set.y1 = int(std::ceil(b.y1));
    if (use_mask) {
        set.mask = &region.mask;
        set.x0 = 0;
        set.y0 = 0;
        set.x1 = size.width;
        set.y1 = size.height;
    }
    auto inside = [&](int x, int y) { return !set.mask || set.mask->at<uint8_t>(y, x) != 0; };
    uint64_t total = 0;
    for (int y = set.y0; y < set.y1; ++y)
        for (int x = set.x0; x < set.x1; ++x) total += inside(x, y);
    if (total == 0) return {};
    // A partial Fisher-Yates shuffle of the pixel indices [0, total): only the swapped slots are
    // stored, so a mask of millions of pixels costs `count` entries, not millions.
    std::mt19937_64 rng(seed);
    std::vector<std::pair<uint64_t, uint64_t>> swapped;  // slot -> value where they differ
    auto value_at = [&](uint64_t slot) {
        for (const auto& s : swapped)
            if (s.first == slot) return s.second;
        return slot;
    };
    auto set_at = [&](uint64_t slot, uint64_t v) {
        for (auto& s : swapped)
            if (s.first == slot) {
                s.second = v;
                return;
            }
        swapped.emplace_back(slot, v);
    };
    const uint64_t n = std::min<uint64_t>(total, uint64_t(count));
    std::vector<uint64_t> chosen;
    for (uint64_t i = 0; i < n; ++i) {
        std::uniform_int_distribution<uint64_t> pick(i, total - 1);
        const uint64_t j = pick(rng);
        const uint64_t vi = value_at(i), vj = value_at(j);
        set_at(i, vj);
        set_at(j, vi);
        chosen.push_back(vj);
    }
    // Index -> pixel: walk the region once more in np.argwhere's row-major order.
    std::vector<std::pair<uint64_t, size_t>> order;
    for (size_t k = 0; k < chosen.size(); ++k) order.emplace_back(chosen[k], k);
    std::sort(order.begin(), order.end());
    std::vector<Point> out(chosen.size());
    uint64_t at = 0;
    size_t next = 0;
    for (int y = set.y0; y < set.y1 && next < order.size(); ++y)
        for (int x = set.x0; x < set.x1 && next < order.size(); ++x) {
            if (!inside(x, y)) continue;
            while (next < order.size() && order[next].first == at) {
                out[order[next].second] = Point{double(x), double(y)};
                ++next;
            }
            ++at;
        }
    return out;
}

}  // namespace rc
