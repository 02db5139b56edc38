// The phrase a grounding box stands for (the label drawn on its overlay). Hand-written
// scanning rather than std::regex: answers are model output of any length.
#include <algorithm>
#include <cctype>
#include <string>

#include "regionchat/region_format.h"
#include "text/region_scan.h"

namespace rc {

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Removes <des>, </des>, <ref>, </ref>, <loc>, </loc>, <p>, </p> (any case).
std::string remove_tags(const std::string& s) {
    static const char* const kTags[] = {"<des>", "</des>", "<ref>", "</ref>",
                                        "<loc>", "</loc>", "<p>",   "</p>"};
    const std::string low = lower(s);
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        bool hit = false;
        for (const char* t : kTags) {
            const size_t n = std::char_traits<char>::length(t);
            if (low.compare(i, n, t) == 0) {
                i += n;
                hit = true;
                break;
            }
        }
        if (!hit) out += s[i++];
    }
    return out;
}

// Collapses runs of white space to one space and trims.
std::string simplified(const std::string& s) {
    std::string out;
    bool pending = false;
    for (char c : s) {
        if (space(c)) {
            pending = !out.empty();
            continue;
        }
        if (pending) out += ' ';
        pending = false;
        out += c;
    }
    return out;
}

// Removes box text: "<loc>...</loc>", "[a, b, c, d]" and "(a, b, c, d)" groups of numbers.
std::string remove_boxes(const std::string& answer) {
    // Parenthesised groups are scanned as bracketed ones.
    std::string squared = answer;
    std::replace(squared.begin(), squared.end(), '(', '[');
    std::replace(squared.begin(), squared.end(), ')', ']');
    std::vector<bool> drop(answer.size(), false);
    for (const region_text::Group& g : region_text::scan_groups(squared)) {
        // Only groups whose brackets match in the original text.
        if ((answer[g.begin] == '[') != (answer[g.end - 1] == ']')) continue;
        std::fill(drop.begin() + g.begin, drop.begin() + g.end, true);
    }
    const std::string low = lower(answer);
    for (size_t at = low.find("<loc>"); at != std::string::npos; at = low.find("<loc>", at + 1)) {
        const size_t close = low.find("</loc>", at);
        if (close == std::string::npos) break;
        std::fill(drop.begin() + at, drop.begin() + close + 6, true);
    }
    std::string out;
    for (size_t i = 0; i < answer.size(); ++i)
        if (!drop[i]) out += answer[i];
    return out;
}

// "where is X", "where are X", "find X", "locate X" (optionally after "please") at the start
// of `q`: X up to the first '?', '.', '!' or newline.
std::string subject_of(const std::string& q) {
    const std::string low = lower(q);
    size_t i = 0;
    auto skip = [&] {
        while (i < low.size() && space(low[i])) ++i;
    };
    auto word = [&](const char* w) {
        const size_t n = std::char_traits<char>::length(w);
        if (low.compare(i, n, w) != 0) return false;
        if (i + n < low.size() && !space(low[i + n])) return false;
        i += n;
        return true;
    };
    skip();
    const size_t before_please = i;
    if (word("please"))
        skip();
    else
        i = before_please;
    bool matched = false;
    const size_t at = i;
    if (word("where")) {
        skip();
        matched = word("is") || word("are");
    }
    if (!matched) {
        i = at;
        matched = word("find") || word("locate");
    }
    if (!matched || i >= low.size() || !space(low[i])) return {};
    skip();
    const size_t end = q.find_first_of("?.!\n", i);
    return simplified(q.substr(i, end == std::string::npos ? std::string::npos : end - i));
}

}  // namespace

std::string grounding_label(const std::string& question, const std::string& answer) {
    const std::string s = subject_of(remove_tags(question));
    if (!s.empty()) return s;
    std::string a = simplified(remove_tags(remove_boxes(answer)));
    // Leftover joints such as "at ." or a dangling comma.
    auto joint = [](char c) { return space(c) || c == ',' || c == ';' || c == ':' || c == '.'; };
    while (!a.empty() && joint(a.back())) a.pop_back();
    size_t lead = 0;
    while (lead < a.size() && joint(a[lead])) ++lead;
    a.erase(0, lead);
    return a.empty() ? "box" : a;
}

}  // namespace rc
