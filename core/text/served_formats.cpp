// Region formats of the models people serve behind OpenAI-compatible servers (vLLM, SGLang,
// llama.cpp, Ollama): Qwen2-VL, Qwen2.5-VL, Qwen3-VL and InternVL. Each writes a box the way
// its model reads one and reads back the boxes its model answers with, converting through the
// coordinate frame the model works in (0-1000 of the image, or pixels of Qwen2.5-VL's resized
// image), so boxes land on the right pixels of non-square images. Linear scanners, no regex;
// never throws.
#include "regionchat/region_format.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "text/region_scan.h"

namespace rc {

ImageSize qwen_smart_resize(ImageSize size, int factor, int64_t min_pixels, int64_t max_pixels) {
    if (size.width <= 0 || size.height <= 0 || factor <= 0) return {};
    const double h = size.height, w = size.width;
    // Python's round() (half to even) as qwen_vl_utils / transformers' smart_resize.
    auto round_by = [&](double v) { return std::max(double(factor), std::nearbyint(v / factor) * factor); };
    double h_bar = round_by(h), w_bar = round_by(w);
    if (h_bar * w_bar > double(max_pixels)) {
        const double beta = std::sqrt(h * w / double(max_pixels));
        h_bar = std::max(double(factor), std::floor(h / beta / factor) * factor);
        w_bar = std::max(double(factor), std::floor(w / beta / factor) * factor);
    } else if (h_bar * w_bar < double(min_pixels)) {
        const double beta = std::sqrt(double(min_pixels) / (h * w));
        h_bar = std::ceil(h * beta / factor) * factor;
        w_bar = std::ceil(w * beta / factor) * factor;
    }
    return ImageSize{int(w_bar), int(h_bar)};
}

namespace {

using region_text::fixed;

// A model's coordinate frame: x' = x * sx, y' = y * sy.
struct Frame {
    double sx = 1, sy = 1, limit_x = 0, limit_y = 0;
};

Frame per_mille(ImageSize size) {
    return Frame{1000.0 / size.width, 1000.0 / size.height, 1000, 1000};
}

std::string integer(double v) {
    return fixed(std::nearbyint(v), 0);
}

// Four numbers of the model's frame back to a clipped pixel box of the image.
bool to_pixels(const std::array<double, 4>& v, const Frame& f, ImageSize size, Box* out) {
    for (double x : v)
        if (!std::isfinite(x)) return false;
    auto cx = [&](double x) { return std::clamp(x, 0.0, f.limit_x) / f.sx; };
    auto cy = [&](double y) { return std::clamp(y, 0.0, f.limit_y) / f.sy; };
    return region_text::finish_box(Box{cx(v[0]), cy(v[1]), cx(v[2]), cy(v[3])}, size, *out);
}

// Qwen2-VL's "(x1,y1),(x2,y2)" pairs (inside <|box_start|> ... <|box_end|> or not), spaces
// allowed around the numbers.
struct PairGroup {
    std::array<double, 4> v{};
    size_t begin = 0, end = 0;
};

size_t skip_spaces(const std::string& t, size_t i) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
    return i;
}

bool read_number(const std::string& t, size_t* i, double* out) {
    size_t j = *i;
    if (j < t.size() && (t[j] == '-' || t[j] == '+')) ++j;
    const size_t digits = j;
    while (j < t.size() && (std::isdigit(static_cast<unsigned char>(t[j])) || t[j] == '.')) ++j;
    if (j == digits || j - *i > 32) return false;
    const char* first = t.data() + *i + (t[*i] == '+' ? 1 : 0);
    const auto res = std::from_chars(first, t.data() + j, *out);
    if (res.ec != std::errc() || res.ptr != t.data() + j) return false;
    *i = j;
    return true;
}

bool expect(const std::string& t, size_t* i, char c) {
    *i = skip_spaces(t, *i);
    if (*i >= t.size() || t[*i] != c) return false;
    ++*i;
    return true;
}

std::vector<PairGroup> scan_pairs(const std::string& t) {
    std::vector<PairGroup> out;
    for (size_t at = t.find('('); at != std::string::npos; at = t.find('(', at + 1)) {
        PairGroup g;
        size_t i = at + 1;
        auto num = [&](double* v) {
            i = skip_spaces(t, i);
            return read_number(t, &i, v);
        };
        if (num(&g.v[0]) && expect(t, &i, ',') && num(&g.v[1]) && expect(t, &i, ')') &&
            expect(t, &i, ',') && expect(t, &i, '(') && num(&g.v[2]) && expect(t, &i, ',') &&
            num(&g.v[3]) && expect(t, &i, ')')) {
            g.begin = at;
            g.end = i;
            out.push_back(g);
            at = i - 1;
        }
    }
    return out;
}

class Qwen2VlFormat : public RegionFormat {
public:
    std::string name() const override { return "qwen2-vl"; }
    std::string encode(const Box& pixels, ImageSize size) const override {
        if (size.width <= 0 || size.height <= 0) return {};
        const Frame f = per_mille(size);
        const Box b = pixels.normalized().clipped(size.width, size.height);
        return "<|box_start|>(" + integer(b.x0 * f.sx) + "," + integer(b.y0 * f.sy) + "),(" +
               integer(b.x1 * f.sx) + "," + integer(b.y1 * f.sy) + ")<|box_end|>";
    }
    std::vector<ParsedBox> parse(const std::string& text, ImageSize size) const override {
        std::vector<ParsedBox> out;
        if (size.width <= 0 || size.height <= 0) return out;
        for (const PairGroup& g : scan_pairs(text)) {
            ParsedBox p;
            if (!to_pixels(g.v, per_mille(size), size, &p.box)) continue;
            p.begin = g.begin;
            p.end = g.end;
            out.push_back(p);
        }
        return out;
    }
};

// "[x1, y1, x2, y2]" in a frame: Qwen2.5-VL (pixels of its resized image, in JSON "bbox_2d"),
// Qwen3-VL (0-1000, the same JSON) and InternVL (0-1000 in "<box>[[...]]</box>").
class ListFormat : public RegionFormat {
public:
    enum class Kind { Qwen25, Qwen3, InternVl };
    explicit ListFormat(Kind kind) : kind_(kind) {}
    std::string name() const override {
        return kind_ == Kind::Qwen25 ? "qwen2.5-vl" : kind_ == Kind::Qwen3 ? "qwen3-vl" : "internvl";
    }
    std::string encode(const Box& pixels, ImageSize size) const override {
        if (size.width <= 0 || size.height <= 0) return {};
        const Frame f = frame(size);
        const Box b = pixels.normalized().clipped(size.width, size.height);
        const std::string list = "[" + integer(b.x0 * f.sx) + ", " + integer(b.y0 * f.sy) + ", " +
                                 integer(b.x1 * f.sx) + ", " + integer(b.y1 * f.sy) + "]";
        return kind_ == Kind::InternVl ? "<box>[" + list + "]</box>" : list;
    }
    std::vector<ParsedBox> parse(const std::string& text, ImageSize size) const override {
        std::vector<ParsedBox> out;
        if (size.width <= 0 || size.height <= 0) return out;
        const Frame f = frame(size);
        for (const region_text::Group& g : region_text::scan_groups(text)) {
            ParsedBox p;
            if (!to_pixels(g.v, f, size, &p.box)) continue;
            p.begin = g.begin;
            p.end = g.end;
            out.push_back(p);
        }
        return out;
    }

private:
    Frame frame(ImageSize size) const {
        if (kind_ != Kind::Qwen25) return per_mille(size);
        const ImageSize r = qwen_smart_resize(size);
        return Frame{double(r.width) / size.width, double(r.height) / size.height,
                     double(r.width), double(r.height)};
    }
    Kind kind_;
};

}  // namespace

std::unique_ptr<RegionFormat> make_served_region_format(const std::string& name) {
    if (name == "qwen2-vl") return std::make_unique<Qwen2VlFormat>();
    if (name == "qwen2.5-vl") return std::make_unique<ListFormat>(ListFormat::Kind::Qwen25);
    if (name == "qwen3-vl") return std::make_unique<ListFormat>(ListFormat::Kind::Qwen3);
    if (name == "internvl") return std::make_unique<ListFormat>(ListFormat::Kind::InternVl);
    return nullptr;
}

std::vector<std::string> served_region_formats() {
    return {"qwen2-vl", "qwen2.5-vl", "qwen3-vl", "internvl"};
}

std::string guess_region_format(const std::string& model_name) {
    std::string n;
    for (char c : model_name) n += char(std::tolower(static_cast<unsigned char>(c)));
    auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
    if (has("qwen2.5-vl") || has("qwen2_5_vl") || has("qwen2.5vl") || has("qwen25-vl"))
        return "qwen2.5-vl";
    if (has("qwen3-vl") || has("qwen3_vl")) return "qwen3-vl";
    if (has("qwen2-vl") || has("qwen2_vl") || has("qvq")) return "qwen2-vl";
    if (has("internvl")) return "internvl";
    if (has("pink")) return "pink";
    if (has("llava") || has("dualfocus") || has("shapes-tiny") || has("regionchat"))
        return "dualfocus";
    return "pixels";
}

}  // namespace rc
