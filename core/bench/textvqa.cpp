// TextVQA val as LLaVA and DualFocus evaluate it: the question jsonl
// (llava_textvqa_val_v051_ocr.jsonl) joined with TextVQA_0.5.1_val.json's answers by
// (image_id, question.lower()) as llava/eval/eval_textvqa.py does, and the VQA accuracy.
#include <map>

#include "bench/bench_util.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace rc {
namespace bench {

namespace {

const char* const kQuestions = "llava_textvqa_val_v051_ocr.jsonl";
const char* const kAnnotations = "TextVQA_0.5.1_val.json";
const char* const kShortAnswer = "\nAnswer the question using a single word or phrase.";
constexpr int kMaxDepth = 64;

// eval_textvqa.py's prompt_processor: the question a prompt asks, lowered; false where the
// reference fails (its regex finds nothing, or its final `assert False`).
bool question_of_prompt(const std::string& prompt, std::string* out) {
    const std::vector<std::string> lines = detail::split(prompt, '\n');
    std::string q;
    if (prompt.rfind("OCR tokens: ", 0) == 0) {
        const size_t at = prompt.find("Question: ");
        if (at == std::string::npos) return false;
        const size_t end = prompt.find(" Short answer:", at + 10);
        if (end == std::string::npos) return false;
        q = prompt.substr(at + 10, end - at - 10);
    } else if (prompt.find("Reference OCR token: ") != std::string::npos && lines.size() == 3) {
        q = prompt.rfind("Reference OCR token:", 0) == 0 ? lines[1] : lines[0];
    } else if (lines.size() == 2) {
        q = lines[0];
    } else {
        return false;
    }
    *out = detail::py_lower(q);
    return true;
}

// The ten answers of an annotation, or why not (the reference asserts exactly 10).
bool answers_of(const json& a, std::vector<std::string>* out, std::string* why) {
    if (!a.contains("answers") || !a["answers"].is_array()) {
        *why = "the annotation has no \"answers\" list";
        return false;
    }
    out->clear();
    for (const json& v : a["answers"]) {
        if (!v.is_string()) {
            *why = "an answer is not a string";
            return false;
        }
        out->push_back(v.get<std::string>());
    }
    if (out->size() != 10) {
        *why = "expected 10 answers, found " + std::to_string(out->size());
        return false;
    }
    return true;
}

// The answer most annotators wrote (the first of a tie), shown as the ground truth.
std::string most_common(const std::vector<std::string>& answers) {
    std::string best;
    int best_n = 0;
    for (const std::string& a : answers) {
        int n = 0;
        for (const std::string& b : answers) n += a == b;
        if (n > best_n) {
            best = a;
            best_n = n;
        }
    }
    return best;
}

}  // namespace

LoadReport load_textvqa(const std::string& root, const LoadLimits& limits) {
    fs::path base(root), questions;
    if (detail::is_file(base)) {
        if (base.extension() != ".json") questions = base;
        base = base.parent_path();
    } else if (detail::is_dir(base)) {
        if (detail::is_file(base / kQuestions)) questions = base / kQuestions;
    } else {
        throw Error("TextVQA root '" + root + "' is neither a folder nor a file");
    }
    const fs::path annotation_file = base / kAnnotations;
    if (!detail::is_file(annotation_file))
        throw Error("TextVQA: no " + std::string(kAnnotations) + " (the answers) in '" +
                    base.string() + "'");
    std::string text, why;
    json doc;
    if (!detail::read_capped_file(annotation_file, limits.max_file_bytes, &text, &why) ||
        !detail::parse_json(text, kMaxDepth, &doc, &why))
        throw Error("TextVQA: " + std::string(kAnnotations) + ": " + why);
    text.clear();
    if (!doc.is_object() || !doc.contains("data") || !doc["data"].is_array())
        throw Error("TextVQA: " + std::string(kAnnotations) + " has no \"data\" list");
    const json& data = doc["data"];
    const fs::path images = detail::is_dir(base / "train_images") ? base / "train_images" : base;

    LoadReport report;
    auto add_case = [&](BenchCase c, const std::string& image, const std::string& where) {
        fs::path path;
        if (!detail::resolve_inside(images, image, &path, &why)) {
            report.skipped.push_back(where + ": " + why);
            return;
        }
        if (!detail::is_file(path)) {
            report.skipped.push_back(where + ": missing image " + image);
            return;
        }
        c.format = "textvqa";
        c.task = "textvqa";
        c.source = where;
        c.images = {detail::absolute_path(path)};
        c.image_names = {image};
        c.answer = most_common(c.answers);
        report.cases.push_back(std::move(c));
    };

    if (questions.empty()) {  // TextVQA_0.5.1_val.json alone: its questions, no OCR tokens
        for (size_t i = 0; i < data.size(); ++i) {
            const std::string where =
                std::string(kAnnotations) + ":data[" + std::to_string(i) + "]";
            const json& a = data[i];
            BenchCase c;
            if (!a.is_object() || !a.contains("question") || !a["question"].is_string() ||
                !a.contains("image_id") || detail::json_id(a["image_id"]).empty()) {
                report.skipped.push_back(where + ": needs \"question\" and \"image_id\"");
                continue;
            }
            if (!answers_of(a, &c.answers, &why)) {
                report.skipped.push_back(where + ": " + why);
                continue;
            }
            c.question_id = detail::json_id(a["image_id"]);
            const std::string qid =
                a.contains("question_id") ? detail::json_id(a["question_id"]) : std::string();
            c.id = "textvqa:" + (qid.empty() ? std::to_string(i) : qid);
            c.question = a["question"].get<std::string>() + kShortAnswer;
            // TextVQA's images are <image_id>.jpg; a .png of that name is taken too.
            std::string image = c.question_id + ".jpg";
            fs::path png;
            if (!detail::is_file(images / image) &&
                detail::resolve_inside(images, c.question_id + ".png", &png, &why) &&
                detail::is_file(png))
                image = c.question_id + ".png";
            add_case(std::move(c), image, where);
        }
        return report;
    }

    // The annotations by (image_id, question.lower()); a repeated key keeps the last, as a dict.
    std::map<std::pair<std::string, std::string>, size_t> by_key;
    for (size_t i = 0; i < data.size(); ++i) {
        const json& a = data[i];
        if (!a.is_object() || !a.contains("question") || !a["question"].is_string() ||
            !a.contains("image_id"))
            continue;
        const std::string image_id = detail::json_id(a["image_id"]);
        if (!image_id.empty())
            by_key[{image_id, detail::py_lower(a["question"].get<std::string>())}] = i;
    }

    const std::string name = questions.filename().string();
    if (!detail::read_capped_file(questions, limits.max_file_bytes, &text, &why))
        throw Error("TextVQA: " + why);
    detail::for_each_question_line(text, name, "text", kMaxDepth, false, &report,
                                   [&](const detail::QuestionLine& line) -> std::string {
                                       const json& j = line.j;
                                       const std::string& where = line.where;
                                       BenchCase c;
                                       c.question_id = line.id;
                                       c.question = j["text"].get<std::string>();
                                       std::string q;
                                       if (!question_of_prompt(c.question, &q)) {
                                           return "\"text\" is not laid out as eval_textvqa.py "
                                                  "reads it (question line, optional "
                                                  "\"Reference OCR token:\" line, instruction)";
                                       }
                                       const auto found = by_key.find({c.question_id, q});
                                       if (found == by_key.end()) {
                                           return "no annotation in " + std::string(kAnnotations) +
                                                  " for image " + c.question_id +
                                                  " and question '" + q + "'";
                                       }
                                       if (!answers_of(data[found->second], &c.answers, &why)) {
                                           return why;
                                       }
                                       c.id = "textvqa:" + std::to_string(line.number);
                                       add_case(std::move(c), j["image"].get<std::string>(), where);
                                       return std::string();
                                   });
    return report;
}

TextVqaScore score_textvqa(const std::vector<CaseResult>& results) {
    TextVqaScore s;
    double sum = 0;
    for (const CaseResult& r : results) {
        if (r.bench_case.format != "textvqa") continue;
        ++s.n;
        sum += vqa_accuracy(r.prediction, r.bench_case.answers);
    }
    s.accuracy = s.n > 0 ? sum / s.n : 0.0;
    return s;
}

}  // namespace bench
}  // namespace rc
