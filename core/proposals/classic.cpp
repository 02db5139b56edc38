// The classic proposal generator: no weights, OpenCV only. Graph segmentation at a few
// scales on a lightly blurred Lab image (working resolution), then selective-search style
// grouping of adjacent segments with similar colour so objects split in parts come back
// whole. Every segment and every group is a candidate, scored by how strong its outline is
// (mean colour step across its boundary), how clean its inside is, its size, shape and how
// much of the image border it touches; candidates are box-NMSed, ranked and upsampled to
// full-size masks.
//
// The grouping is ours, not OpenCV's cv::ximgproc::segmentation selective search, because ours
// measurably wins (tools/proposals-bench, README "Region proposals: ours vs OpenCV
// ximgproc"): OpenCV's gives boxes only (no masks; the bench rebuilds masks from our segments),
// ranks them with rand() (not deterministic), and takes 0.9-1.3 s per image in its fast mode
// against our 43-93 ms, for the same recall in all proposals (1.000) and no better top-10
// recall beyond one object in 74; its single-strategy mode takes 163-192 ms and loses recall
// (top 10: 0.914 vs 1.000 on synthetic scenes; all: 0.986 vs 1.000 on photo-like ones).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "classic_stages.h"
#include "graph_segmentation.h"
#include "regionchat/error.h"
#include "regionchat/proposals.h"

namespace rc {

namespace {

constexpr double kWorkPixels = 384 * 288;  // bigger images are segmented downscaled
constexpr double kBlurSigma = 0.8;
// Graph segmentation scales (k) in Lab units: fine, medium and coarse segments.
const std::vector<double> kScales{60, 180, 500};
constexpr int kBinsPerChannel = 25;  // colour histogram, as in selective search
constexpr int kHistSize = 3 * kBinsPerChannel;
constexpr double kMaxAreaFraction = 0.9;  // larger regions are the background

struct Boundary {
    double count = 0;  // 4-connected pixel pairs across it
    double step = 0;   // sum of the Lab colour distance across each pair
    void add(const Boundary& o) { count += o.count, step += o.step; }
};

struct Region {
    int area = 0;
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;   // inclusive, working pixels
    int border = 0;                       // pixels on the image's edge
    std::array<float, kHistSize> hist{};  // L1-normalised per channel
    Boundary inner;                       // boundaries between the parts merged into it
    int left = -1, right = -1;            // merged parts; -1 for a segment
    std::map<int, Boundary> neighbours;   // ordered: determinism
    bool alive = true;
};

struct Candidate {
    int segmentation = 0;
    int region = 0;            // in the segmentation's hierarchy, when `members` is empty
    std::vector<int> members;  // segment ids, for a group from ClassicStages::groups
    float score = 0;
    Box box;  // full-resolution pixels (approximate, for NMS before masks exist)
};

// The working image and what all segmentations share.
struct WorkImage {
    cv::Mat bgr;            // CV_8UC3, working size
    cv::Mat lab;            // CV_32FC3, blurred
    double sx = 1, sy = 1;  // working / full size
    double step_ref = 0;    // mean colour step between 4-neighbours
};

class Progress {
public:
    explicit Progress(const std::function<bool(float)>& fn) : fn_(fn) {}
    void report(float value) {
        last_ = std::max(last_, std::clamp(value, 0.f, 1.f));
        if (fn_ && !fn_(last_)) throw Error("cancelled");
    }

private:
    const std::function<bool(float)>& fn_;
    float last_ = 0;
};

cv::Mat to_bgr8(const cv::Mat& image) {
    if (image.empty()) throw Error("proposals: empty image");
    if (image.depth() != CV_8U) throw Error("proposals: expected an 8-bit image");
    cv::Mat bgr;
    switch (image.channels()) {
        case 1:
            cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
            return bgr;
        case 3:
            return image;
        case 4:
            cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
            return bgr;
        default:
            throw Error("proposals: expected a gray, BGR or BGRA image");
    }
}

WorkImage make_work_image(const cv::Mat& bgr) {
    WorkImage w;
    const double scale = std::min(1.0, std::sqrt(kWorkPixels / (double(bgr.cols) * bgr.rows)));
    cv::Mat small = bgr;
    if (scale < 1.0) {
        const cv::Size size(std::max(1, cvRound(bgr.cols * scale)),
                            std::max(1, cvRound(bgr.rows * scale)));
        cv::resize(bgr, small, size, 0, 0, cv::INTER_AREA);
    }
    w.bgr = small;
    w.sx = double(small.cols) / bgr.cols;
    w.sy = double(small.rows) / bgr.rows;
    cv::Mat f;
    small.convertTo(f, CV_32FC3, 1.0 / 255.0);
    cv::cvtColor(f, w.lab, cv::COLOR_BGR2Lab);
    cv::GaussianBlur(w.lab, w.lab, cv::Size(0, 0), kBlurSigma);
    // Typical colour step between neighbouring pixels (noise and texture level).
    const cv::Rect inner(0, 0, w.lab.cols - 1, w.lab.rows - 1);
    if (!inner.empty()) {
        cv::Mat right = w.lab(inner + cv::Point(1, 0)) - w.lab(inner);
        cv::Mat down = w.lab(inner + cv::Point(0, 1)) - w.lab(inner);
        cv::Mat step = right.mul(right), down_step = down.mul(down);
        cv::transform(step, step, cv::Matx13f(1, 1, 1));
        cv::transform(down_step, down_step, cv::Matx13f(1, 1, 1));
        cv::sqrt(step, step);
        cv::sqrt(down_step, down_step);
        w.step_ref = (cv::mean(step)[0] + cv::mean(down_step)[0]) / 2;
    }
    return w;
}

int hist_bin(float v, float lo, float hi) {
    const int b = static_cast<int>((v - lo) / (hi - lo) * kBinsPerChannel);
    return std::clamp(b, 0, kBinsPerChannel - 1);
}

// Segments as regions with their statistics and 4-connected boundaries.
std::vector<Region> base_regions(const detail::Segmentation& seg, const WorkImage& w) {
    const int rows = w.lab.rows, cols = w.lab.cols;
    std::vector<Region> regions(seg.count);
    for (auto& r : regions) r.x0 = cols, r.y0 = rows, r.x1 = -1, r.y1 = -1;
    std::unordered_map<uint64_t, Boundary> pairs;
    for (int y = 0; y < rows; ++y) {
        const int* lab = seg.labels.ptr<int>(y);
        const int* below = y + 1 < rows ? seg.labels.ptr<int>(y + 1) : nullptr;
        const auto* px = w.lab.ptr<cv::Vec3f>(y);
        const auto* px_below = below ? w.lab.ptr<cv::Vec3f>(y + 1) : nullptr;
        for (int x = 0; x < cols; ++x) {
            Region& r = regions[lab[x]];
            ++r.area;
            r.x0 = std::min(r.x0, x), r.x1 = std::max(r.x1, x);
            r.y0 = std::min(r.y0, y), r.y1 = std::max(r.y1, y);
            if (x == 0 || y == 0 || x == cols - 1 || y == rows - 1) ++r.border;
            r.hist[hist_bin(px[x][0], 0, 100)] += 1;
            r.hist[kBinsPerChannel + hist_bin(px[x][1], -100, 100)] += 1;
            r.hist[2 * kBinsPerChannel + hist_bin(px[x][2], -100, 100)] += 1;
            auto link = [&](int other, const cv::Vec3f& other_px) {
                const int a = std::min(lab[x], other), b = std::max(lab[x], other);
                Boundary& bd = pairs[uint64_t(a) << 32 | uint32_t(b)];
                bd.count += 1;
                const cv::Vec3f d = px[x] - other_px;
                bd.step += std::sqrt(d.dot(d));
            };
            if (x + 1 < cols && lab[x + 1] != lab[x]) link(lab[x + 1], px[x + 1]);
            if (below && below[x] != lab[x]) link(below[x], px_below[x]);
        }
    }
    for (auto& r : regions)
        for (auto& h : r.hist) h /= static_cast<float>(r.area);
    for (const auto& [key, bd] : pairs) {
        const int a = int(key >> 32), b = int(key & 0xffffffffu);
        regions[a].neighbours[b] = bd;
        regions[b].neighbours[a] = bd;
    }
    return regions;
}

// Selective search similarity: colour (histogram intersection) + size + fill, plus a term
// for a weak boundary between the two.
double similarity(const Region& a, const Region& b, const Boundary& between, double image_area,
                  double step_ref) {
    double colour = 0;
    for (int i = 0; i < kHistSize; ++i) colour += std::min(a.hist[i], b.hist[i]);
    colour /= 3;
    const double size = 1.0 - (a.area + b.area) / image_area;
    const double box_area = double(std::max(a.x1, b.x1) - std::min(a.x0, b.x0) + 1) *
                            (std::max(a.y1, b.y1) - std::min(a.y0, b.y0) + 1);
    const double fill = 1.0 - (box_area - a.area - b.area) / image_area;
    const double edge_mean = between.step / std::max(1.0, between.count);
    const double weak_edge = step_ref / (step_ref + edge_mean);
    return colour + size + fill + 2 * weak_edge;
}

// Merges the most similar neighbours until one region is left; regions[n..] are the groups.
// `visit` sees every region once, while it and its neighbours are current: the segments
// first, then each group as it is made.
void group(std::vector<Region>& regions, double image_area, double step_ref,
           const std::function<void(const std::vector<Region>&, int)>& visit) {
    for (int id = 0; id < int(regions.size()); ++id) visit(regions, id);
    struct Pair {
        double sim;
        int a, b;
        bool operator<(const Pair& o) const {
            if (sim != o.sim) return sim < o.sim;
            return std::tie(o.a, o.b) < std::tie(a, b);  // ties: lower ids first
        }
    };
    std::priority_queue<Pair> queue;
    for (int a = 0; a < int(regions.size()); ++a)
        for (const auto& [b, bd] : regions[a].neighbours)
            if (a < b)
                queue.push({similarity(regions[a], regions[b], bd, image_area, step_ref), a, b});
    while (!queue.empty()) {
        const Pair top = queue.top();
        queue.pop();
        if (!regions[top.a].alive || !regions[top.b].alive) continue;
        Region& a = regions[top.a];
        Region& b = regions[top.b];
        Region m;
        m.area = a.area + b.area;
        m.x0 = std::min(a.x0, b.x0), m.y0 = std::min(a.y0, b.y0);
        m.x1 = std::max(a.x1, b.x1), m.y1 = std::max(a.y1, b.y1);
        m.border = a.border + b.border;
        const float wa = float(a.area) / float(m.area), wb = 1.f - wa;
        for (int i = 0; i < kHistSize; ++i) m.hist[i] = wa * a.hist[i] + wb * b.hist[i];
        m.inner = a.inner;
        m.inner.add(b.inner);
        m.inner.add(a.neighbours.at(top.b));
        m.left = top.a, m.right = top.b;
        for (const Region* part : {&a, &b})
            for (const auto& [c, bd] : part->neighbours)
                if (c != top.a && c != top.b) m.neighbours[c].add(bd);
        a.alive = b.alive = false;
        const int id = int(regions.size());
        for (const auto& [c, bd] : m.neighbours) {
            auto& nb = regions[c].neighbours;
            nb.erase(top.a);
            nb.erase(top.b);
            nb[id] = bd;
        }
        regions.push_back(std::move(m));  // invalidates a and b
        visit(regions, id);
        for (const auto& [c, bd] : regions[id].neighbours)
            queue.push({similarity(regions[id], regions[c], bd, image_area, step_ref),
                        std::min(id, c), std::max(id, c)});
    }
}

// The boundary with r's neighbours that are not holes in it (neighbours it encloses: a ring
// around an object is not an outline). `regions` is the current grouping.
Boundary outline(const std::vector<Region>& regions, const Region& r) {
    Boundary out;
    for (const auto& [c, bd] : r.neighbours) {
        const Region& n = regions[c];
        if (n.border > 0 || n.neighbours.size() > 1) out.add(bd);
    }
    return out;
}

// Objectness in 0..1: a strong outline all around, weak boundaries inside, not tiny, not the
// background (large, touching much of the image border), not a thin sliver.
float objectness(const Region& r, const Boundary& out, double image_area, int image_border,
                 double step_ref) {
    if (out.count <= 0) return 0;
    Boundary all;
    for (const auto& [c, bd] : r.neighbours) all.add(bd);
    const double b_out = out.step / out.count;
    const double b_in = r.inner.count > 0 ? r.inner.step / r.inner.count : 0.0;
    const double edge = b_out / (b_out + 4.0 * step_ref + 1.0);
    const double purity = std::pow(b_out / (b_out + b_in), 0.25);
    const double f = r.area / image_area;
    const double size =
        std::min(1.0, std::pow(f / 0.003, 0.25)) * (f > 0.5 ? std::max(0.0, (1.0 - f) / 0.5) : 1.0);
    const double touch = double(r.border) / image_border;
    const double border = std::max(0.0, 1.0 - 2.0 * touch);
    const double fill = r.area / (double(r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1));
    const double thickness = 2.0 * r.area / (all.count + r.border);  // ~ half the width
    const double compact =
        std::min(1.0, std::sqrt(fill / 0.25)) * std::min(1.0, std::sqrt(thickness / 5.0));
    return static_cast<float>(edge * purity * size * border * compact);
}

// The segments `members` (ids into the segmentation's `base` regions) as one region, and its
// outline (as outline() would see it had the grouping merged exactly these segments).
Region set_region(const std::vector<Region>& base, const std::vector<int>& members,
                  Boundary* out) {
    std::vector<char> in(base.size(), 0);
    for (int m : members) in[size_t(m)] = 1;
    Region r;
    r.x0 = r.y0 = INT32_MAX, r.x1 = r.y1 = -1;
    for (int m : members) {
        const Region& p = base[size_t(m)];
        r.area += p.area;
        r.x0 = std::min(r.x0, p.x0), r.y0 = std::min(r.y0, p.y0);
        r.x1 = std::max(r.x1, p.x1), r.y1 = std::max(r.y1, p.y1);
        r.border += p.border;
        for (int i = 0; i < kHistSize; ++i) r.hist[i] += float(p.area) * p.hist[i];
        for (const auto& [c, bd] : p.neighbours) {
            if (!in[size_t(c)])
                r.neighbours[c].add(bd);
            else if (m < c)
                r.inner.add(bd);
        }
    }
    for (auto& h : r.hist) h /= float(std::max(1, r.area));
    for (const auto& [c, bd] : r.neighbours) {
        const Region& n = base[size_t(c)];
        const bool hole = n.border == 0 && std::all_of(n.neighbours.begin(), n.neighbours.end(),
                                                       [&](const auto& e) { return in[e.first]; });
        if (!hole) out->add(bd);
    }
    return r;
}

// The segments a region is made of.
void collect_segments(const std::vector<Region>& regions, int id, std::vector<uchar>& lut) {
    std::vector<int> stack{id};
    while (!stack.empty()) {
        const int i = stack.back();
        stack.pop_back();
        if (regions[i].left < 0)
            lut[i] = 255;
        else
            stack.insert(stack.end(), {regions[i].left, regions[i].right});
    }
}

// The region's mask at full resolution: the working-resolution mask in its box, resampled
// bilinearly (pixel centres aligned) and thresholded at one half.
cv::Rect work_box(const Region& r) { return {r.x0, r.y0, r.x1 - r.x0 + 1, r.y1 - r.y0 + 1}; }

// The region whose segments are 255 in `lut` and whose bounding rect is `box` (working pixels).
cv::Mat full_mask(const std::vector<uchar>& lut, const cv::Rect& box,
                  const detail::Segmentation& seg, const WorkImage& w, cv::Size full) {
    const cv::Rect work_roi = cv::Rect(box.x - 1, box.y - 1, box.width + 2, box.height + 2) &
                              cv::Rect(0, 0, seg.labels.cols, seg.labels.rows);
    cv::Mat small(work_roi.size(), CV_8U);
    for (int y = 0; y < work_roi.height; ++y) {
        const int* lab = seg.labels.ptr<int>(work_roi.y + y) + work_roi.x;
        uchar* out = small.ptr<uchar>(y);
        for (int x = 0; x < work_roi.width; ++x) out[x] = lut[lab[x]];
    }
    cv::Mat mask = cv::Mat::zeros(full, CV_8U);
    if (w.sx == 1.0 && w.sy == 1.0) {
        small.copyTo(mask(work_roi));
        return mask;
    }
    // Full pixel X's centre lies at work coordinate (X + 0.5) * sx - 0.5.
    const int fx0 = std::max(0, cvFloor(work_roi.x / w.sx) - 1);
    const int fy0 = std::max(0, cvFloor(work_roi.y / w.sy) - 1);
    const int fx1 = std::min(full.width, cvCeil((work_roi.x + work_roi.width) / w.sx) + 1);
    const int fy1 = std::min(full.height, cvCeil((work_roi.y + work_roi.height) / w.sy) + 1);
    const cv::Rect full_roi(fx0, fy0, fx1 - fx0, fy1 - fy0);
    const cv::Matx23d to_small(w.sx, 0, (fx0 + 0.5) * w.sx - 0.5 - work_roi.x, 0, w.sy,
                               (fy0 + 0.5) * w.sy - 0.5 - work_roi.y);
    cv::Mat up;
    cv::warpAffine(small, up, to_small, full_roi.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_CONSTANT, cv::Scalar(0));
    cv::threshold(up, mask(full_roi), 127, 255, cv::THRESH_BINARY);
    return mask;
}

class ClassicGenerator final : public ProposalGenerator {
public:
    explicit ClassicGenerator(detail::ClassicStages stages) : stages_(std::move(stages)) {}
    std::string name() const override { return "classic"; }
    std::vector<Proposal> generate(const cv::Mat& image, const ProposalParams& params) override;

private:
    detail::ClassicStages stages_;
};

std::vector<Proposal> ClassicGenerator::generate(const cv::Mat& image,
                                                 const ProposalParams& params) {
    Progress progress(params.progress);
    progress.report(0.f);
    const cv::Mat bgr = to_bgr8(image);
    if (params.max_proposals <= 0) {
        progress.report(1.f);
        return {};
    }
    const WorkImage w = make_work_image(bgr);
    progress.report(0.1f);

    const int rows = w.lab.rows, cols = w.lab.cols;
    const double area = double(rows) * cols;
    const int border = std::max(1, 2 * (rows + cols) - 4);
    const int min_size = std::max(8, int(area / 4000));
    int done = 0;
    const auto after_each = [&] {
        progress.report(0.1f + 0.4f * float(++done) / float(kScales.size()));
    };
    const auto segs = stages_.segment ? stages_.segment(w.lab, kScales, min_size, after_each)
                                      : detail::graph_segmentations(w.lab, kScales, min_size,
                                                                    after_each);

    std::vector<std::vector<Region>> hierarchies;
    std::vector<Candidate> candidates;
    const double min_area = std::max(1.0, params.min_area_fraction * area);
    // A candidate for region r (made of segments `members`, or region `id` of the hierarchy).
    auto consider = [&](size_t s, const Region& r, const Boundary& out, int id,
                        std::vector<int> members) {
        if (r.area < min_area || r.area > kMaxAreaFraction * area) return;
        const float score = objectness(r, out, area, border, w.step_ref);
        if (score <= 0) return;
        const Box box{r.x0 / w.sx, r.y0 / w.sy, (r.x1 + 1) / w.sx, (r.y1 + 1) / w.sy};
        candidates.push_back({int(s), id, std::move(members), score, box});
    };
    for (size_t s = 0; s < segs.size(); ++s) {
        auto regions = base_regions(segs[s], w);
        if (stages_.groups) {
            for (auto& members : stages_.groups(w.bgr, segs[s], s)) {
                if (members.empty()) continue;
                Boundary out;
                const Region r = set_region(regions, members, &out);
                consider(s, r, out, -1, std::move(members));
            }
        } else {
            group(regions, area, w.step_ref, [&](const std::vector<Region>& all, int id) {
                consider(s, all[id], outline(all, all[id]), id, {});
            });
        }
        hierarchies.push_back(std::move(regions));
        progress.report(0.5f + 0.3f * float(s + 1) / float(segs.size()));
    }

    // Box NMS on the approximate boxes first, so only likely survivors get a full mask.
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
    const size_t want = size_t(params.max_proposals);
    std::vector<const Candidate*> kept;
    for (const auto& c : candidates) {
        if (kept.size() >= want + 8) break;
        const bool overlaps = std::any_of(kept.begin(), kept.end(), [&](const Candidate* k) {
            return iou(k->box, c.box) > params.nms_iou;
        });
        if (!overlaps) kept.push_back(&c);
    }

    std::vector<Proposal> proposals;
    for (size_t i = 0; i < kept.size(); ++i) {
        const Candidate& c = *kept[i];
        const auto& seg = segs[c.segmentation];
        const auto& regions = hierarchies[c.segmentation];
        std::vector<uchar> lut(size_t(seg.count), 0);
        cv::Rect box;
        if (c.members.empty()) {
            collect_segments(regions, c.region, lut);
            box = work_box(regions[c.region]);
        } else {
            box = work_box(regions[size_t(c.members.front())]);
            for (int m : c.members) {
                lut[size_t(m)] = 255;
                box |= work_box(regions[size_t(m)]);
            }
        }
        Proposal p;
        p.mask = full_mask(lut, box, seg, w, bgr.size());
        p.box = mask_box(p.mask);
        if (p.box.area() <= 0) continue;
        p.score = c.score;
        p.source = "classic";
        proposals.push_back(std::move(p));
        if (i % 8 == 7) progress.report(0.8f + 0.2f * float(i + 1) / float(kept.size()));
    }
    proposals = nms(std::move(proposals), params.nms_iou, want);
    progress.report(1.f);
    return proposals;
}

}  // namespace

std::unique_ptr<ProposalGenerator> make_classic_generator() {
    return std::make_unique<ClassicGenerator>(detail::ClassicStages{});
}

namespace detail {

std::unique_ptr<ProposalGenerator> make_classic_generator(ClassicStages stages) {
    return std::make_unique<ClassicGenerator>(std::move(stages));
}

}  // namespace detail

}  // namespace rc
