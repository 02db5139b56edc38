// DualFocus' fixed pieces (docs/dualfocus-reference.md): the reference box parser and crop
// (misc/boxes.py), the question split, option letters, and the rounded training-data crop
// (start floored, end ceiled: it never loses a partially covered pixel).
#include "regionchat/dual_focus_crop.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace rc {

cv::Rect dual_focus_crop_rect(const Box& box, ImageSize size, int margin) {
    const double coords[] = {box.x0, box.y0, box.x1, box.y1};
    for (double v : coords)
        if (!std::isfinite(v)) return {};
    const double x0 = std::min(box.x0, box.x1), x1 = std::max(box.x0, box.x1);
    const double y0 = std::min(box.y0, box.y1), y1 = std::max(box.y0, box.y1);
    if (x1 - x0 <= 0 || y1 - y0 <= 0 || size.width <= 0 || size.height <= 0) return {};

    const double half = std::max(x1 - x0, y1 - y0) / 2 + margin;
    const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    // Clamp in double first: a huge box must not overflow int.
    auto clamp_to = [](double v, int hi) {
        return static_cast<int>(std::clamp(v, 0.0, static_cast<double>(hi)));
    };
    const int left = clamp_to(std::floor(cx - half), size.width);
    const int right = clamp_to(std::ceil(cx + half), size.width);
    const int top = clamp_to(std::floor(cy - half), size.height);
    const int bottom = clamp_to(std::ceil(cy + half), size.height);
    if (right <= left || bottom <= top) return {};
    return {left, top, right - left, bottom - top};
}

cv::Mat dual_focus_crop(const cv::Mat& image, const Box& box, int margin) {
    if (image.empty()) return {};
    const cv::Rect r = dual_focus_crop_rect(box, {image.cols, image.rows}, margin);
    if (r.empty()) return {};
    return image(r).clone();
}

std::string dual_focus_box_prompt(const std::string& question) {
    return "Please provide the bounding box coordinate of the region this question asks: " +
           question;
}

std::string dual_focus_micro_prompt(const std::string& question) {
    return "Please combine the information from these two images and answer this question: " +
           question;
}

const char* const kDualFocusScoreSuffix = "\nAnswer the question using a single word or phrase.";
const char* const kDualFocusLetterHint =
    "Answer with the option's letter from the given choices directly.";

namespace {

bool digit(char c) {
    return c >= '0' && c <= '9';
}

// `\d+\.?\d*` at i: the end, or npos. Greedy is the only match that can be followed by ','
// or end the group (a shorter one ends before a digit or '.'), so no backtracking is needed.
size_t number_end(const std::string& t, size_t i) {
    if (i >= t.size() || !digit(t[i])) return std::string::npos;
    while (i < t.size() && digit(t[i])) ++i;
    if (i < t.size() && t[i] == '.') {
        ++i;
        while (i < t.size() && digit(t[i])) ++i;
    }
    return i;
}

bool is_space(char c) {  // Python's \s for ASCII text
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

std::optional<std::array<double, 4>> dual_focus_find_box(const std::string& t) {
    for (size_t start = 0; start < t.size(); ++start) {
        if (!digit(t[start])) continue;
        std::array<double, 4> v{};
        size_t i = start;
        bool ok = true;
        for (int k = 0; k < 4 && ok; ++k) {
            const size_t end = number_end(t, i);
            if (end == std::string::npos || end - i > 64) {
                ok = false;
                break;
            }
            v[k] = std::strtod(t.substr(i, end - i).c_str(), nullptr);
            i = end;
            if (k < 3) {
                if (i >= t.size() || t[i] != ',') {
                    ok = false;
                    break;
                }
                ++i;
                while (i < t.size() && is_space(t[i])) ++i;
            }
        }
        if (ok) return v;
    }
    return std::nullopt;
}

cv::Rect dual_focus_reference_crop_rect(const std::array<double, 4>& n, ImageSize size) {
    if (size.width <= 0 || size.height <= 0) return {};
    for (double v : n)
        if (!std::isfinite(v)) return {};
    const double W = size.width, H = size.height;
    // denorm_bbox: float64.
    const double d[4] = {n[0] * W, n[1] * H, n[2] * W, n[3] * H};
    // expand_box: assert not all <= 1; then float32 arithmetic.
    if (d[0] <= 1 && d[1] <= 1 && d[2] <= 1 && d[3] <= 1) return {};
    float b[4] = {float(d[0]), float(d[1]), float(d[2]), float(d[3])};
    const float cx = (b[0] + b[2]) / 2.0f, cy = (b[1] + b[3]) / 2.0f;
    const float side = std::max(b[2] - b[0], b[3] - b[1]);
    b[0] = cx - side / 2.0f;
    b[1] = cy - side / 2.0f;
    b[2] = cx + side / 2.0f;
    b[3] = cy + side / 2.0f;
    const float xmax = float(size.width - 1), ymax = float(size.height - 1);
    auto clip = [&](float* box) {
        box[0] = std::clamp(box[0], 0.0f, xmax);
        box[2] = std::clamp(box[2], 0.0f, xmax);
        box[1] = std::clamp(box[1], 0.0f, ymax);
        box[3] = std::clamp(box[3], 0.0f, ymax);
    };
    clip(b);
    // enlarge_box: 25 px, clipped again.
    b[0] -= 25.0f;
    b[1] -= 25.0f;
    b[2] += 25.0f;
    b[3] += 25.0f;
    clip(b);
    // astype(np.int32): truncation toward zero (all values are >= 0 here).
    const int x1 = int(b[0]), y1 = int(b[1]), x2 = int(b[2]), y2 = int(b[3]);
    if (x2 <= x1 || y2 <= y1) return {};
    return {x1, y1, x2 - x1, y2 - y1};
}

DualFocusQuestion parse_dual_focus_question(const std::string& text) {
    DualFocusQuestion q;
    q.full = text;
    const size_t nl = text.find('\n');
    q.question = text.substr(0, nl);
    if (nl == std::string::npos) return q;
    // Option lines "A. ..." in order right after the question.
    size_t pos = nl + 1;
    std::vector<std::string> options;
    while (pos < text.size()) {
        const size_t end = std::min(text.find('\n', pos), text.size());
        const std::string line = text.substr(pos, end - pos);
        const char letter = char('A' + options.size());
        if (line.size() >= 3 && line[0] == letter && line[1] == '.' && line[2] == ' ' &&
            options.size() < 26)
            options.push_back(line.substr(3));
        else
            break;
        pos = end + 1;
    }
    if (options.size() < 2) return q;
    q.pipeline = DualFocusPipeline::MultipleChoice;
    q.options = options;
    std::string trimmed = text;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' '))
        trimmed.pop_back();
    const std::string hint = kDualFocusLetterHint;
    if (trimmed.size() < hint.size() ||
        trimmed.compare(trimmed.size() - hint.size(), hint.size(), hint) != 0)
        q.full = trimmed + "\n" + hint;
    else
        q.full = trimmed;
    return q;
}

std::string dual_focus_score_question(const DualFocusQuestion& q) {
    if (q.pipeline == DualFocusPipeline::MultipleChoice)
        return q.question + "\nAnswer the question using a single word or phrase.";
    return "Please combine the information from these two images and answer this question:" +
           q.question + "\nAnswer the question using a single word or phrase";
}

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::string dual_focus_option_letter(const std::string& answer,
                                     const std::vector<std::string>& options) {
    if (answer.size() <= 1) return answer;
    const char first = char(std::tolower(static_cast<unsigned char>(answer[0])));
    if (first == 'a' || first == 'b' || first == 'c' || first == 'd')
        return std::string(1, answer[0]);
    const std::string a = lower(answer);
    for (size_t i = 0; i < options.size() && i < 26; ++i) {
        const std::string o = lower(options[i]);
        if (o.find(a) != std::string::npos || a.find(o) != std::string::npos)
            return std::string(1, char('A' + i));
    }
    return answer;
}

bool dual_focus_valid_letter(const std::string& letter, size_t option_count) {
    if (letter.size() != 1) return false;
    const char c = char(std::toupper(static_cast<unsigned char>(letter[0])));
    return c >= 'A' && c <= 'D' && size_t(c - 'A') < option_count;
}

}  // namespace rc
