// RegionVLM's referring-segmentation rule (eval_RIS.py L100-168, docs/regionvlm-layout.md §7).
#include "regionchat/region_rank.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "regionchat/error.h"

namespace rc {

std::string blip_caption(const std::string& text) {
    std::string s;
    for (char ch : text) {
        const char c = char(std::tolower(static_cast<unsigned char>(ch)));
        s += std::string(".!\"()*#:;~").find(c) != std::string::npos ? ' ' : c;
    }
    std::string out;
    int words = 0;
    size_t i = 0;
    while (i < s.size() && words < 50) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        if (i >= s.size()) break;
        const size_t start = i;
        while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        out += (out.empty() ? "" : " ") + s.substr(start, i - start);
        ++words;
    }
    return out;
}

std::vector<size_t> ris_candidates(const std::vector<RegionInput>& candidates, ImageSize size,
                                   size_t max) {
    const double H = size.height, W = size.width, total = H * W;
    struct Stats {
        double area = 0, top = 0, bottom = 0, left = 0, right = 0;
    };
    std::vector<Stats> stats;
    for (const RegionInput& r : candidates) {
        Stats st;
        const bool mask = !r.mask.empty() && r.mask.type() == CV_8UC1 && r.mask.cols == size.width &&
                          r.mask.rows == size.height;
        if (mask) {
            st.area = cv::countNonZero(r.mask);
            auto count = [&](const cv::Rect& rc) { return double(cv::countNonZero(r.mask(rc))); };
            if (size.height >= 2 && size.width >= 2) {
                st.top = count({0, 0, size.width, 2});
                st.bottom = count({0, size.height - 2, size.width, 2});
                st.left = count({0, 0, 2, size.height});
                st.right = count({size.width - 2, 0, 2, size.height});
            }
        } else {
            const Box b = r.box.normalized().clipped(W, H);
            st.area = b.area();
            st.top = b.y0 < 2 ? b.width() * std::min(2.0, 2 - b.y0) : 0;
            st.bottom = b.y1 > H - 2 ? b.width() * std::min(2.0, b.y1 - (H - 2)) : 0;
            st.left = b.x0 < 2 ? b.height() * std::min(2.0, 2 - b.x0) : 0;
            st.right = b.x1 > W - 2 ? b.height() * std::min(2.0, b.x1 - (W - 2)) : 0;
        }
        stats.push_back(st);
    }
    std::vector<size_t> out;
    const double t = 0.7;
    for (size_t i = 0; i < stats.size() && out.size() < max; ++i) {
        const Stats& s = stats[i];
        if (total <= 0 || s.area / total < 0.04) continue;
        if (s.top > t * H || s.bottom > t * H || s.left > t * W || s.right > t * W) continue;
        out.push_back(i);
    }
    if (out.empty())
        for (size_t i = 0; i < stats.size() && out.size() < max; ++i)
            if (total > 0 && stats[i].area / total >= 0.01) out.push_back(i);
    return out;
}

std::vector<RegionRank> rank_regions(const ChatBackend& backend, const cv::Mat& image,
                                     const std::vector<RegionInput>& candidates,
                                     const std::string& phrase, const RegionRankOptions& options) {
    const BackendCapabilities caps = backend.info().capabilities;
    if (!caps.region_point_prompts || !caps.answer_scoring)
        throw Error("\"Which region is this?\" needs a model that reads regions as points and "
                    "scores answers (RegionVLM)");
    if (image.empty()) throw Error("no image");
    const std::string target = blip_caption(phrase);
    if (target.empty()) throw Error("type what to look for");
    const ImageSize size{image.cols, image.rows};
    std::vector<size_t> picked;
    if (options.ris_filter) {
        picked = ris_candidates(candidates, size, options.max_candidates);
    } else {
        for (size_t i = 0; i < candidates.size() && i < options.max_candidates; ++i) picked.push_back(i);
    }
    if (picked.empty()) throw Error("no candidate region is large enough (at least 1% of the image)");
    const int repeats = std::max(1, options.repeats);
    const size_t total = picked.size() * size_t(repeats);
    size_t done = 0;
    auto fresh = backend.fresh();
    std::vector<RegionRank> ranks;
    for (size_t i : picked) {
        RegionRank rank;
        rank.index = i;
        rank.loss = std::numeric_limits<double>::infinity();
        ChatRequest req;
        req.text = "<region 1>";
        req.images = {image};
        RegionInput r = candidates[i];
        r.id = 1;
        req.regions = {r};
        for (int k = 0; k < repeats; ++k) {
            req.point_seed = options.seed + 7919u * uint32_t(k);
            const double loss = fresh->score(req, target);
            rank.draws.push_back(loss);
            rank.loss = std::min(rank.loss, loss);
            ++done;
            if (options.progress && !options.progress(done, total)) throw Error("cancelled");
        }
        ranks.push_back(std::move(rank));
    }
    std::stable_sort(ranks.begin(), ranks.end(),
                     [](const RegionRank& a, const RegionRank& b) { return a.loss < b.loss; });
    return ranks;
}

}  // namespace rc
