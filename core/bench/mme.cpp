// MME: the Data_json/<task>.txt loader, the published yes/no parser and scorer (acc, acc+,
// task score, perception and cognition totals), and the <task>.txt result files.
#include <algorithm>
#include <fstream>
#include <map>

#include "bench/bench_util.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"

namespace fs = std::filesystem;

namespace rc {
namespace bench {

using detail::to_lower;
using detail::trim;

namespace {

// The MME task lists, in the order the published calculation prints them.
const std::vector<std::string>& perception_tasks() {
    static const std::vector<std::string> tasks = {"existence", "count",     "position", "color",
                                                   "posters",   "celebrity", "scene",    "landmark",
                                                   "artwork",   "ocr"};
    return tasks;
}

const std::vector<std::string>& cognition_tasks() {
    static const std::vector<std::string> tasks = {"commonsense_reasoning", "numerical_calculation",
                                                   "text_translation", "code_reasoning"};
    return tasks;
}

// Position of a task in the printed order: perception, cognition, then the rest.
size_t task_rank(const std::string& task) {
    const std::string t = to_lower(task);
    const auto& p = perception_tasks();
    const auto& c = cognition_tasks();
    if (auto it = std::find(p.begin(), p.end(), t); it != p.end()) return size_t(it - p.begin());
    if (auto it = std::find(c.begin(), c.end(), t); it != c.end())
        return p.size() + size_t(it - c.begin());
    return p.size() + c.size();
}

// Tabs and newlines would break the 4-column result lines.
std::string one_line(const std::string& s) {
    std::string out = s;
    for (char& ch : out)
        if (ch == '\t' || ch == '\n' || ch == '\r') ch = ' ';
    return out;
}

}  // namespace

LoadReport load_mme(const std::string& root) {
    const fs::path base(root);
    if (!detail::is_dir(base)) throw Error("MME root '" + root + "' is not a readable folder");
    const fs::path data_dir = base / "Data_json";
    if (!detail::is_dir(data_dir)) throw Error("MME root '" + root + "' has no Data_json folder");

    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(data_dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".txt" && detail::is_file(it->path()))
            files.push_back(it->path());
    }
    if (ec) throw Error("cannot list '" + data_dir.string() + "': " + ec.message());
    std::sort(files.begin(), files.end());

    LoadReport report;
    for (const fs::path& file : files) {
        const std::string task = file.stem().string();
        const std::string rel = "Data_json/" + file.filename().string();
        std::string text;
        if (!detail::read_text_file(file, &text)) {
            report.skipped.push_back(rel + ": cannot read the file");
            continue;
        }
        const std::vector<std::string> lines = detail::split_lines(text);
        for (size_t i = 0; i < lines.size(); ++i) {
            const std::string where = rel + ":" + std::to_string(i + 1);
            if (trim(lines[i]).empty()) continue;
            const std::vector<std::string> cols = detail::split(lines[i], '\t');
            if (cols.size() != 3) {
                report.skipped.push_back(where +
                                         ": expected 3 tab-separated columns (image, "
                                         "question, answer), found " +
                                         std::to_string(cols.size()));
                continue;
            }
            const std::string image = trim(cols[0]);
            const std::string answer = trim(cols[2]);
            const std::string a = to_lower(answer);
            if (image.empty()) {
                report.skipped.push_back(where + ": empty image name");
                continue;
            }
            if (a != "yes" && a != "no") {
                report.skipped.push_back(where + ": answer '" + answer + "' is not Yes or No");
                continue;
            }
            fs::path image_path;
            std::string why;
            if (!detail::resolve_inside(base / "images" / task, image, &image_path, &why)) {
                report.skipped.push_back(where + ": image '" + image + "': " + why);
                continue;
            }
            if (!detail::is_file(image_path)) {
                report.skipped.push_back(where + ": missing image images/" + task + "/" + image);
                continue;
            }
            BenchCase c;
            c.id = task + ":" + std::to_string(i + 1);
            c.format = "mme";
            c.task = task;
            c.source = where;
            c.images = {detail::absolute_path(image_path)};
            c.image_names = {image};
            c.question = cols[1];
            c.answer = answer;
            report.cases.push_back(std::move(c));
        }
    }
    return report;
}

std::string mme_parse_answer(const std::string& prediction, MmeRule rule) {
    // The published calculation.py: exact match first, then the first 4 characters (ParGo's
    // calculation_mme.py: 20).
    const std::string p = to_lower(prediction);
    if (p == "yes" || p == "no") return p;
    const std::string prefix = p.substr(0, rule == MmeRule::ParGo ? 20 : 4);
    if (prefix.find("yes") != std::string::npos) return "yes";
    if (prefix.find("no") != std::string::npos) return "no";
    return "other";
}

std::string mme_task_category(const std::string& task) {
    const size_t rank = task_rank(task);
    if (rank < perception_tasks().size()) return "perception";
    if (rank < perception_tasks().size() + cognition_tasks().size()) return "cognition";
    return {};
}

MmeRule mme_rule_from_string(const std::string& name) {
    if (name == "official") return MmeRule::Official;
    if (name == "pargo") return MmeRule::ParGo;
    throw Error("unknown MME answer rule '" + name + "' (official or pargo)");
}

MmeScore score_mme(const std::vector<CaseResult>& results, MmeRule rule) {
    struct Tally {
        MmeTaskScore score;
        std::vector<std::string> image_order;
        std::map<std::string, bool> image_all_correct;
    };
    std::vector<std::string> order;  // tasks in order of first appearance
    std::map<std::string, Tally> tallies;

    for (const CaseResult& r : results) {
        const BenchCase& c = r.bench_case;
        if (c.format != "mme") continue;
        auto [it, inserted] = tallies.try_emplace(c.task);
        Tally& t = it->second;
        if (inserted) order.push_back(c.task);
        const std::string pred = mme_parse_answer(r.prediction, rule);
        const bool ok = pred == to_lower(trim(c.answer));
        ++t.score.questions;
        if (ok) ++t.score.correct;
        if (pred == "other") ++t.score.other;
        // acc+ pairs the questions of one image (the published script pairs consecutive
        // lines, which is the same thing for well-formed files).
        const std::string image = c.image_names.empty() ? c.id : c.image_names.front();
        auto [img, first] = t.image_all_correct.try_emplace(image, true);
        if (first) t.image_order.push_back(image);
        img->second = img->second && ok;
    }

    std::stable_sort(order.begin(), order.end(), [](const std::string& a, const std::string& b) {
        return task_rank(a) < task_rank(b);
    });

    MmeScore out;
    for (const std::string& task : order) {
        Tally& t = tallies[task];
        MmeTaskScore s = t.score;
        s.task = task;
        s.category = mme_task_category(task);
        s.images = int(t.image_order.size());
        for (const auto& [image, all] : t.image_all_correct)
            if (all) ++s.images_both_correct;
        s.acc = s.questions > 0 ? double(s.correct) / s.questions : 0.0;
        s.acc_plus = s.images > 0 ? double(s.images_both_correct) / s.images : 0.0;
        s.score = 100.0 * s.acc + 100.0 * s.acc_plus;
        if (s.category == "perception") out.perception += s.score;
        if (s.category == "cognition") out.cognition += s.score;
        out.tasks.push_back(std::move(s));
    }
    return out;
}

void write_mme_results(const std::string& out_dir, const std::vector<CaseResult>& results) {
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) throw Error("cannot create '" + out_dir + "': " + ec.message());

    std::vector<std::string> order;
    std::map<std::string, std::string> contents;
    for (const CaseResult& r : results) {
        const BenchCase& c = r.bench_case;
        if (c.format != "mme") continue;
        auto [it, inserted] = contents.try_emplace(c.task);
        if (inserted) order.push_back(c.task);
        const std::string image = c.image_names.empty() ? std::string() : c.image_names.front();
        it->second += one_line(image) + "\t" + one_line(c.question) + "\t" + one_line(c.answer) +
                      "\t" + one_line(r.prediction) + "\n";
    }
    for (const std::string& task : order) {
        const fs::path path = fs::path(out_dir) / (task + ".txt");
        std::string why;
        if (!write_file_atomically(path.string(), contents[task], &why))
            throw Error("cannot write the MME results: " + why);
    }
}

MmeResultFiles read_mme_results(const std::string& results_dir) {
    if (!detail::is_dir(results_dir))
        throw Error("MME results folder '" + results_dir + "' is not a readable folder");
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(results_dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".txt" && detail::is_file(it->path()))
            files.push_back(it->path());
    }
    if (ec) throw Error("cannot list '" + results_dir + "': " + ec.message());
    std::sort(files.begin(), files.end());

    MmeResultFiles out;
    for (const fs::path& file : files) {
        const std::string task = file.stem().string();
        const std::string name = file.filename().string();
        std::string text;
        if (!detail::read_text_file(file, &text)) {
            out.skipped.push_back(name + ": cannot read the file");
            continue;
        }
        const std::vector<std::string> lines = detail::split_lines(text);
        for (size_t i = 0; i < lines.size(); ++i) {
            const std::string where = name + ":" + std::to_string(i + 1);
            if (trim(lines[i]).empty()) continue;
            const std::vector<std::string> cols = detail::split(lines[i], '\t');
            if (cols.size() != 4) {
                out.skipped.push_back(where +
                                      ": expected 4 columns (image, question, gt, "
                                      "prediction), found " +
                                      std::to_string(cols.size()));
                continue;
            }
            const std::string gt = to_lower(trim(cols[2]));
            if (gt != "yes" && gt != "no") {
                out.skipped.push_back(where + ": gt '" + cols[2] + "' is not Yes or No");
                continue;
            }
            CaseResult r;
            r.bench_case.id = task + ":" + std::to_string(i + 1);
            r.bench_case.format = "mme";
            r.bench_case.task = task;
            r.bench_case.source = where;
            r.bench_case.image_names = {trim(cols[0])};
            r.bench_case.question = cols[1];
            r.bench_case.answer = trim(cols[2]);
            r.prediction = cols[3];
            out.results.push_back(std::move(r));
        }
    }
    return out;
}

}  // namespace bench
}  // namespace rc
