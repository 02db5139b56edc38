// GQA-MCQ as DualFocus evaluates it (scripts/eval/eval_gqa.sh, dualfocus/eval/model_vqa_gqa.py,
// scripts/convert_gqa_for_eval.py): the question jsonl, GQA's testdev questions file for the
// answers, and GQA's accuracy on the option text the model picked.
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

const char* const kQuestions = "llava_gqa_testdev_balanced_mcq.jsonl";
const char* const kAnswers = "data/testdev_balanced_questions.json";
constexpr int kMaxDepth = 64;

}  // namespace

LoadReport load_gqa_mcq(const std::string& root, const LoadLimits& limits) {
    fs::path base(root), questions;
    if (detail::is_file(base)) {
        questions = base;
        base = base.parent_path();
    } else if (detail::is_dir(base)) {
        questions = base / kQuestions;
        if (!detail::is_file(questions))
            throw Error("GQA-MCQ: no " + std::string(kQuestions) + " in '" + root + "'");
    } else {
        throw Error("GQA-MCQ root '" + root + "' is neither a folder nor a file");
    }

    // GQA's questions file: {"<question id>": {"answer": ..., ...}, ...}.
    std::map<std::string, std::string> answers;
    bool have_answers = false;
    std::string text, why;
    if (detail::is_file(base / kAnswers)) {
        json doc;
        if (!detail::read_capped_file(base / kAnswers, limits.max_file_bytes, &text, &why) ||
            !detail::parse_json(text, kMaxDepth, &doc, &why))
            throw Error("GQA-MCQ: " + std::string(kAnswers) + ": " + why);
        if (!doc.is_object())
            throw Error("GQA-MCQ: " + std::string(kAnswers) + " is not an object of questions");
        for (const auto& [qid, q] : doc.items())
            if (q.is_object() && q.contains("answer") && q["answer"].is_string())
                answers[qid] = q["answer"].get<std::string>();
        have_answers = true;
    }
    const fs::path images = base / "data" / "images";

    if (!detail::read_capped_file(questions, limits.max_file_bytes, &text, &why))
        throw Error("GQA-MCQ: " + why);
    const std::string name = questions.filename().string();
    LoadReport report;
    detail::for_each_question_line(
        text, name, "question", kMaxDepth, true, &report,
        [&](const detail::QuestionLine& line) -> std::string {
            const json& j = line.j;
            const std::string& where = line.where;
            BenchCase c;
            c.format = "gqa-mcq";
            c.task = "gqa-mcq";
            c.source = where;
            c.question_id = line.id;
            c.question = j["question"].get<std::string>();
            // The question's first line, then one "A. text" line per option.
            std::vector<std::string> option_lines = detail::split(c.question, '\n');
            option_lines.erase(option_lines.begin());
            if (!detail::parse_option_lines(option_lines, &c.options, &why)) {
                return why;
            }
            for (size_t k = 0; k < option_lines.size(); ++k)
                c.choices += (k ? "\n" : "") + option_lines[k];

            const auto a = answers.find(c.question_id);
            if (a != answers.end()) {
                c.answer = a->second;
            } else if (j.contains("answer") && j["answer"].is_string()) {
                c.answer = j["answer"].get<std::string>();
            } else {
                return "no answer for question_id " + c.question_id +
                       (have_answers
                            ? std::string(" in ") + kAnswers
                            : std::string(" (no ") + kAnswers + ", no \"answer\" in the line)");
            }
            const std::string image = j["image"].get<std::string>();
            fs::path path;
            if (!detail::resolve_inside(images, image, &path, &why)) {
                return why;
            }
            if (!detail::is_file(path)) {
                return "missing image data/images/" + image;
            }
            c.id = "gqa-mcq:" + c.question_id;
            c.images = {detail::absolute_path(path)};
            c.image_names = {image};
            report.cases.push_back(std::move(c));
            return std::string();
        });
    return report;
}

GqaScore score_gqa_mcq(const std::vector<CaseResult>& results) {
    GqaScore s;
    for (const CaseResult& r : results) {
        if (r.bench_case.format != "gqa-mcq") continue;
        ++s.n;
        if (dualfocus_case_score(r.bench_case, r.prediction) > 0) ++s.correct;
    }
    s.accuracy = s.n > 0 ? double(s.correct) / s.n : 0.0;
    return s;
}

}  // namespace bench
}  // namespace rc
