// DualFocus' four benchmarks: the prompt each case sends, how an answer becomes what the
// published pipeline scores (process_outputs, MMBench's can_infer, GQA's option text), and
// whether it is right.
#include <algorithm>

#include "bench/bench_util.h"
#include "regionchat/bench.h"

namespace rc {
namespace bench {

using detail::py_lower;

namespace {

const char* const kLetterHint = "Answer with the option's letter from the given choices directly.";

// "A. text" lines rebuilt from the option texts (what GQA and SEED pass to process_outputs).
std::vector<std::string> option_lines(const BenchCase& c) {
    std::vector<std::string> lines;
    for (size_t k = 0; k < c.options.size(); ++k)
        lines.push_back(std::string(1, char('A' + k)) + ". " + c.options[k]);
    return lines;
}

// The option index of a one-letter answer among A-D (the scripts' all_options), or -1.
int letter_index(const std::string& answer, size_t options) {
    if (answer.size() != 1) return -1;
    const char u = detail::to_upper(answer)[0];
    if (u < 'A' || u > 'D' || size_t(u - 'A') >= options) return -1;
    return u - 'A';
}

}  // namespace

namespace detail {

bool parse_option_lines(const std::vector<std::string>& lines, std::vector<std::string>* texts,
                        std::string* why) {
    texts->clear();
    if (lines.size() < 2) {
        *why = "fewer than two option lines";
        return false;
    }
    if (lines.size() > 26) {
        *why = "more than 26 option lines";
        return false;
    }
    for (size_t k = 0; k < lines.size(); ++k) {
        const std::string prefix = std::string(1, char('A' + k)) + ". ";
        if (lines[k].compare(0, prefix.size(), prefix) != 0) {
            *why = "option line " + std::to_string(k + 1) + " does not start with \"" + prefix +
                   "\"";
            return false;
        }
        texts->push_back(lines[k].substr(prefix.size()));
    }
    return true;
}

}  // namespace detail

bool is_dualfocus_format(const std::string& format) {
    return format == "textvqa" || format == "gqa-mcq" || format == "seed" || format == "mmbench";
}

std::string dualfocus_process_outputs(const std::string& answer,
                                      const std::vector<std::string>& options) {
    if (detail::py_len(answer) <= 1) return answer;
    const std::string first = detail::py_first(answer);
    const std::string f = py_lower(first);
    if (f == "a" || f == "b" || f == "c" || f == "d") return first;  // case kept
    const std::string a = py_lower(answer);
    for (size_t i = 0; i < options.size() && i < 26; ++i) {
        const std::string o = py_lower(options[i]);
        if (o.find(a) != std::string::npos || a.find(o) != std::string::npos)
            return std::string(1, char('A' + i));
    }
    return answer;
}

std::string mmbench_can_infer(const std::string& prediction,
                              const std::vector<std::string>& options) {
    const size_t n = std::min<size_t>(options.size(), 26);
    // can_infer_option (VERBOSE off); "Failed to obtain answer via API" skips it.
    if (prediction.find("Failed to obtain answer via API") == std::string::npos) {
        for (const char* reject :
             {"Sorry, I can't help with images of people yet.", "I can't process this file.",
              "I'm sorry, but without the image provided", "Cannot determine the answer"})
            if (prediction.find(reject) != std::string::npos) return "Z";
        std::string mod = prediction;
        for (char& ch : mod)
            if (std::string(".()[],:;!*#{}").find(ch) != std::string::npos) ch = ' ';
        const std::vector<std::string> splits = detail::py_split(mod);
        auto standing = [&](const std::string& s) {
            return std::find(splits.begin(), splits.end(), s) != splits.end();
        };
        std::string found;
        int count = 0;
        for (size_t k = 0; k < n; ++k) {
            const std::string letter(1, char('A' + k));
            if (standing(letter)) {
                if (found.empty()) found = letter;
                ++count;
            }
        }
        if (count == 1) return found;
        if (count == 0 && standing("Z")) return "Z";
    }
    // can_infer_text: exactly one option's (lower-cased) text inside the answer.
    const std::string lower = py_lower(prediction);
    std::string found;
    int count = 0;
    for (size_t k = 0; k < n; ++k) {
        if (lower.find(py_lower(options[k])) != std::string::npos) {
            found = std::string(1, char('A' + k));
            ++count;
        }
    }
    return count == 1 ? found : std::string();
}

std::string dualfocus_scored_answer(const BenchCase& c, const std::string& prediction) {
    // generate() strips what it decodes; process_outputs maps the answer to a letter.
    const std::string answer = detail::py_strip(prediction);
    if (c.format == "gqa-mcq") {
        std::string out = dualfocus_process_outputs(answer, option_lines(c));
        // A letter becomes its option's text (the reference indexes with ord(letter) - 65, so a
        // lower-case letter would raise there; we read it as its capital), then
        // convert_gqa_for_eval.py writes text.rstrip('.').lower().
        const int k = letter_index(out, c.options.size());
        if (k >= 0) out = c.options[size_t(k)];
        return py_lower(detail::py_rstrip(out, "."));
    }
    if (c.format == "seed") return dualfocus_process_outputs(answer, option_lines(c));
    if (c.format == "mmbench")
        return mmbench_can_infer(dualfocus_process_outputs(answer, c.options), c.options);
    return answer;
}

double dualfocus_case_score(const BenchCase& c, const std::string& prediction) {
    if (c.format == "textvqa") return vqa_accuracy(prediction, c.answers);
    if (c.format == "gqa-mcq" || c.format == "seed" || c.format == "mmbench")
        return !c.answer.empty() && dualfocus_scored_answer(c, prediction) == c.answer ? 1.0 : 0.0;
    return 0.0;
}

std::string dualfocus_prompt(const BenchCase& c) {
    if (c.format == "gqa-mcq") return c.question + "\n" + kLetterHint;
    if (c.format == "mmbench") {
        std::string q = c.hint.empty() ? c.question : c.hint + "\n" + c.question;
        for (size_t k = 0; k < c.options.size(); ++k)
            q += std::string("\n") + char('A' + k) + ". " + c.options[k];
        return q + "\n" + kLetterHint;
    }
    return c.question;  // TextVQA and SEED: the jsonl text as written
}

DualFocusQuestion dualfocus_question(const BenchCase& c) {
    if (c.format == "mmbench") return mmbench_dual_focus_question(c.question, c.hint, c.options);
    if (c.format == "textvqa") {  // open-ended whatever its later lines hold (OCR tokens)
        DualFocusQuestion q;
        q.question = c.question.substr(0, c.question.find('\n'));
        q.full = c.question;
        return q;
    }
    return parse_dual_focus_question(
        dualfocus_prompt(c), c.format == "seed" ? DualFocusScript::Seed : DualFocusScript::Gqa);
}

}  // namespace bench
}  // namespace rc
