// DualFocus' fixed pieces (docs/dualfocus-reference.md): the reference box parser and crop
// (misc/boxes.py), the question split, option letters, and the rounded training-data crop
// (start floored, end ceiled: it never loses a partially covered pixel).
#include "regionchat/dual_focus_crop.h"

#include <algorithm>
#include <cctype>
#include <charconv>
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

// Python's `\d` and `\s` on str patterns are Unicode-aware: a model's answer with full-width
// digits or a no-break space matches there, so it does here. Each returns the byte length of
// the character at i (0: not one).
size_t digit_len(const std::string& t, size_t i, char* ascii) {
    const auto u = [&](size_t k) { return static_cast<unsigned char>(t[k]); };
    if (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        *ascii = t[i];
        return 1;
    }
    // Full-width digits U+FF10..U+FF19: EF BC 90..99.
    if (i + 2 < t.size() && u(i) == 0xEF && u(i + 1) == 0xBC && u(i + 2) >= 0x90 &&
        u(i + 2) <= 0x99) {
        *ascii = char('0' + (u(i + 2) - 0x90));
        return 3;
    }
    return 0;
}

size_t space_len(const std::string& t, size_t i) {
    if (i >= t.size()) return 0;
    const auto u = [&](size_t k) { return k < t.size() ? static_cast<unsigned char>(t[k]) : 0u; };
    const unsigned c = u(i);
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
    if (c == 0xC2 && (u(i + 1) == 0x85 || u(i + 1) == 0xA0)) return 2;  // U+0085, U+00A0
    if (c == 0xE1 && u(i + 1) == 0x9A && u(i + 2) == 0x80) return 3;    // U+1680
    if (c == 0xE2 && u(i + 1) == 0x80 &&
        (u(i + 2) <= 0x8A || u(i + 2) == 0xA8 || u(i + 2) == 0xA9 || u(i + 2) == 0xAF))
        return 3;  // U+2000..200A, U+2028, U+2029, U+202F
    if (c == 0xE2 && u(i + 1) == 0x81 && u(i + 2) == 0x9F) return 3;  // U+205F
    if (c == 0xE3 && u(i + 1) == 0x80 && u(i + 2) == 0x80) return 3;  // U+3000
    return 0;
}

// `\d+\.?\d*` at i: the end (npos: no match) and the number in ASCII. Greedy is the only
// match that can be followed by ',' or end the group (a shorter one ends before a digit or
// '.'), so no backtracking is needed.
size_t read_number(const std::string& t, size_t i, std::string* ascii) {
    ascii->clear();
    char d = 0;
    size_t n = digit_len(t, i, &d);
    if (!n) return std::string::npos;
    while ((n = digit_len(t, i, &d)) != 0) {
        *ascii += d;
        i += n;
    }
    if (i < t.size() && t[i] == '.') {
        *ascii += '.';
        ++i;
        while ((n = digit_len(t, i, &d)) != 0) {
            *ascii += d;
            i += n;
        }
    }
    return i;
}

}  // namespace

std::optional<std::array<double, 4>> dual_focus_find_box(const std::string& t) {
    std::string number;
    char d = 0;
    for (size_t start = 0; start < t.size(); ++start) {
        if (!digit_len(t, start, &d)) continue;
        // A match starting later in the same run of digits would end its first number at the
        // same place and fail the same way: after a failure the scan resumes past the run
        // (linear, where retrying each start would be quadratic in a long run of digits).
        size_t run_end = start;
        while (size_t n = digit_len(t, run_end, &d)) run_end += n;
        std::array<double, 4> v{};
        size_t i = start;
        bool ok = true;
        for (int k = 0; k < 4 && ok; ++k) {
            const size_t end = read_number(t, i, &number);
            if (end == std::string::npos) {
                ok = false;
                break;
            }
            // from_chars, not strtod: the C locale a Qt application installs could read "0,5".
            double value = 0;
            const auto res = std::from_chars(number.data(), number.data() + number.size(), value);
            if (res.ec == std::errc::result_out_of_range) {
                // float() gives inf for a huge number and 0 for a tiny one.
                const size_t lead = number.find_first_not_of('0');
                const size_t dot = number.find('.');
                value = lead != std::string::npos && lead != dot &&
                                (dot == std::string::npos ? number.size() : dot) > lead
                            ? HUGE_VAL
                            : 0.0;
            }
            v[k] = value;
            i = end;
            if (k < 3) {
                if (i >= t.size() || t[i] != ',') {
                    ok = false;
                    break;
                }
                ++i;
                while (size_t n = space_len(t, i)) i += n;
            }
        }
        if (ok) return v;
        start = run_end - 1;
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

std::string to_string(DualFocusScript script) {
    switch (script) {
        case DualFocusScript::TextVqa: return "textvqa";
        case DualFocusScript::Gqa: return "gqa";
        case DualFocusScript::Seed: return "seed";
        case DualFocusScript::MmBench: return "mmbench";
    }
    return "textvqa";
}

DualFocusQuestion parse_dual_focus_question(const std::string& text,
                                            DualFocusScript multiple_choice) {
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
            options.size() < 26) {
            options.push_back(line.substr(3));
            q.option_lines.push_back(line);
        } else
            break;
        pos = end + 1;
    }
    if (options.size() < 2) {
        q.option_lines.clear();
        return q;
    }
    q.script = multiple_choice == DualFocusScript::TextVqa ? DualFocusScript::Gqa : multiple_choice;
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

DualFocusQuestion mmbench_dual_focus_question(const std::string& question,
                                              const std::string& hint,
                                              const std::vector<std::string>& options) {
    DualFocusQuestion q;
    q.script = DualFocusScript::MmBench;
    q.question = question;
    q.has_context = !hint.empty();
    q.context = q.has_context ? hint : "nan";  // f"{context}" of pandas' NaN
    q.full = q.has_context ? hint + "\n" + question : question;
    for (size_t k = 0; k < options.size(); ++k) {
        q.option_lines.push_back(std::string(1, char('A' + k)) + ". " + options[k]);
        q.full += "\n" + q.option_lines.back();
    }
    q.options = options;
    q.full += std::string("\n") + kDualFocusLetterHint;
    return q;
}

namespace {

// MMBench's context_question: the hint line(s) before the question.
std::string context_question(const DualFocusQuestion& q) {
    return q.has_context ? q.context + "\n" + q.question : q.question;
}

}  // namespace

std::string dual_focus_box_turn(const DualFocusQuestion& q) {
    if (q.script == DualFocusScript::MmBench)
        return context_question(q) +
               "\nPlease provide the bounding box coordinate of the region this question asks.";
    return dual_focus_box_prompt(q.question);
}

std::string dual_focus_box_history(const DualFocusQuestion& q) {
    if (q.script == DualFocusScript::MmBench)
        return q.context + "\n" + dual_focus_box_prompt(q.question);
    return dual_focus_box_turn(q);
}

std::string dual_focus_score_question(const DualFocusQuestion& q) {
    const std::string combine =
        "Please combine the information from these two images and answer this question:";
    const std::string phrase = "Answer the question using a single word or phrase";
    switch (q.script) {
        case DualFocusScript::TextVqa: return combine + q.question + "\n" + phrase;
        case DualFocusScript::Gqa: return q.question + "\n" + phrase + ".";
        case DualFocusScript::Seed: return combine + " " + q.question + "\n" + phrase;
        case DualFocusScript::MmBench: return combine + " " + context_question(q) + " " + phrase + ".";
    }
    return {};
}

std::string dual_focus_score_human(const DualFocusQuestion& q, const std::string& box_answer) {
    return "<image>\n" + dual_focus_box_history(q) + " ASSISTANT: " + box_answer +
           "</s>USER: <image>\n" + dual_focus_score_question(q) +
           (q.script == DualFocusScript::MmBench ? " ASSISTANT:" : " ");
}

bool dual_focus_valid_letter(const std::string& letter, size_t option_count) {
    if (letter.size() != 1) return false;
    const char c = char(std::toupper(static_cast<unsigned char>(letter[0])));
    return c >= 'A' && c <= 'D' && size_t(c - 'A') < option_count;
}

}  // namespace rc
