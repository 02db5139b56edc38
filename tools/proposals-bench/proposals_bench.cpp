// proposals-bench: the classic proposal generator against OpenCV ximgproc's graph
// segmentation and selective search, on the sample scenes and synthetic scenes. For each
// variant and scene set: object recall at box IoU >= 0.5 in the top 10 and in all returned
// proposals (the app shows all, at most ProposalParams::max_proposals = 64), the mean number
// of proposals, and the median over images of each image's median time over --runs runs.
//
//   proposals-bench [--runs N] [--scenes N] [--source-dir DIR]
//
// Variants:
//   ours             make_classic_generator(): our graph segmentation (k = 60, 180, 500 on
//                    blurred Lab) + our grouping + our scoring and ranking
//   cv-gs+ours       OpenCV createGraphSegmentation (same k, min size and image, no extra
//                    blur) feeding our grouping, scoring and ranking
//   cv-ss-fast+ours  OpenCV selective search (switchToSelectiveSearchFast) on the working
//                    image; each box becomes the segments of our finest segmentation lying
//                    mostly inside it, scored and ranked by our scoring (it gives no masks)
//   cv-ss-single+ours  the same with switchToSingleStrategy
//   cv-ss-fast raw   OpenCV selective search's boxes in its own order, no masks (reference)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/segmentation.hpp>

#include "photo_like.h"
#include "proposals/classic_stages.h"
#include "regionchat/proposals.h"
#include "regionchat/synth.h"

using namespace rc;
namespace seg = cv::ximgproc::segmentation;

namespace {

struct Scene {
    cv::Mat image;
    std::vector<Box> objects;
};

struct SceneSet {
    std::string name;
    std::vector<Scene> scenes;
};

// Same working size as the classic generator (kWorkPixels there).
cv::Mat working_image(const cv::Mat& bgr) {
    const double scale = std::min(1.0, std::sqrt(384.0 * 288.0 / (double(bgr.cols) * bgr.rows)));
    if (scale >= 1.0) return bgr;
    cv::Mat small;
    cv::resize(bgr, small,
               cv::Size(std::max(1, cvRound(bgr.cols * scale)), std::max(1, cvRound(bgr.rows * scale))),
               0, 0, cv::INTER_AREA);
    return small;
}

std::vector<Scene> sample_scenes(const std::string& dir) {
    std::ifstream in(dir + "/scenes.jsonl");
    if (!in) throw std::runtime_error("cannot read " + dir + "/scenes.jsonl");
    std::vector<Scene> out;
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        const auto j = nlohmann::json::parse(line);
        Scene s;
        s.image = cv::imread(dir + "/" + j.at("image").get<std::string>(), cv::IMREAD_COLOR);
        if (s.image.empty()) throw std::runtime_error("cannot read a sample image");
        for (const auto& o : j.at("objects")) {
            const auto b = o.at("box");
            s.objects.push_back({b[0].get<double>(), b[1].get<double>(), b[2].get<double>(),
                                 b[3].get<double>()});
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<Scene> photo_scenes(int n) {
    std::vector<Scene> out;
    for (int i = 0; i < n; ++i) {
        Scene s;
        s.image = testing::photo_like(101 + uint64_t(i), &s.objects);
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<Scene> synth_scenes(int n) {
    synth::SceneOptions o;
    o.renderer = synth::Renderer::Alternate;  // the evaluation renderer: other backgrounds
    o.augment = true;                         // blur, JPEG, colour noise
    o.min_side = 480;
    o.max_side = 640;
    std::vector<Scene> out;
    for (int i = 0; i < n; ++i) {
        const auto sc = synth::generate_scene(1000005000ULL + uint64_t(i), o);
        Scene s;
        s.image = sc.image;
        for (const auto& obj : sc.objects) s.objects.push_back(obj.box);
        out.push_back(std::move(s));
    }
    return out;
}

// OpenCV's graph segmentation with our scales and minimum size, on our (already blurred)
// working Lab image: sigma 0.001 is OpenCV's smallest, i.e. no second blur.
std::vector<detail::Segmentation> opencv_graph_segmentations(
    const cv::Mat& lab, const std::vector<double>& scales, int min_size,
    const std::function<void()>& after_each) {
    std::vector<detail::Segmentation> out;
    for (double k : scales) {
        auto gs = seg::createGraphSegmentation(0.001, float(k), min_size);
        detail::Segmentation s;
        gs->processImage(lab, s.labels);
        double mx = 0;
        cv::minMaxLoc(s.labels, nullptr, &mx);
        s.count = int(mx) + 1;
        out.push_back(std::move(s));
        if (after_each) after_each();
    }
    return out;
}

enum class SsMode { Fast, Single };

std::vector<cv::Rect> opencv_selective_search(const cv::Mat& bgr, SsMode mode) {
    auto ss = seg::createSelectiveSearchSegmentation();
    ss->setBaseImage(bgr);
    if (mode == SsMode::Fast)
        ss->switchToSelectiveSearchFast();
    else
        ss->switchToSingleStrategy();
    std::vector<cv::Rect> rects;
    ss->process(rects);
    return rects;
}

// Each box as the segments with at least half their area inside it (deduplicated).
std::vector<std::vector<int>> rects_to_segment_sets(const std::vector<cv::Rect>& rects,
                                                    const detail::Segmentation& s) {
    std::vector<int> area(size_t(s.count), 0);
    for (int y = 0; y < s.labels.rows; ++y) {
        const int* l = s.labels.ptr<int>(y);
        for (int x = 0; x < s.labels.cols; ++x) ++area[size_t(l[x])];
    }
    std::set<std::vector<int>> seen;
    std::vector<std::vector<int>> out;
    std::vector<int> inside(size_t(s.count), 0), touched;
    for (const cv::Rect& r0 : rects) {
        const cv::Rect r = r0 & cv::Rect(0, 0, s.labels.cols, s.labels.rows);
        touched.clear();
        for (int y = r.y; y < r.y + r.height; ++y) {
            const int* l = s.labels.ptr<int>(y);
            for (int x = r.x; x < r.x + r.width; ++x)
                if (inside[size_t(l[x])]++ == 0) touched.push_back(l[x]);
        }
        std::vector<int> members;
        for (int id : touched) {
            if (2 * inside[size_t(id)] >= area[size_t(id)]) members.push_back(id);
            inside[size_t(id)] = 0;
        }
        std::sort(members.begin(), members.end());
        if (!members.empty() && seen.insert(members).second) out.push_back(std::move(members));
    }
    return out;
}

std::unique_ptr<ProposalGenerator> selective_search_generator(SsMode mode) {
    detail::ClassicStages st;
    // One segmentation (our finest scale) to turn the boxes into masks.
    st.segment = [](const cv::Mat& lab, const std::vector<double>& scales, int min_size,
                    const std::function<void()>& after_each) {
        auto out = detail::graph_segmentations(lab, {scales.front()}, min_size);
        for (size_t i = 0; i < scales.size(); ++i)
            if (after_each) after_each();
        return out;
    };
    st.groups = [mode](const cv::Mat& bgr, const detail::Segmentation& s, size_t) {
        return rects_to_segment_sets(opencv_selective_search(bgr, mode), s);
    };
    return detail::make_classic_generator(std::move(st));
}

bool found(const Box& object, const std::vector<Box>& boxes, size_t top) {
    const size_t n = std::min(top, boxes.size());
    return std::any_of(boxes.begin(), boxes.begin() + long(n),
                       [&](const Box& b) { return iou(b, object) >= 0.5; });
}

struct Variant {
    std::string name;
    // The image's proposal boxes, best first.
    std::function<std::vector<Box>(const cv::Mat&)> run;
};

struct Result {
    double recall10 = 0, recall_all = 0, proposals = 0, median_ms = 0;
};

Result measure(const Variant& v, const std::vector<Scene>& scenes, int runs) {
    int objects = 0, hit10 = 0, hit_all = 0;
    double count = 0;
    std::vector<double> per_image_ms;
    for (const Scene& s : scenes) {
        std::vector<double> ms;
        std::vector<Box> boxes;
        for (int r = 0; r < runs; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            boxes = v.run(s.image);
            ms.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count());
        }
        std::sort(ms.begin(), ms.end());
        per_image_ms.push_back(ms[ms.size() / 2]);
        count += double(boxes.size());
        for (const Box& o : s.objects) {
            ++objects;
            hit10 += found(o, boxes, 10);
            hit_all += found(o, boxes, SIZE_MAX);
        }
    }
    std::sort(per_image_ms.begin(), per_image_ms.end());
    Result res;
    res.recall10 = double(hit10) / std::max(1, objects);
    res.recall_all = double(hit_all) / std::max(1, objects);
    res.proposals = count / double(std::max<size_t>(1, scenes.size()));
    res.median_ms = per_image_ms.empty() ? 0 : per_image_ms[per_image_ms.size() / 2];
    return res;
}

std::vector<Box> boxes_of(const std::vector<Proposal>& proposals) {
    std::vector<Box> out;
    for (const auto& p : proposals) out.push_back(p.box);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 3, n = 20;
    std::string source = REGIONCHAT_SOURCE_DIR;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--runs")
            runs = std::max(1, std::atoi(argv[i + 1]));
        else if (a == "--scenes")
            n = std::max(1, std::atoi(argv[i + 1]));
        else if (a == "--source-dir")
            source = argv[i + 1];
        else {
            std::fprintf(stderr, "usage: proposals-bench [--runs N] [--scenes N] [--source-dir DIR]\n");
            return 2;
        }
    }
    cv::setNumThreads(1);  // like the app's worker: one core
    const std::vector<SceneSet> sets{{"samples", sample_scenes(source + "/resources/samples")},
                                     {"photo-like", photo_scenes(n)},
                                     {"synth-alt", synth_scenes(n)}};

    auto ours = make_classic_generator();
    detail::ClassicStages cv_gs;
    cv_gs.segment = opencv_graph_segmentations;
    auto with_cv_gs = detail::make_classic_generator(cv_gs);
    auto ss_fast = selective_search_generator(SsMode::Fast);
    auto ss_single = selective_search_generator(SsMode::Single);
    const ProposalParams params;
    const std::vector<Variant> variants{
        {"ours", [&](const cv::Mat& im) { return boxes_of(ours->generate(im, params)); }},
        {"cv-gs+ours", [&](const cv::Mat& im) { return boxes_of(with_cv_gs->generate(im, params)); }},
        {"cv-ss-fast+ours", [&](const cv::Mat& im) { return boxes_of(ss_fast->generate(im, params)); }},
        {"cv-ss-single+ours",
         [&](const cv::Mat& im) { return boxes_of(ss_single->generate(im, params)); }},
        {"cv-ss-fast raw",
         [&](const cv::Mat& im) {
             const cv::Mat small = working_image(im);
             const double sx = double(im.cols) / small.cols, sy = double(im.rows) / small.rows;
             std::vector<Box> out;
             for (const cv::Rect& r : opencv_selective_search(small, SsMode::Fast))
                 out.push_back({r.x * sx, r.y * sy, (r.x + r.width) * sx, (r.y + r.height) * sy});
             return out;
         }},
    };

    std::printf("%d runs per image; time: median over images of each image's median, one thread\n",
                runs);
    std::printf("| %-18s | %-10s | %6s | %6s | %9s | %8s |\n", "variant", "scenes", "R@10",
                "R@all", "proposals", "ms");
    std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(20, '-').c_str(),
                std::string(12, '-').c_str(), std::string(8, '-').c_str(),
                std::string(8, '-').c_str(), std::string(11, '-').c_str(),
                std::string(10, '-').c_str());
    for (const auto& set : sets) {
        int objects = 0;
        for (const auto& s : set.scenes) objects += int(s.objects.size());
        for (const auto& v : variants) {
            const Result r = measure(v, set.scenes, runs);
            std::printf("| %-18s | %-10s | %6.3f | %6.3f | %9.1f | %8.1f |\n", v.name.c_str(),
                        (set.name + "").c_str(), r.recall10, r.recall_all, r.proposals,
                        r.median_ms);
            std::fflush(stdout);
        }
        std::printf("(%s: %zu images, %d objects)\n", set.name.c_str(), set.scenes.size(),
                    objects);
    }

    // Segmentation alone, our three scales on one working image: ours shares one sorted edge
    // list between the scales, OpenCV builds and sorts its graph once per scale.
    std::vector<double> ours_ms, cv_ms;
    for (const auto& s : sets[1].scenes) {
        cv::Mat f, lab;
        working_image(s.image).convertTo(f, CV_32FC3, 1.0 / 255.0);
        cv::cvtColor(f, lab, cv::COLOR_BGR2Lab);
        cv::GaussianBlur(lab, lab, cv::Size(0, 0), 0.8);
        const int min_size = std::max(8, int(lab.total() / 4000));
        for (int pass = 0; pass < 2; ++pass) {
            std::vector<double> ms;
            for (int r = 0; r < runs; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                if (pass == 0)
                    detail::graph_segmentations(lab, {60, 180, 500}, min_size);
                else
                    opencv_graph_segmentations(lab, {60, 180, 500}, min_size, {});
                ms.push_back(std::chrono::duration<double, std::milli>(
                                 std::chrono::steady_clock::now() - t0)
                                 .count());
            }
            std::sort(ms.begin(), ms.end());
            (pass == 0 ? ours_ms : cv_ms).push_back(ms[ms.size() / 2]);
        }
    }
    std::sort(ours_ms.begin(), ours_ms.end());
    std::sort(cv_ms.begin(), cv_ms.end());
    std::printf("graph segmentation alone, 3 scales, photo-like working images: ours %.1f ms, "
                "OpenCV %.1f ms (medians)\n",
                ours_ms[ours_ms.size() / 2], cv_ms[cv_ms.size() / 2]);
    return 0;
}
