// DualFocus' four benchmarks: score tables and one-line summaries, and telling a benchmark's
// format from its folder.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "bench/bench_util.h"
#include "regionchat/bench.h"

namespace fs = std::filesystem;

namespace rc {
namespace bench {

using detail::fixed;

namespace {

std::string percent(int right, int total) {
    return (total > 0 ? fixed(100.0 * right / total, 2) + "%" : std::string("-")) + " (" +
           std::to_string(right) + "/" + std::to_string(total) + ")";
}

// The first line of a TSV (at most 64 KiB read), split on tabs.
std::vector<std::string> tsv_header(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string head(64 * 1024, '\0');
    in.read(&head[0], static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    head = head.substr(0, head.find('\n'));
    std::vector<std::string> cols = detail::split(head, '\t');
    for (std::string& c : cols) c = detail::trim(c);
    return cols;
}

bool has(const std::vector<std::string>& cols, const char* name) {
    return std::find(cols.begin(), cols.end(), name) != cols.end();
}

std::string tsv_format(const fs::path& p) {
    const std::vector<std::string> cols = tsv_header(p);
    if (has(cols, "index") && has(cols, "question") && has(cols, "A") && has(cols, "B") &&
        has(cols, "image") && !has(cols, "image_path"))
        return "mmbench";
    return "mmvm";
}

}  // namespace

std::string score_table(const TextVqaScore& score) {
    std::ostringstream out;
    out << "| n | VQA accuracy |\n|---:|---:|\n"
        << "| " << score.n << " | " << fixed(100 * score.accuracy, 2) << " |\n";
    return out.str();
}

std::string score_table(const GqaScore& score) {
    std::ostringstream out;
    out << "| n | correct | accuracy |\n|---:|---:|---:|\n"
        << "| " << score.n << " | " << score.correct << " | " << fixed(100 * score.accuracy, 2)
        << " |\n";
    return out.str();
}

std::string score_table(const SeedScore& score) {
    std::ostringstream out;
    out << "| question type | correct | total | acc |\n|---|---:|---:|---:|\n";
    for (const auto& [id, t] : score.per_type)
        out << "| " << std::get<0>(t) << " (" << id << ") | " << std::get<1>(t) << " | "
            << std::get<2>(t) << " | "
            << fixed(std::get<2>(t) > 0 ? 100.0 * std::get<1>(t) / std::get<2>(t) : 0.0, 2)
            << " |\n";
    out << "| **image total** | " << score.correct << " | " << score.n << " | "
        << fixed(100 * score.accuracy, 2) << " |\n";
    return out.str();
}

std::string score_table(const MmbenchScore& score) {
    std::ostringstream out;
    out << "| score | acc (right/total) |\n|---|---:|\n"
        << "| circular (questions, every rotation right) | "
        << percent(score.groups_correct, score.groups) << " |\n"
        << "| vanilla (main rows, index < 1000000) | "
        << percent(score.main_correct, score.main_rows) << " |\n"
        << "| per row (every answered row) | " << percent(score.rows_correct, score.rows) << " |\n";
    if (!score.per_category.empty()) {
        out << "\n| category | circular |\n|---|---:|\n";
        for (const auto& [name, ct] : score.per_category)
            out << "| " << name << " | " << percent(ct.first, ct.second) << " |\n";
    }
    return out.str();
}

std::string dualfocus_score_table(const std::string& format,
                                  const std::vector<CaseResult>& results) {
    if (format == "textvqa") return score_table(score_textvqa(results));
    if (format == "gqa-mcq") return score_table(score_gqa_mcq(results));
    if (format == "seed") return score_table(score_seed(results));
    if (format == "mmbench") return score_table(score_mmbench(results));
    return {};
}

std::string dualfocus_score_line(const std::string& format,
                                 const std::vector<CaseResult>& results) {
    if (format == "textvqa") {
        const TextVqaScore s = score_textvqa(results);
        return "VQA accuracy " + fixed(100 * s.accuracy, 1) + "% over " + std::to_string(s.n) +
               " questions.";
    }
    if (format == "gqa-mcq") {
        const GqaScore s = score_gqa_mcq(results);
        return "Accuracy " + percent(s.correct, s.n) + ".";
    }
    if (format == "seed") {
        const SeedScore s = score_seed(results);
        std::string line = "Image accuracy " + percent(s.correct, s.n) + ".";
        for (const auto& [id, t] : s.per_type)
            line += " " + std::get<0>(t) + " " + std::to_string(std::get<1>(t)) + "/" +
                    std::to_string(std::get<2>(t)) + ";";
        if (line.back() == ';') line.back() = '.';
        return line;
    }
    if (format == "mmbench") {
        const MmbenchScore s = score_mmbench(results);
        return "Circular " + percent(s.groups_correct, s.groups) + ", vanilla " +
               percent(s.main_correct, s.main_rows) + ", per row " +
               percent(s.rows_correct, s.rows) + ".";
    }
    return {};
}

std::string guess_benchmark_format(const std::string& root) {
    const fs::path p(root);
    const std::string name = detail::to_lower(p.filename().string());
    if (detail::is_file(p)) {
        const std::string ext = p.extension().string();
        if (ext == ".tsv") return tsv_format(p);
        if (name.find("textvqa") != std::string::npos) return "textvqa";
        if (ext == ".jsonl" && name.find("gqa") != std::string::npos &&
            name.find("mcq") != std::string::npos)
            return "gqa-mcq";
        if (ext == ".jsonl" && name.find("seed") != std::string::npos) return "seed";
        return "grounding";  // any other file, as the app always guessed
    }
    if (!detail::is_dir(p)) return {};
    if (detail::is_dir(p / "Data_json")) return "mme";
    if (detail::is_file(p / "mllm_match_eval_full.tsv")) return "mmvm";
    if (detail::is_file(p / "TextVQA_0.5.1_val.json")) return "textvqa";
    if (detail::is_file(p / "llava_gqa_testdev_balanced_mcq.jsonl")) return "gqa-mcq";
    if (detail::is_file(p / "SEED-Bench.json")) return "seed";
    std::vector<fs::path> tsvs;
    bool jsonl = false;
    std::error_code ec;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        if (!detail::is_file(it->path())) continue;
        if (it->path().extension() == ".tsv") tsvs.push_back(it->path());
        if (it->path().extension() == ".jsonl") jsonl = true;
    }
    for (const fs::path& t : tsvs)
        if (tsv_format(t) == "mmbench") return "mmbench";
    return jsonl ? "grounding" : "";
}

}  // namespace bench
}  // namespace rc
