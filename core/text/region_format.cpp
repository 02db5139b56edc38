// Region <-> text formats of ../shared/docs/FORMATS.md shared by many models: DualFocus/LLaVA-1.5
// ("[0.12, 0.40, 0.55, 0.93]") and plain pixels. A family's own format lives in its folder
// (core/model/<family>/) and uses the scanner declared in text/region_scan.h.
// Parsing uses a hand-rolled linear scanner (no std::regex: slow, and it recurses deeply enough
// on long inputs to overflow the stack) and never throws. Numbers are read and written with
// std::from_chars/std::to_chars so the C locale a Qt application installs cannot turn "0.5"
// into "0,5".
#include "regionchat/region_format.h"
#include "text/region_scan.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace rc {

double Box::area() const {
    const double w = width();
    const double h = height();
    // Written so NaN compares false and yields 0.
    if (!(w > 0) || !(h > 0)) return 0.0;
    return w * h;
}

Box Box::normalized() const {
    return Box{std::min(x0, x1), std::min(y0, y1), std::max(x0, x1), std::max(y0, y1)};
}

Box Box::clipped(double w, double h) const {
    // Not std::clamp: a negative size would make its bounds invalid.
    auto clip = [](double v, double hi) { return std::min(std::max(v, 0.0), std::max(hi, 0.0)); };
    return Box{clip(x0, w), clip(y0, h), clip(x1, w), clip(y1, h)};
}

double iou(const Box& a, const Box& b) {
    for (double v : {a.x0, a.y0, a.x1, a.y1, b.x0, b.y0, b.x1, b.y1})
        if (std::isnan(v)) return 0.0;
    const double iw = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
    const double ih = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
    const double inter = (iw > 0 && ih > 0) ? iw * ih : 0.0;
    const double uni = a.area() + b.area() - inter;
    if (!(uni > 0) || !std::isfinite(uni)) return 0.0;
    return inter / uni;
}

namespace region_text {

constexpr size_t kMaxNumberLength = 32;

// Fixed-point text of `v`, locale-independent; -0 prints as 0.
std::string fixed(double v, int decimals) {
    if (!std::isfinite(v)) v = 0.0;
    std::array<char, 64> buf{};
    auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v + 0.0, std::chars_format::fixed,
                             decimals);
    std::string s(buf.data(), res.ptr);
    // Rounding a tiny negative value can still print "-0.00".
    if (!s.empty() && s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
    return s;
}

double clamp01(double v) {
    return std::clamp(v, 0.0, 1.0);
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}


// Reads a number at `i`: [+-]? digits [. digits] [(e|E) [+-]? digits]. On success sets `out`
// and advances `i`. On failure `i` is left past what was looked at, so the caller resumes there
// and the whole scan stays linear.
bool read_number(const std::string& t, size_t& i, double& out) {
    const size_t start = i;
    const size_t n = t.size();
    bool negative = false;
    if (i < n && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
    const size_t mantissa = i;
    size_t digits = 0;
    while (i < n && is_digit(t[i])) ++i, ++digits;
    if (i < n && t[i] == '.') {
        ++i;
        while (i < n && is_digit(t[i])) ++i, ++digits;
    }
    if (digits == 0) return false;
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (t[j] == '+' || t[j] == '-')) ++j;
        if (j < n && is_digit(t[j])) {
            while (j < n && is_digit(t[j])) ++j;
            i = j;
        }
    }
    if (i - start > kMaxNumberLength) return false;
    double v = 0.0;
    const char* first = t.data() + mantissa;
    const char* last = t.data() + i;
    // from_chars rejects a leading '.', so give it "0." in front in a small buffer.
    std::array<char, kMaxNumberLength + 2> buf{};
    if (*first == '.') {
        buf[0] = '0';
        std::memcpy(buf.data() + 1, first, static_cast<size_t>(last - first));
        last = buf.data() + 1 + (last - first);
        first = buf.data();
    }
    auto res = std::from_chars(first, last, v, std::chars_format::general);
    if (res.ec != std::errc() || res.ptr != last || !std::isfinite(v)) return false;
    out = negative ? -v : v;
    return true;
}

// Tries to read a group whose '[' is at `open`. Returns true with `g` filled, or false with
// `next` at the first position not consumed (always > open).
bool read_group(const std::string& t, size_t open, Group& g, size_t& next) {
    const size_t n = t.size();
    size_t i = open + 1;
    int count = 0;
    while (true) {
        while (i < n && is_space(t[i])) ++i;
        double v = 0.0;
        if (count == 4 || !read_number(t, i, v)) {
            next = i;
            return false;
        }
        g.v[static_cast<size_t>(count++)] = v;
        while (i < n && is_space(t[i])) ++i;
        if (i < n && t[i] == ',') {
            ++i;
            continue;
        }
        if (i < n && t[i] == ']' && count == 4) {
            g.begin = open;
            g.end = i + 1;
            next = i + 1;
            return true;
        }
        next = i;
        return false;
    }
}

// Every well-formed group in order of appearance; linear in the text length.
std::vector<Group> scan_groups(const std::string& t) {
    std::vector<Group> groups;
    size_t i = 0;
    while (true) {
        i = t.find('[', i);
        if (i == std::string::npos) break;
        Group g;
        size_t next = i + 1;
        if (read_group(t, i, g, next)) groups.push_back(g);
        i = std::max(next, i + 1);
    }
    return groups;
}

// Orders the corners, clips to the image and drops empty boxes.
bool finish_box(Box b, ImageSize size, Box& out) {
    out = b.normalized().clipped(size.width, size.height);
    return out.area() > 0;
}

}  // namespace region_text

namespace {

using namespace region_text;

// DualFocus / LLaVA-1.5: values normalized to width and height, 2 decimals, ", " between.
// Parsing clamps every value to [0, 1]; pixel-looking groups ("[12, 34, 56, 78]") therefore
// clamp to a zero-area box and are skipped rather than guessed at.
class DualFocusFormat : public RegionFormat {
public:
    std::string name() const override { return "dualfocus"; }

    std::string encode(const Box& pixels, ImageSize size) const override {
        const Box b = pixels.normalized();
        const double w = size.width > 0 ? size.width : 1.0;
        const double h = size.height > 0 ? size.height : 1.0;
        return "[" + fixed(clamp01(b.x0 / w), 2) + ", " + fixed(clamp01(b.y0 / h), 2) + ", " +
               fixed(clamp01(b.x1 / w), 2) + ", " + fixed(clamp01(b.y1 / h), 2) + "]";
    }

    std::vector<ParsedBox> parse(const std::string& text, ImageSize size) const override {
        std::vector<ParsedBox> out;
        if (size.width <= 0 || size.height <= 0) return out;
        for (const Group& g : scan_groups(text)) {
            const Box b{clamp01(g.v[0]) * size.width, clamp01(g.v[1]) * size.height,
                        clamp01(g.v[2]) * size.width, clamp01(g.v[3]) * size.height};
            ParsedBox p;
            if (!finish_box(b, size, p.box)) continue;
            p.begin = g.begin;
            p.end = g.end;
            out.push_back(p);
        }
        return out;
    }
};

// Plain pixels of the original image, rounded to integers: "[12, 34, 56, 78]".
class PixelsFormat : public RegionFormat {
public:
    std::string name() const override { return "pixels"; }

    std::string encode(const Box& pixels, ImageSize size) const override {
        const Box b =
            pixels.normalized().clipped(std::max(size.width, 0), std::max(size.height, 0));
        auto integer = [](double v) { return fixed(std::round(v), 0); };
        return "[" + integer(b.x0) + ", " + integer(b.y0) + ", " + integer(b.x1) + ", " +
               integer(b.y1) + "]";
    }

    std::vector<ParsedBox> parse(const std::string& text, ImageSize size) const override {
        std::vector<ParsedBox> out;
        if (size.width <= 0 || size.height <= 0) return out;
        for (const Group& g : scan_groups(text)) {
            ParsedBox p;
            if (!finish_box(Box{g.v[0], g.v[1], g.v[2], g.v[3]}, size, p.box)) continue;
            p.begin = g.begin;
            p.end = g.end;
            out.push_back(p);
        }
        return out;
    }
};

}  // namespace

std::unique_ptr<RegionFormat> make_builtin_region_format(const std::string& name) {
    if (name == "dualfocus") return std::make_unique<DualFocusFormat>();
    if (name == "pixels") return std::make_unique<PixelsFormat>();
    return make_served_region_format(name);
}

std::vector<std::string> builtin_region_formats() {
    std::vector<std::string> names = {"dualfocus", "pixels"};
    for (const std::string& n : served_region_formats()) names.push_back(n);
    return names;
}

std::string fill_region_placeholders(const std::string& question, const std::vector<Box>& boxes,
                                     ImageSize size, const RegionFormat& format, size_t* used) {
    static const std::string kPlaceholder = "<region>";
    std::string out;
    out.reserve(question.size());
    size_t count = 0;
    size_t pos = 0;
    while (count < boxes.size()) {
        const size_t hit = question.find(kPlaceholder, pos);
        if (hit == std::string::npos) break;
        out.append(question, pos, hit - pos);
        out += format.encode(boxes[count++], size);
        pos = hit + kPlaceholder.size();
    }
    out.append(question, pos, std::string::npos);
    if (used) *used = count;
    return out;
}

}  // namespace rc
