// SEED-Bench, image part, as LLaVA and DualFocus evaluate it (scripts/eval/eval_seed.sh,
// dualfocus/eval/model_vqa_seed.py, LLaVA's scripts/convert_seed_for_submission.py): the question
// jsonl joined with SEED-Bench.json by question_id, exact letter match per question type.
#include <map>
#include <set>

#include "bench/bench_util.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace rc {
namespace bench {

namespace {

const char* const kAnnotations = "SEED-Bench.json";
constexpr int kMaxDepth = 64;

struct SeedAnnotation {
    std::string answer;
    std::string data_type;
    int type_id = 0;
};

}  // namespace

LoadReport load_seed(const std::string& root, const LoadLimits& limits) {
    fs::path base(root), questions;
    if (detail::is_file(base)) {
        questions = base;
        base = base.parent_path();
    } else if (detail::is_dir(base)) {
        for (const char* name : {"llava-seed-bench-image.jsonl", "llava-seed-bench.jsonl"}) {
            if (detail::is_file(base / name)) {
                questions = base / name;
                break;
            }
        }
        if (questions.empty())
            throw Error("SEED: no llava-seed-bench-image.jsonl or llava-seed-bench.jsonl in '" +
                        root + "'");
    } else {
        throw Error("SEED root '" + root + "' is neither a folder nor a file");
    }
    if (!detail::is_file(base / kAnnotations))
        throw Error("SEED: no " + std::string(kAnnotations) + " (the answers) in '" +
                    base.string() + "'");

    std::string text, why;
    json doc;
    if (!detail::read_capped_file(base / kAnnotations, limits.max_file_bytes, &text, &why) ||
        !detail::parse_json(text, kMaxDepth, &doc, &why))
        throw Error("SEED: " + std::string(kAnnotations) + ": " + why);
    if (!doc.is_object() || !doc.contains("questions") || !doc["questions"].is_array())
        throw Error("SEED: " + std::string(kAnnotations) + " has no \"questions\" list");
    std::map<int, std::string> type_names;  // the file maps names to ids
    if (doc.contains("question_type") && doc["question_type"].is_object())
        for (const auto& [type_name, id] : doc["question_type"].items())
            if (id.is_number_integer()) type_names[id.get<int>()] = type_name;
    std::map<std::string, SeedAnnotation> annotations;
    for (const json& q : doc["questions"]) {
        if (!q.is_object() || !q.contains("question_id")) continue;
        const std::string qid = detail::json_id(q["question_id"]);
        if (qid.empty()) continue;
        SeedAnnotation a;
        if (q.contains("answer") && q["answer"].is_string())
            a.answer = q["answer"].get<std::string>();
        if (q.contains("data_type") && q["data_type"].is_string())
            a.data_type = q["data_type"].get<std::string>();
        if (q.contains("question_type_id") && q["question_type_id"].is_number_integer())
            a.type_id = q["question_type_id"].get<int>();
        annotations[qid] = a;
    }
    doc = json();

    if (!detail::read_capped_file(questions, limits.max_file_bytes, &text, &why))
        throw Error("SEED: " + why);
    const std::string name = questions.filename().string();
    LoadReport report;
    detail::for_each_question_line(
        text, name, "text", kMaxDepth, true, &report,
        [&](const detail::QuestionLine& line) -> std::string {
            const json& j = line.j;
            const std::string& where = line.where;
            BenchCase c;
            c.format = "seed";
            c.source = where;
            c.question_id = line.id;
            c.question = j["text"].get<std::string>();
            const auto a = annotations.find(c.question_id);
            if (a == annotations.end()) {
                return "question_id " + c.question_id + " is not in " + kAnnotations;
            }
            if (a->second.data_type != "image") {
                return "a " +
                       (a->second.data_type.empty() ? std::string("non-image")
                                                    : a->second.data_type) +
                       " question (only SEED's image part is loaded)";
            }
            // text = question, "A. ..." lines, instruction: the options are lines [1, -1).
            std::vector<std::string> option_lines = detail::split(c.question, '\n');
            if (option_lines.size() < 3) {
                return "\"text\" has no option lines between the question and the instruction";
            }
            option_lines =
                std::vector<std::string>(option_lines.begin() + 1, option_lines.end() - 1);
            if (!detail::parse_option_lines(option_lines, &c.options, &why)) {
                return why;
            }
            for (size_t k = 0; k < option_lines.size(); ++k)
                c.choices += (k ? "\n" : "") + option_lines[k];
            c.answer = a->second.answer;
            if (c.answer.size() != 1 || c.answer[0] < 'A' ||
                c.answer[0] >= char('A' + c.options.size())) {
                return "answer '" + c.answer + "' is not one of the option letters";
            }
            c.type_id = a->second.type_id;
            const auto type_name = type_names.find(c.type_id);
            c.task = type_name != type_names.end() ? type_name->second
                                                   : "type " + std::to_string(c.type_id);
            const std::string image = j["image"].get<std::string>();
            fs::path path;
            if (!detail::resolve_inside(base, image, &path, &why)) {
                return why;
            }
            if (!detail::is_file(path)) {
                return "missing image " + image;
            }
            c.id = "seed:" + c.question_id;
            c.images = {detail::absolute_path(path)};
            c.image_names = {image};
            report.cases.push_back(std::move(c));
            return std::string();
        });
    return report;
}

SeedScore score_seed(const std::vector<CaseResult>& results) {
    SeedScore s;
    for (const CaseResult& r : results) {
        const BenchCase& c = r.bench_case;
        if (c.format != "seed") continue;
        const bool hit = dualfocus_case_score(c, r.prediction) > 0;
        ++s.n;
        s.correct += hit;
        auto [it, inserted] = s.per_type.try_emplace(c.type_id, c.task, 0, 0);
        std::get<1>(it->second) += hit;
        ++std::get<2>(it->second);
    }
    s.accuracy = s.n > 0 ? double(s.correct) / s.n : 0.0;
    return s;
}

}  // namespace bench
}  // namespace rc
