#include "regionchat/wordpiece.h"

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "regionchat/error.h"

namespace rc {

namespace {

// UTF-8 decoding that never fails: a bad byte becomes U+FFFD (which BERT's cleaning drops).
std::vector<char32_t> decode_utf8(const std::string& s) {
    std::vector<char32_t> out;
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (n < 0 || i + size_t(n) >= s.size() + (n == 0 ? 1 : 0)) {
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        char32_t cp = n == 0 ? c : c & (0x3F >> n);
        bool ok = true;
        for (int k = 1; k <= n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + size_t(k)]);
            if ((b & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (b & 0x3F);
        }
        if (!ok) {
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += size_t(n) + 1;
    }
    return out;
}

std::string encode_utf8(char32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += char(cp);
    } else if (cp < 0x800) {
        s += char(0xC0 | (cp >> 6));
        s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += char(0xE0 | (cp >> 12));
        s += char(0x80 | ((cp >> 6) & 0x3F));
        s += char(0x80 | (cp & 0x3F));
    } else {
        s += char(0xF0 | (cp >> 18));
        s += char(0x80 | ((cp >> 12) & 0x3F));
        s += char(0x80 | ((cp >> 6) & 0x3F));
        s += char(0x80 | (cp & 0x3F));
    }
    return s;
}

bool is_whitespace(char32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_control(char32_t c) {  // Cc and Cf, but for the whitespace ones
    if (c == '\t' || c == '\n' || c == '\r') return false;
    return c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0xAD || (c >= 0x200B && c <= 0x200F) ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF;
}

bool is_punctuation(char32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return true;
    return c == 0xA1 || c == 0xA7 || c == 0xAB || c == 0xB6 || c == 0xB7 || c == 0xBB ||
           c == 0xBF || (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) ||
           (c >= 0x3001 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011) ||
           (c >= 0x3014 && c <= 0x301F) || (c >= 0xFF01 && c <= 0xFF0F);
}

bool is_cjk(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Python's str.lower() for the ranges this tokenizer knows.
char32_t lower(char32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if ((c >= 0xC0 && c <= 0xDE) && c != 0xD7) return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130) return 'i';  // İ -> i + combining dot; the dot is stripped anyway
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c % 2 == 1) ? c + 1 : c;
        if (c == 0x178) return 0xFF;
        if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
        return (c % 2 == 0) ? c + 1 : c;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;  // Greek capitals
    if (c >= 0x410 && c <= 0x42F) return c + 32;                // Cyrillic capitals
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

// The base letter NFD leaves once combining marks are dropped (lower-case input).
char32_t strip_accent(char32_t c) {
    if (c < 0xC0) return c;
    if (c <= 0xFF) {
        switch (c) {
            case 0xE0: case 0xE1: case 0xE2: case 0xE3: case 0xE4: case 0xE5: return 'a';
            case 0xE7: return 'c';
            case 0xE8: case 0xE9: case 0xEA: case 0xEB: return 'e';
            case 0xEC: case 0xED: case 0xEE: case 0xEF: return 'i';
            case 0xF1: return 'n';
            case 0xF2: case 0xF3: case 0xF4: case 0xF5: case 0xF6: return 'o';
            case 0xF9: case 0xFA: case 0xFB: case 0xFC: return 'u';
            case 0xFD: case 0xFF: return 'y';
            default: return c;  // æ, ð, ø, þ, ß and the rest have no decomposition
        }
    }
    if (c <= 0x17F) {
        static const char kExtA[] =  // U+0100-U+017F from Unicode's NFD, '-' = none
            "aaaaaaccccccccdd--eeeeeeeeeegggggggghh--iiiiiiiii---jjkk-llllll----nnnnnn---"
            "oooooo--rrrrrrsssssssstttt--uuuuuuuuuuuuwwyyyzzzzzz-";
        const char b = kExtA[c - 0x100];
        return b == '-' ? c : char32_t(b);
    }
    return c;
}

}  // namespace

WordPiece WordPiece::load(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw Error(path + ": cannot read the WordPiece vocabulary (vocab.txt)");
    if (size > (16u << 20)) throw Error(path + ": over 16 MiB, not a WordPiece vocabulary");
    std::ifstream in(path);
    std::vector<std::string> tokens;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        tokens.push_back(line);
    }
    if (tokens.empty()) throw Error(path + ": empty vocabulary");
    WordPiece w(std::move(tokens));
    if (w.unk_ < 0) throw Error(path + ": the vocabulary has no [UNK]");
    return w;
}

WordPiece::WordPiece(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
    for (size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], int(i));
    unk_ = id("[UNK]");
    // BertTokenizer's special tokens are split out of the text whole, as added ones are.
    for (const char* special : {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"})
        if (id(special) >= 0) added_.push_back(special);
}

int WordPiece::id(const std::string& token) const {
    const auto it = ids_.find(token);
    return it == ids_.end() ? -1 : it->second;
}

int WordPiece::add_token(const std::string& token) {
    if (const int existing = id(token); existing >= 0) {
        added_.push_back(token);
        return existing;
    }
    tokens_.push_back(token);
    ids_.emplace(token, int(tokens_.size()) - 1);
    added_.push_back(token);
    return int(tokens_.size()) - 1;
}

// BasicTokenizer: clean, space out CJK, split on whitespace, lower-case, strip accents, split
// punctuation off.
std::vector<std::string> WordPiece::basic(const std::string& text) const {
    std::vector<std::string> words;
    std::string cur;
    auto flush = [&] {
        if (!cur.empty()) words.push_back(cur);
        cur.clear();
    };
    for (char32_t c : decode_utf8(text)) {
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_whitespace(c)) {
            flush();
            continue;
        }
        if (is_cjk(c)) {
            flush();
            words.push_back(encode_utf8(c));
            continue;
        }
        c = lower(c);
        if (c >= 0x300 && c <= 0x36F) continue;  // combining marks (Mn)
        c = strip_accent(c);
        if (is_punctuation(c)) {
            flush();
            words.push_back(encode_utf8(c));
            continue;
        }
        cur += encode_utf8(c);
    }
    flush();
    return words;
}

void WordPiece::wordpiece(const std::string& word, std::vector<std::string>* out) const {
    if (decode_utf8(word).size() > 100) {  // max_input_chars_per_word
        out->push_back("[UNK]");
        return;
    }
    std::vector<std::string> pieces;
    size_t start = 0;
    while (start < word.size()) {
        size_t end = word.size();
        std::string found;
        while (start < end) {
            std::string sub = word.substr(start, end - start);
            if (start > 0) sub = "##" + sub;
            if (ids_.count(sub)) {
                found = sub;
                break;
            }
            // Shrink by one whole UTF-8 character.
            do {
                --end;
            } while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
        }
        if (found.empty()) {
            out->push_back("[UNK]");
            return;
        }
        pieces.push_back(found);
        start = end;
    }
    out->insert(out->end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPiece::tokenize(const std::string& text) const {
    std::vector<std::string> out;
    // Added tokens ([DEC]) are split out first and kept whole (transformers' tokens trie).
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t best = std::string::npos;
        std::string hit;
        for (const std::string& a : added_) {
            const size_t at = text.find(a, pos);
            if (at != std::string::npos && (at < best || (at == best && a.size() > hit.size()))) {
                best = at;
                hit = a;
            }
        }
        const std::string chunk = text.substr(pos, best == std::string::npos ? std::string::npos : best - pos);
        for (const std::string& w : basic(chunk)) wordpiece(w, &out);
        if (best == std::string::npos) break;
        out.push_back(hit);
        pos = best + hit.size();
    }
    return out;
}

std::vector<int> WordPiece::encode(const std::string& text) const {
    std::vector<int> ids;
    for (const std::string& t : tokenize(text)) {
        const int i = id(t);
        ids.push_back(i >= 0 ? i : unk_);
    }
    return ids;
}

}  // namespace rc
