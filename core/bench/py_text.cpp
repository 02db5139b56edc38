// Python's str.lower/strip/split/len on UTF-8 text, as far as benchmark answers need them:
// the reference scoring scripts apply these to the model's answers, so ours must agree.
#include "bench/bench_util.h"

namespace rc {
namespace bench {
namespace detail {

namespace {

struct CodePoint {
    uint32_t value = 0;
    size_t size = 1;  // bytes in the text
};

// The code point at `i`; a byte that does not start valid UTF-8 is its own "code point".
CodePoint decode_at(const std::string& s, size_t i) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return {b, 1};
    int extra = 0;
    uint32_t v = 0;
    if ((b & 0xE0) == 0xC0) {
        extra = 1;
        v = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
        extra = 2;
        v = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
        extra = 3;
        v = b & 0x07;
    } else {
        return {b, 1};
    }
    if (i + extra >= s.size()) return {b, 1};  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
        const unsigned char c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) return {b, 1};
        v = (v << 6) | (c & 0x3F);
    }
    return {v, static_cast<size_t>(extra) + 1};
}

void append_utf8(std::string* out, uint32_t v) {
    if (v < 0x80) {
        out->push_back(static_cast<char>(v));
    } else if (v < 0x800) {
        out->push_back(static_cast<char>(0xC0 | (v >> 6)));
        out->push_back(static_cast<char>(0x80 | (v & 0x3F)));
    } else if (v < 0x10000) {
        out->push_back(static_cast<char>(0xE0 | (v >> 12)));
        out->push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (v & 0x3F)));
    } else {
        out->push_back(static_cast<char>(0xF0 | (v >> 18)));
        out->push_back(static_cast<char>(0x80 | ((v >> 12) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (v & 0x3F)));
    }
}

// str.isspace() for one code point.
bool is_space(uint32_t v) {
    return (v >= 0x09 && v <= 0x0D) || (v >= 0x1C && v <= 0x20) || v == 0x85 || v == 0xA0 ||
           v == 0x1680 || (v >= 0x2000 && v <= 0x200A) || v == 0x2028 || v == 0x2029 ||
           v == 0x202F || v == 0x205F || v == 0x3000;
}

// The lower case of a capital in the blocks covered (no final-sigma rule); 0 when unchanged.
uint32_t lower_of(uint32_t v) {
    if (v >= 'A' && v <= 'Z') return v + 32;
    if (v < 0xC0) return 0;
    if (v <= 0xDE) return v == 0xD7 ? 0 : v + 32;
    if (v >= 0x100 && v <= 0x137) return (v % 2 == 0 && v != 0x130) ? v + 1 : 0;
    if (v >= 0x139 && v <= 0x148) return v % 2 == 1 ? v + 1 : 0;
    if (v >= 0x14A && v <= 0x177) return v % 2 == 0 ? v + 1 : 0;
    if (v == 0x178) return 0xFF;
    if (v >= 0x179 && v <= 0x17E) return v % 2 == 1 ? v + 1 : 0;
    if (v == 0x386) return 0x3AC;
    if (v >= 0x388 && v <= 0x38A) return v + 37;
    if (v == 0x38C) return 0x3CC;
    if (v == 0x38E || v == 0x38F) return v + 63;
    if (v >= 0x391 && v <= 0x3A9) return v == 0x3A2 ? 0 : v + 32;
    if (v >= 0x400 && v <= 0x40F) return v + 80;
    if (v >= 0x410 && v <= 0x42F) return v + 32;
    return 0;
}

}  // namespace

std::string py_lower(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const CodePoint cp = decode_at(s, i);
        const unsigned char b = static_cast<unsigned char>(s[i]);
        if (cp.size == 1 && b >= 0x80) {
            out.push_back(s[i]);  // not UTF-8: kept as it is
        } else if (cp.value == 0x130) {
            out += "i\xCC\x87";  // U+0130 lowers to "i" + combining dot above, as in Python
        } else if (const uint32_t l = lower_of(cp.value)) {
            append_utf8(&out, l);
        } else {
            out.append(s, i, cp.size);
        }
        i += cp.size;
    }
    return out;
}

std::string py_strip(const std::string& s) {
    size_t begin = 0, end = 0;  // first byte kept, one past the last
    bool any = false;
    for (size_t i = 0; i < s.size();) {
        const CodePoint cp = decode_at(s, i);
        if (!is_space(cp.value) || (cp.size == 1 && static_cast<unsigned char>(s[i]) >= 0x80)) {
            if (!any) begin = i;
            any = true;
            end = i + cp.size;
        }
        i += cp.size;
    }
    return any ? s.substr(begin, end - begin) : std::string();
}

std::vector<std::string> py_split(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    bool in_word = false;
    for (size_t i = 0; i < s.size();) {
        const CodePoint cp = decode_at(s, i);
        const bool space =
            is_space(cp.value) && !(cp.size == 1 && static_cast<unsigned char>(s[i]) >= 0x80);
        if (space) {
            if (in_word) out.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur.append(s, i, cp.size);
            in_word = true;
        }
        i += cp.size;
    }
    if (in_word) out.push_back(std::move(cur));
    return out;
}

size_t py_len(const std::string& s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++n) i += decode_at(s, i).size;
    return n;
}

std::string py_first(const std::string& s) {
    if (s.empty()) return {};
    return s.substr(0, decode_at(s, 0).size);
}

std::string py_rstrip(const std::string& s, const std::string& chars) {
    const size_t last = s.find_last_not_of(chars);
    return last == std::string::npos ? std::string() : s.substr(0, last + 1);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    if (from.empty()) return s;
    for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
        s.replace(at, from.size(), to);
    return s;
}

}  // namespace detail
}  // namespace bench
}  // namespace rc
