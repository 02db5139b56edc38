// Shared loader helpers, LoadReport::summary, load_benchmark and the Markdown score tables.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include "bench/bench_util.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"

namespace fs = std::filesystem;

namespace rc {
namespace bench {

namespace detail {

bool read_text_file(const fs::path& path, std::string* out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out->assign(std::istreambuf_iterator<char>(in), {});
    return !in.bad();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(std::move(line));
        start = end + 1;
    }
    // A final newline does not start another line.
    if (!lines.empty() && lines.back().empty() && !text.empty() && text.back() == '\n')
        lines.pop_back();
    return lines;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t at = s.find(sep, start);
        if (at == std::string::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, at - start));
        start = at + 1;
    }
}

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n\f\v";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string to_lower(const std::string& s) {
    std::string out = s;
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

std::string to_upper(const std::string& s) {
    std::string out = s;
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    return out;
}

std::string absolute_path(const fs::path& p) {
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec);
    if (ec) abs = p;
    return abs.lexically_normal().string();
}

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

}  // namespace detail

std::string LoadReport::summary() const {
    if (skipped.empty()) return {};
    constexpr size_t kListed = 10;
    std::ostringstream out;
    out << skipped.size() << (skipped.size() == 1 ? " case" : " cases") << " skipped: ";
    for (size_t i = 0; i < skipped.size() && i < kListed; ++i) out << (i ? "; " : "") << skipped[i];
    if (skipped.size() > kListed) out << "; ... and " << skipped.size() - kListed << " more";
    return out.str();
}

LoadReport load_benchmark(const std::string& format, const std::string& root) {
    const std::string f = detail::to_lower(format);
    if (f == "mme") return load_mme(root);
    if (f == "mmvm") return load_mmvm(root);
    if (f == "grounding") return load_grounding(root);
    if (f == "textvqa") return load_textvqa(root);
    if (f == "gqa-mcq") return load_gqa_mcq(root);
    if (f == "seed") return load_seed(root);
    if (f == "mmbench") return load_mmbench(root);
    throw Error("unknown benchmark format '" + format +
                "' (expected mme, mmvm, grounding, textvqa, gqa-mcq, seed or mmbench)");
}

using detail::fixed;

std::string score_table(const MmeScore& score) {
    std::ostringstream out;
    out << "| task | category | questions | acc | acc+ | score |\n"
        << "|---|---|---:|---:|---:|---:|\n";
    for (const MmeTaskScore& t : score.tasks) {
        out << "| " << t.task << " | " << (t.category.empty() ? "-" : t.category) << " | "
            << t.questions << " | " << fixed(100 * t.acc, 2) << " | " << fixed(100 * t.acc_plus, 2)
            << " | " << fixed(t.score, 2) << " |\n";
    }
    out << "\n| total | score |\n|---|---:|\n"
        << "| perception | " << fixed(score.perception, 2) << " |\n"
        << "| cognition | " << fixed(score.cognition, 2) << " |\n";
    return out.str();
}

std::string score_table(const MmvmScore& score) {
    std::ostringstream out;
    out << "| cue | correct | total | acc |\n|---|---:|---:|---:|\n";
    out << "| Overall | " << score.correct << " | " << score.n << " | "
        << fixed(100 * score.overall, 2) << " |\n";
    for (const auto& [cue, counts] : score.per_cue) {
        out << "| " << mmvm_cue_name(cue) << " | " << counts.first << " | " << counts.second
            << " | " << (counts.second > 0 ? fixed(100 * score.cue_accuracy(cue), 2) : "-")
            << " |\n";
    }
    return out.str();
}

std::string score_table(const GroundingScore& score) {
    std::ostringstream out;
    out << "| n | Acc@0.5 | mean IoU |\n|---:|---:|---:|\n"
        << "| " << score.n << " | " << fixed(100 * score.acc_at_05, 2) << " | "
        << fixed(score.mean_iou, 4) << " |\n";
    return out.str();
}

}  // namespace bench
}  // namespace rc
