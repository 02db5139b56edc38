// MMVM: the mllm_match_eval_full.tsv loader with the case folders' COCO polygon annotations,
// the option-letter parser and the scorer (overall and per cue type).
#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace rc {
namespace bench {

using detail::to_lower;
using detail::trim;

namespace {

const char* const kTsvName = "mllm_match_eval_full.tsv";

// A Python list literal as str() writes it: "['a.jpg', 'b.jpg']", "[1, 3]". A bare value is
// a list of one (as VLMEvalKit's toliststr does). False when the brackets or quotes are open.
bool parse_py_list(const std::string& text, std::vector<std::string>* out) {
    out->clear();
    const std::string s = trim(text);
    if (s.empty()) return false;
    std::string inner = s;
    if (s.front() == '[') {
        if (s.back() != ']') return false;
        inner = s.substr(1, s.size() - 2);
    }
    if (trim(inner).empty()) return true;
    std::string item;
    char quote = 0;
    auto finish = [&](std::string v) {
        v = trim(v);
        if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
            v = v.substr(1, v.size() - 2);
        out->push_back(v);
    };
    for (size_t i = 0; i < inner.size(); ++i) {
        const char c = inner[i];
        if (quote) {
            if (c == '\\' && i + 1 < inner.size()) {
                item += c;
                item += inner[++i];
                continue;
            }
            if (c == quote) quote = 0;
            item += c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            item += c;
        } else if (c == ',') {
            finish(item);
            item.clear();
        } else {
            item += c;
        }
    }
    if (quote) return false;
    finish(item);
    return true;
}

bool parse_int(const std::string& s, int* out) {
    const std::string t = trim(s);
    if (t.empty() || t.size() > 9) return false;
    size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
    if (i == t.size()) return false;
    for (size_t k = i; k < t.size(); ++k)
        if (!std::isdigit(static_cast<unsigned char>(t[k]))) return false;
    *out = std::stoi(t);
    return true;
}

// Reads one annotation file: a JSON list of {height, width, segmentation, id?}.
bool parse_objects(const fs::path& file, std::vector<MmvmObject>* out, std::string* error) {
    std::string text;
    if (!detail::read_text_file(file, &text)) {
        *error = "cannot read";
        return false;
    }
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) {
        *error = "not valid JSON";
        return false;
    }
    if (!j.is_array()) {
        *error = "expected a list of objects";
        return false;
    }
    for (size_t k = 0; k < j.size(); ++k) {
        const json& o = j[k];
        const std::string at = "object " + std::to_string(k);
        if (!o.is_object() || !o.contains("height") || !o.contains("width") ||
            !o["height"].is_number() || !o["width"].is_number()) {
            *error = at + ": needs numeric height and width";
            return false;
        }
        const double h = o["height"].get<double>();
        const double w = o["width"].get<double>();
        if (!(h >= 1 && h <= 1e6 && w >= 1 && w <= 1e6)) {
            *error = at + ": width and height must be between 1 and 1000000";
            return false;
        }
        MmvmObject obj;
        obj.height = int(h);
        obj.width = int(w);
        if (o.contains("id")) {
            if (!o["id"].is_number_integer()) {
                *error = at + ": id is not an integer";
                return false;
            }
            obj.id = o["id"].get<int>();
        }
        if (!o.contains("segmentation") || !o["segmentation"].is_array()) {
            *error = at + ": segmentation is not a list of polygons";
            return false;
        }
        for (const json& poly : o["segmentation"]) {
            if (!poly.is_array()) {
                *error = at + ": a polygon is not a list of numbers";
                return false;
            }
            // The published rule: keep polygons of even length with at least 3 points.
            if (poly.size() % 2 != 0 || poly.size() < 6) continue;
            std::vector<cv::Point2f> pts;
            for (size_t p = 0; p + 1 < poly.size(); p += 2) {
                if (!poly[p].is_number() || !poly[p + 1].is_number()) {
                    *error = at + ": a polygon holds a value that is not a number";
                    return false;
                }
                pts.emplace_back(poly[p].get<float>(), poly[p + 1].get<float>());
            }
            obj.polygons.push_back(std::move(pts));
        }
        out->push_back(std::move(obj));
    }
    return true;
}

// An image path from the TSV, relative to the benchmark folder; the published TSV writes
// paths relative to the evaluation kit's folder, so a path that misses is retried from its
// "match_bench/" part. Absolute paths and ".." parts are refused (empty path, `why`): a TSV
// cannot point outside its folder.
fs::path resolve_image(const fs::path& base, const std::string& p, std::string* why) {
    fs::path direct;
    if (!detail::resolve_inside(base, p, &direct, why)) return {};
    if (detail::is_file(direct)) return direct;
    const size_t at = p.find("match_bench/");
    fs::path retry;
    std::string unused;
    if (at != std::string::npos && detail::resolve_inside(base, p.substr(at), &retry, &unused) &&
        detail::is_file(retry))
        return retry;
    return direct;
}

// "A. 1\nB. 2" -> {A: "1", B: "2"}; lines without "X." are ignored.
std::vector<std::pair<char, std::string>> parse_choices(const std::string& choices) {
    std::vector<std::pair<char, std::string>> out;
    for (const std::string& raw : detail::split(choices, '\n')) {
        const std::string line = trim(raw);
        const size_t dot = line.find('.');
        if (dot == std::string::npos) continue;
        const std::string key = trim(line.substr(0, dot));
        if (key.size() != 1 || key[0] < 'A' || key[0] > 'Z') continue;
        out.emplace_back(key[0], trim(line.substr(dot + 1)));
    }
    return out;
}

}  // namespace

LoadReport load_mmvm(const std::string& root) {
    fs::path tsv(root);
    fs::path base(root);
    if (detail::is_file(tsv)) {
        base = tsv.parent_path();
    } else if (detail::is_dir(base)) {
        tsv = base / kTsvName;
    } else {
        throw Error("MMVM root '" + root + "' is neither a folder nor a .tsv file");
    }
    std::string text;
    if (!detail::read_text_file(tsv, &text))
        throw Error("cannot read the MMVM table '" + tsv.string() + "'");
    const std::string tsv_name = tsv.filename().string();

    LoadReport report;
    const std::vector<detail::TsvRecord> records = detail::parse_tsv(text);
    if (records.empty()) return report;

    std::map<std::string, size_t> column;
    for (size_t k = 0; k < records[0].fields.size(); ++k)
        column.emplace(trim(records[0].fields[k]), k);
    std::string missing;
    for (const char* name : {"index", "image_path", "question", "answer", "match_type", "choices"})
        if (!column.count(name)) missing += std::string(missing.empty() ? "" : ", ") + name;

    for (size_t r = 1; r < records.size(); ++r) {
        const detail::TsvRecord& rec = records[r];
        const std::string where = tsv_name + ":" + std::to_string(rec.line);
        auto skip = [&](const std::string& why) { report.skipped.push_back(where + ": " + why); };
        if (const std::string why = detail::tsv_row_problem(rec, records[0].fields.size(), missing);
            !why.empty()) {
            skip(why);
            continue;
        }
        auto field = [&](const char* name) { return rec.fields[column.at(name)]; };

        BenchCase c;
        c.format = "mmvm";
        c.source = where;
        const std::string index = trim(field("index"));
        if (index.empty()) {
            skip("empty index");
            continue;
        }
        c.id = "mmvm:" + index;
        c.question = field("question");
        c.choices = field("choices");
        // The kit's judge prompt reads these two (optional: older exports lack them).
        if (column.count("pure_question")) c.pure_question = field("pure_question");
        if (column.count("choices_head")) c.choices_head = trim(field("choices_head"));
        // Some exports keep newlines escaped; the choices are one option per line.
        if (c.choices.find('\n') == std::string::npos) {
            for (size_t at; (at = c.choices.find("\\n")) != std::string::npos;)
                c.choices.replace(at, 2, "\n");
        }
        c.answer = trim(field("answer"));
        if (c.answer.size() != 1 || !std::isalpha(static_cast<unsigned char>(c.answer[0]))) {
            skip("answer '" + c.answer + "' is not an option letter");
            continue;
        }
        c.answer[0] = char(std::toupper(static_cast<unsigned char>(c.answer[0])));

        // The MMVM kit's report_acc_mmatch: a match_type eval() cannot read counts as [1, 5], a
        // type outside 1..8 as SP (2), and a case counts in each listed type (a repeated one
        // twice). Scored like that here too, each fallback noted.
        std::vector<std::string> items;
        std::vector<int> cues;
        bool readable = parse_py_list(field("match_type"), &items);
        for (const std::string& item : items) {
            int cue = 0;
            if (!parse_int(item, &cue)) {
                readable = false;
                break;
            }
            cues.push_back(cue);
        }
        const std::string note = where + ": match_type '" + field("match_type") + "': ";
        if (!readable) {
            cues = {1, 5};
            report.notes.push_back(note + "unreadable, counted as CL and RP as the MMVM kit does");
        }
        for (int& cue : cues)
            if (cue < 1 || cue > 8) {
                report.notes.push_back(note + std::to_string(cue) + " counted as SP, as the MMVM kit does");
                cue = 2;
            }
        c.cue_types = cues;

        if (!parse_py_list(field("image_path"), &items) || items.empty()) {
            skip("image_path '" + field("image_path") + "' is not a list of paths");
            continue;
        }
        std::string missing_image;
        for (const std::string& p : items) {
            std::string why;
            const fs::path path = resolve_image(base, p, &why);
            if (path.empty()) {
                missing_image = p + " (" + why + ")";
                break;
            }
            if (!detail::is_file(path)) {
                missing_image = p;
                break;
            }
            c.images.push_back(detail::absolute_path(path));
            c.image_names.push_back(p);
        }
        if (!missing_image.empty()) {
            skip("missing image " + missing_image);
            continue;
        }

        // The case folder holds the annotations and the raw frames.
        const fs::path case_dir = fs::path(c.images.front()).parent_path();
        c.task = case_dir.filename().string();
        std::string error;
        const fs::path query_json = case_dir / "FRAME00.json";
        const fs::path cand_json = case_dir / "FRAME01_CAND.json";
        if (detail::is_file(query_json) && !parse_objects(query_json, &c.query_objects, &error)) {
            skip(c.task + "/FRAME00.json: " + error);
            continue;
        }
        if (detail::is_file(cand_json) && !parse_objects(cand_json, &c.candidates, &error)) {
            skip(c.task + "/FRAME01_CAND.json: " + error);
            continue;
        }
        for (const char* raw : {"FRAME00_ORI.jpg", "FRAME01_ORI.jpg"})
            if (detail::is_file(case_dir / raw))
                c.original_images.push_back(detail::absolute_path(case_dir / raw));
        report.cases.push_back(std::move(c));
    }
    return report;
}

std::string mmvm_cue_name(int cue_type) {
    static const char* const names[] = {"CL", "SP", "TM", "SZ", "RP", "OO", "BR", "OM"};
    if (cue_type < 1 || cue_type > 8) return "?";
    return names[cue_type - 1];
}

std::string mmvm_parse_letter(const std::string& prediction, const std::string& choices) {
    std::vector<std::pair<char, std::string>> options = parse_choices(choices);
    if (options.empty())
        for (char c = 'A'; c <= 'Z'; ++c) options.emplace_back(c, std::string());
    // can_infer_option
    if (prediction.find("Failed to obtain answer via API") != std::string::npos) return {};
    static const char* const kReject[] = {"Sorry, I can't help with images of people yet.",
                                          "I can't process this file.",
                                          "I'm sorry, but without the image provided",
                                          "Cannot determine the answer"};
    for (const char* r : kReject)
        if (prediction.find(r) != std::string::npos) return "Z";
    std::string mod = prediction;
    for (char& ch : mod)
        if (std::string(".()[],:;!*#{}").find(ch) != std::string::npos) ch = ' ';
    std::vector<std::string> splits;
    std::istringstream words(mod);
    for (std::string w; words >> w;) splits.push_back(w);
    auto standing = [&](const std::string& t) {
        return std::find(splits.begin(), splits.end(), t) != splits.end();
    };
    int count = 0;
    char found = 0;
    for (const auto& o : options)
        if (standing(std::string(1, o.first))) {
            ++count;
            found = o.first;
        }
    if (count == 1) return std::string(1, found);
    if (count == 0 && standing("Z")) return "Z";
    // can_infer_text: exactly one option's text occurs in the answer (lower-cased).
    const std::string lower = to_lower(prediction);
    char text_found = 0;
    int text_count = 0;
    for (const auto& [letter, text] : options) {
        if (lower.find(to_lower(text)) != std::string::npos) {
            text_found = letter;
            ++text_count;
        }
    }
    return text_count == 1 ? std::string(1, text_found) : std::string();
}

double MmvmScore::cue_accuracy(int cue_type) const {
    const auto it = per_cue.find(cue_type);
    if (it == per_cue.end() || it->second.second == 0) return 0.0;
    return double(it->second.first) / it->second.second;
}

MmvmScore score_mmvm(const std::vector<CaseResult>& results) {
    MmvmScore s;
    for (int cue = 1; cue <= 8; ++cue) s.per_cue[cue] = {0, 0};
    for (const CaseResult& r : results) {
        const BenchCase& c = r.bench_case;
        if (c.format != "mmvm") continue;
        const std::string letter = mmvm_result_letter(r);
        const bool hit = !letter.empty() && letter == detail::to_upper(trim(c.answer));
        ++s.n;
        if (hit) ++s.correct;
        for (int cue : c.cue_types) {
            auto& counts = s.per_cue[cue];
            if (hit) ++counts.first;
            ++counts.second;
        }
    }
    s.overall = s.n > 0 ? double(s.correct) / s.n : 0.0;
    return s;
}

std::string mmvm_result_letter(const CaseResult& r) {
    if (!r.judged_letter.empty()) return r.judged_letter;
    return mmvm_parse_letter(r.prediction, r.bench_case.choices);
}

std::string mmvm_question_with_options(const BenchCase& c) {
    const std::string first = c.choices.substr(0, c.choices.find('\n'));
    if (c.choices.empty() || c.question.find(first) != std::string::npos) return c.question;
    std::string choices = c.choices;
    while (!choices.empty() && choices.back() == '\n') choices.pop_back();
    return c.question + "\n" + choices;
}

std::string mmvm_judge_prompt(const BenchCase& c, const std::string& prediction) {
    // multiple_choice.py build_prompt_mmatch, word for word.
    static const std::string kQuestion =
        "Here are two images. In the second image, I have marked several visual objects with "
        "their contours in different colors, and each is identified by a white numeric ID "
        "against a background that matches the contour's color. Could you please tell me which "
        "of these marked objects is the same as the object marked with a cyan contour in the "
        "first image? Please make a choice from the following options: \n";
    std::string head = c.choices_head;
    if (head.empty()) {  // the option letters, as the TSV's choices_head lists them
        for (const std::string& line : detail::split_lines(c.choices)) {
            const std::string t = trim(line);
            const size_t dot = t.find('.');
            if (dot != std::string::npos && dot > 0)
                head += (head.empty() ? "" : ", ") + trim(t.substr(0, dot));
        }
    }
    return "You are an AI assistant who will help me to match an answer with several options of "
           "a single-choice question. You are provided with a question, several options, and an "
           "answer, and you need to find which option is most similar to the answer. If the "
           "meaning of all options are significantly different from the answer, output Z. Your "
           "should output a single uppercase character in " + head +
           " (if they are valid options), and Z. \n"
           "Example 1: \nQuestion: " + kQuestion +
           "Options: A. 1\nB. 2\nC. 3\nD. 4\nE. None of the above choices are correct\n"
           "Answer: E. None of the above choices are correct\nYour output: E\n"
           "Example 2: \nQuestion: " + kQuestion +
           "Options: A. 1\nB. 2\nC. 3\nD. 4\nE. 5\nF. None of the above choices are correct\n"
           "Answer: The object marked with a cyan contour in the first image is identified as "
           "number 4.\nYour output: D\n"
           "Example 3: \nQuestion: " + kQuestion +
           "Options: A. 1\nB. 2\nC. 3\nD. 4\nE. 5\nF. 6\nG. None of the above choices are "
           "correct\nAnswer: The object marked with a cyan contour in the first image is the same "
           "as the object marked with a cyan tour in the second image. Therefore, the answer "
           "is:\nA. 1\nYour output: A\n"
           "Example 4: \nQuestion: " + kQuestion +
           "Options: A. 1\nB. 2\nC. 3\nD. 4\nE. None of the above choices are correct\n"
           "Answer: B\nYour output: B\n"
           "Example 5: \nQuestion: " + (c.pure_question.empty() ? c.question : c.pure_question) +
           "\nOptions: " + c.choices + "\nAnswer: " + prediction + "\nYour output: ";
}

}  // namespace bench
}  // namespace rc
