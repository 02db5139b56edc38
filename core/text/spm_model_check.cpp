// See spm_model_check.h. Formats: protocol-buffer wire format (ModelProto.normalizer_spec = 3,
// denormalizer_spec = 5; NormalizerSpec.precompiled_charsmap = 2) and SentencePiece's charsmap
// blob: a little-endian uint32 trie size, the darts-clone units, then NUL-terminated
// replacement strings that leaf values point into.
#include "text/spm_model_check.h"

#include <cstdint>
#include <cstring>

namespace rc {

namespace {

struct Wire {
    std::string_view b;
    size_t at = 0;

    bool varint(uint64_t* v) {
        *v = 0;
        for (int shift = 0; shift < 64 && at < b.size(); shift += 7) {
            const auto byte = static_cast<unsigned char>(b[at++]);
            *v |= uint64_t(byte & 0x7f) << shift;
            if (!(byte & 0x80)) return true;
        }
        return false;
    }
};

// Calls `on(field, bytes)` for each length-delimited field of message `b`; false when `b` is
// not a well-formed message (groups, truncated fields, lengths past the end).
template <class F>
bool walk(std::string_view b, F&& on) {
    Wire w{b};
    while (w.at < b.size()) {
        uint64_t tag = 0, v = 0;
        if (!w.varint(&tag) || (tag >> 3) == 0) return false;
        switch (tag & 7) {
            case 0:
                if (!w.varint(&v)) return false;
                break;
            case 1:
                if (b.size() - w.at < 8) return false;
                w.at += 8;
                break;
            case 5:
                if (b.size() - w.at < 4) return false;
                w.at += 4;
                break;
            case 2:
                if (!w.varint(&v) || v > b.size() - w.at) return false;
                if (!on(tag >> 3, b.substr(w.at, size_t(v)))) return false;
                w.at += size_t(v);
                break;
            default:
                return false;
        }
    }
    return true;
}

uint32_t unit_at(std::string_view trie, size_t i) {
    uint32_t u;
    std::memcpy(&u, trie.data() + 4 * i, 4);
    return u;  // little-endian hosts only, as SentencePiece itself on them
}

// darts-clone's DoubleArrayUnit accessors (a unit with bit 31 set holds a leaf value).
bool has_leaf(uint32_t u) { return ((u >> 8) & 1) == 1; }
uint32_t value(uint32_t u) { return u & ((1U << 31) - 1); }
uint32_t offset(uint32_t u) { return (u >> 10) << ((u & (1U << 9)) >> 6); }

}  // namespace

std::string charsmap_problem(std::string_view blob) {
    if (blob.empty()) return {};
    if (blob.size() <= 4) return "the table is " + std::to_string(blob.size()) + " bytes";
    uint32_t trie_bytes;
    std::memcpy(&trie_bytes, blob.data(), 4);
    if (trie_bytes > blob.size() - 4)
        return "its trie claims " + std::to_string(trie_bytes) + " bytes of " +
               std::to_string(blob.size() - 4);
    if (trie_bytes == 0 || trie_bytes % 1024 != 0)
        return "its trie of " + std::to_string(trie_bytes) +
               " bytes is not whole 256-unit blocks";
    const std::string_view trie = blob.substr(4, trie_bytes);
    const std::string_view normalized = blob.substr(4 + size_t(trie_bytes));
    const size_t units = trie_bytes / 4;
    // A walk at unit j moves to t = j ^ offset(j) and reads t ^ c for every byte c, and the leaf
    // value at t: the whole 256-unit block of t must exist. Blocks are aligned, so t < units is
    // enough when units is a multiple of 256.
    for (size_t j = 0; j < units; ++j) {
        const uint32_t u = unit_at(trie, j);
        // A value unit's label never equals a byte, so the walk never enters it; the root's
        // offset is used whatever it holds.
        const bool value_unit = (u >> 31) != 0;
        if (value_unit && j != 0) continue;
        const size_t t = size_t(uint32_t(j) ^ offset(u));
        if (t >= units)
            return "unit " + std::to_string(j) + " points to unit " + std::to_string(t) + " of " +
                   std::to_string(units);
        if (has_leaf(u) && !value_unit) {
            const uint32_t v = value(unit_at(trie, t));
            if (v >= normalized.size() || normalized.find('\0', v) == std::string_view::npos)
                return "unit " + std::to_string(j) + " maps to replacement " + std::to_string(v) +
                       " outside its " + std::to_string(normalized.size()) + " bytes of strings";
        }
    }
    return {};
}

std::string sentencepiece_model_problem(std::string_view model) {
    if (model.size() > kMaxSentencePieceModelBytes)
        return "the file is " + std::to_string(model.size() >> 20) + " MB (at most " +
               std::to_string(kMaxSentencePieceModelBytes >> 20) + " MB)";
    std::string problem;
    int pieces = 0;
    const bool ok = walk(model, [&](uint64_t field, std::string_view body) {
        if (field == 1) {
            // SentencePiece puts the pieces into a darts-clone trie whose builder throws (and,
            // thrown through SentencePiece, ends the process) on an empty key or a NUL byte.
            const int index = pieces++;
            const bool piece_ok = walk(body, [&](uint64_t f, std::string_view piece) {
                if (f != 1) return true;
                if (piece.empty() || piece.find('\0') != std::string_view::npos) {
                    problem = "piece " + std::to_string(index) +
                              (piece.empty() ? " is empty" : " holds a NUL byte");
                    return false;
                }
                return true;
            });
            if (!piece_ok && problem.empty())
                problem = "piece " + std::to_string(index) + " is not a protocol-buffer message";
            return piece_ok;
        }
        if (field != 3 && field != 5) return true;
        const char* which = field == 3 ? "normalizer" : "denormalizer";
        const bool spec_ok = walk(body, [&](uint64_t f, std::string_view value) {
            if (f != 2) return true;
            std::string p = charsmap_problem(value);
            if (!p.empty()) problem = std::string("its ") + which + " table: " + p;
            return p.empty();
        });
        if (!spec_ok && problem.empty())
            problem = std::string("its ") + which + "_spec is not a protocol-buffer message";
        return spec_ok;
    });
    if (!problem.empty()) return problem;
    if (!ok) return "not a SentencePiece model (not a protocol-buffer message)";
    if (pieces == 0) return "not a SentencePiece model (no pieces)";
    return {};
}

}  // namespace rc
