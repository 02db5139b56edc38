#include "cli/cli_common.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <opencv2/imgproc.hpp>

#include "regionchat/data_paths.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace rc::cli {

namespace fs = std::filesystem;

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second.back();
}

std::string Args::require(const std::string& name) const {
    if (!has(name)) throw UsageError("--" + name + " is required");
    return get(name);
}

int Args::get_int(const std::string& name, int fallback, int min, int max) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    char* end = nullptr;
    const long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || x < min || x > max)
        throw UsageError("--" + name + " must be a whole number from " + std::to_string(min) +
                         " to " + std::to_string(max) + ", not '" + v + "'");
    return static_cast<int>(x);
}

double Args::get_double(const std::string& name, double fallback, double min, double max) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(x) || x < min || x > max)
        throw UsageError("--" + name + " must be a number from " + std::to_string(min) + " to " +
                         std::to_string(max) + ", not '" + v + "'");
    return x;
}

Args parse_args(int argc, char** argv, int first, const std::set<std::string>& valued,
                const std::set<std::string>& switches) {
    Args a;
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + s + "'");
        std::string name = s.substr(2), value;
        const size_t eq = name.find('=');
        const bool inline_value = eq != std::string::npos;
        if (inline_value) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (switches.count(name)) {
            if (inline_value) throw UsageError("--" + name + " takes no value");
            a.flags.insert(name);
        } else if (valued.count(name)) {
            if (!inline_value) {
                if (i + 1 >= argc) throw UsageError("--" + name + " needs a value");
                value = argv[++i];
            }
            a.options[name].push_back(value);
        } else {
            throw UsageError("unknown option --" + name);
        }
    }
    return a;
}

std::string resolve_model_dir(const Args& args) {
    if (args.has("model")) return args.get("model");
    return embedded_model_dir();
}

std::shared_ptr<Model> load_model(const Args& args) {
    LoadParams p;
    p.model_dir = resolve_model_dir(args);
    p.device = args.get("device", "auto");
    p.dtype = parse_precision(args.get("dtype", "auto"));
    p.threads = args.get_int("threads", 0, 0, 256);
    const bool tty = isatty(STDERR_FILENO);
    if (tty) {
        p.progress = [](const LoadProgress& lp) {
            std::fprintf(stderr, "\rloading model: %zu/%zu tensors, %.1f MiB", lp.tensors_done,
                         lp.tensors_total, lp.bytes_done / 1048576.0);
            return true;
        };
    }
    auto model = Model::load(p);
    if (tty) std::fprintf(stderr, "\r\033[K");
    return model;
}

Box parse_box(const std::string& text) {
    double v[4];
    const char* s = text.c_str();
    for (int i = 0; i < 4; ++i) {
        char* end = nullptr;
        v[i] = std::strtod(s, &end);
        if (end == s || !std::isfinite(v[i]))
            throw UsageError("--box takes X0,Y0,X1,Y1 in pixels, not '" + text + "'");
        s = end;
        if (i < 3) {
            if (*s != ',')
                throw UsageError("--box takes X0,Y0,X1,Y1 in pixels, not '" + text + "'");
            ++s;
        }
    }
    if (*s != '\0') throw UsageError("--box takes X0,Y0,X1,Y1 in pixels, not '" + text + "'");
    return Box{v[0], v[1], v[2], v[3]}.normalized();
}

std::vector<RegionInput> regions_for(const std::string& question, const std::vector<Box>& boxes,
                                     ImageSize size) {
    size_t placeholders = 0;
    for (size_t p = question.find("<region>"); p != std::string::npos;
         p = question.find("<region>", p + 8))
        ++placeholders;
    if (placeholders != boxes.size())
        throw UsageError("the question has " + std::to_string(placeholders) +
                         " <region> placeholder(s) but " + std::to_string(boxes.size()) +
                         " box(es) were given");
    std::vector<RegionInput> regions;
    for (const auto& b : boxes) {
        RegionInput r;
        r.id = int(regions.size()) + 1;
        r.box = b.clipped(size.width, size.height);
        if (r.box.area() <= 0)
            throw UsageError("a box lies outside the " + std::to_string(size.width) + "x" +
                             std::to_string(size.height) + " image");
        regions.push_back(r);
    }
    return regions;
}

namespace {

std::vector<Point> parse_points(const std::string& option, const std::string& text) {
    std::vector<Point> pts;
    const char* s = text.c_str();
    auto bad = [&] {
        return UsageError("--" + option + " takes \"X,Y X,Y ...\" in pixels, not '" + text + "'");
    };
    while (*s) {
        while (*s == ' ' || *s == ';') ++s;
        if (!*s) break;
        char* end = nullptr;
        const double x = std::strtod(s, &end);
        if (end == s || *end != ',' || !std::isfinite(x)) throw bad();
        s = end + 1;
        const double y = std::strtod(s, &end);
        if (end == s || !std::isfinite(y)) throw bad();
        s = end;
        if (*s && *s != ' ' && *s != ';') throw bad();
        pts.push_back({x, y});
        if (pts.size() > 100000) throw UsageError("--" + option + ": more than 100000 points");
    }
    if (pts.empty()) throw bad();
    return pts;
}

Box bounds_of(const std::vector<Point>& pts) {
    Box b{pts[0].x, pts[0].y, pts[0].x, pts[0].y};
    for (const Point& p : pts) {
        b.x0 = std::min(b.x0, p.x);
        b.y0 = std::min(b.y0, p.y);
        b.x1 = std::max(b.x1, p.x + 1);
        b.y1 = std::max(b.y1, p.y + 1);
    }
    return b;
}

}  // namespace

namespace {

// "VALUE@K": the value and the 1-based image it is on (1 when there is no suffix).
std::pair<std::string, int> split_image_suffix(const std::string& text, const char* flag, size_t images) {
    const size_t at = text.rfind('@');
    if (at == std::string::npos) return {text, 0};
    const std::string k = text.substr(at + 1);
    char* end = nullptr;
    const long n = std::strtol(k.c_str(), &end, 10);
    if (k.empty() || *end || n < 1 || size_t(n) > images)
        throw UsageError(std::string("--") + flag + " " + text + ": @K must name one of the " +
                         std::to_string(images) + " --image files (1-based)");
    return {text.substr(0, at), int(n) - 1};
}

}  // namespace

std::vector<RegionInput> regions_from_args(const Args& args, const std::string& question,
                                           const std::vector<ImageSize>& sizes) {
    std::vector<RegionInput> regions;
    auto size_of = [&](const RegionInput& r) { return sizes[size_t(r.image)]; };
    // Boxes first, placeholders counted over every kind below.
    if (args.has("box"))
        for (const auto& b : args.options.at("box")) {
            const auto [value, image] = split_image_suffix(b, "box", sizes.size());
            RegionInput r;
            r.image = image;
            r.box = parse_box(value);
            regions.push_back(r);
        }
    for (const char* kind : {"points", "scribble"}) {
        if (!args.has(kind)) continue;
        for (const auto& text : args.options.at(kind)) {
            const auto [value, image] = split_image_suffix(text, kind, sizes.size());
            RegionInput r;
            r.image = image;
            r.points = parse_points(kind, value);
            const ImageSize size = size_of(r);
            for (const Point& p : r.points)
                if (p.x < 0 || p.y < 0 || p.x >= size.width || p.y >= size.height)
                    throw UsageError(std::string("--") + kind + ": a point lies outside the " +
                                     std::to_string(size.width) + "x" + std::to_string(size.height) +
                                     " image");
            r.scribble = std::string(kind) == "scribble";
            r.box = bounds_of(r.points);
            regions.push_back(r);
        }
    }
    if (args.has("mask"))
        for (const auto& text : args.options.at("mask")) {
            const auto [file, image] = split_image_suffix(text, "mask", sizes.size());
            RegionInput r;
            r.image = image;
            const ImageSize size = size_of(r);
            cv::Mat m = load_image(file);  // bounded decode with a clear message
            cv::Mat grey;
            if (m.channels() == 1)
                grey = m;
            else
                cv::cvtColor(to_bgr8(m), grey, cv::COLOR_BGR2GRAY);
            if (grey.cols != size.width || grey.rows != size.height)
                throw UsageError("--mask " + file + " is " + std::to_string(grey.cols) + "x" +
                                 std::to_string(grey.rows) + ", not the image's " +
                                 std::to_string(size.width) + "x" + std::to_string(size.height));
            grey.convertTo(r.mask, CV_8U);
            const cv::Rect b = cv::boundingRect(r.mask);
            if (b.area() == 0) throw UsageError("--mask " + file + " has no non-zero pixel");
            r.box = Box{double(b.x), double(b.y), double(b.x + b.width), double(b.y + b.height)};
            regions.push_back(r);
        }
    size_t placeholders = 0;
    for (size_t p = question.find("<region>"); p != std::string::npos; p = question.find("<region>", p + 8))
        ++placeholders;
    if (placeholders != regions.size())
        throw UsageError("the question has " + std::to_string(placeholders) +
                         " <region> placeholder(s) but " + std::to_string(regions.size()) +
                         " region(s) were given (--box, --points, --scribble, --mask)");
    for (size_t i = 0; i < regions.size(); ++i) {
        const ImageSize size = size_of(regions[i]);
        regions[i].id = int(i) + 1;
        regions[i].box = regions[i].box.clipped(size.width, size.height);
        if (regions[i].box.area() <= 0)
            throw UsageError("region " + std::to_string(i + 1) + " lies outside the " +
                             std::to_string(size.width) + "x" + std::to_string(size.height) + " image");
    }
    return regions;
}

std::string api_key_from_args(const Args& args) {
    std::string key = args.get("api-key", "");
    if (key.empty())
        if (const char* k = std::getenv("REGIONCHAT_API_KEY"); k && *k) key = k;
    return key;
}

GenerateParams generate_params(const Args& args) {
    GenerateParams g;
    g.max_new_tokens = args.get_int("max-new-tokens", 128, 1, 4096);
    g.sampling.temperature = static_cast<float>(args.get_double("temperature", 0.0, 0.0, 10.0));
    g.sampling.top_p = static_cast<float>(args.get_double("top-p", 1.0, 1e-6, 1.0));
    g.sampling.seed = static_cast<uint64_t>(args.get_int("seed", 0, 0, 2147483647));
    // --beams N: beam search; 1 greedy (or sampling); without it the model family's published
    // setting (greedy but for RegionVLM's 5 beams).
    g.beams.num_beams = args.get_int("beams", 0, 1, 16);
    g.beams.length_penalty = args.get_double("length-penalty", 1.0, -10.0, 10.0);
    return g;
}

synth::SceneOptions scene_options(const Args& args) {
    synth::SceneOptions so;
    const std::string renderer = args.get("renderer", "train");
    if (renderer == "alternate")
        so.renderer = synth::Renderer::Alternate;
    else if (renderer != "train")
        throw UsageError("--renderer is train or alternate");
    so.augment = !args.flags.count("no-augment");
    so.max_objects = args.get_int("max-objects", so.max_objects, 1, 6);
    return so;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double now_ms() {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void print_progress(size_t done, size_t total, double start_ms, bool tty) {
    if (!tty && done % 10 != 0 && done != total) return;
    const double elapsed = (now_ms() - start_ms) / 1000.0;
    const double per_case = done ? elapsed / double(done) : 0.0;
    const int eta = static_cast<int>(per_case * double(total - std::min(done, total)) + 0.5);
    char eta_text[32];
    if (eta >= 3600)
        std::snprintf(eta_text, sizeof eta_text, "%dh%02dm", eta / 3600, (eta / 60) % 60);
    else
        std::snprintf(eta_text, sizeof eta_text, "%dm%02ds", eta / 60, eta % 60);
    constexpr int kWidth = 30;
    const int filled = total ? static_cast<int>(kWidth * double(done) / double(total)) : kWidth;
    std::fprintf(stderr, "%s[%s%s] %zu/%zu  %.0f ms/case  ETA %s%s", tty ? "\r\033[K" : "",
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(), done,
                 total, per_case * 1000, eta_text, tty ? "" : "\n");
    if (tty && done == total) std::fputc('\n', stderr);
}

}  // namespace rc::cli
