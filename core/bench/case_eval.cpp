// The prompt a benchmark case sends and whether its answer is right (torch-free half of
// regionchat/bench_run.h).
#include <cctype>

#include "regionchat/bench_run.h"

namespace rc::bench {

std::string case_prompt(const BenchCase& c, const RunOptions& options) {
    if (is_dualfocus_format(c.format)) return dualfocus_prompt(c);
    if (c.format == "mmvm") {
        // The options, unless the question already lists them, and LLaVA's instruction for
        // multiple choice, so the answer is a letter.
        std::string first = c.choices.substr(0, c.choices.find('\n'));
        if (c.choices.empty() || c.question.find(first) != std::string::npos) return c.question;
        std::string choices = c.choices;
        while (!choices.empty() && choices.back() == '\n') choices.pop_back();
        return c.question + "\n" + choices +
               "\nAnswer with the option's letter from the given choices directly.";
    }
    if (c.format != "grounding") return c.question;
    std::string prompt = options.grounding_prompt;
    const std::string key = "{expression}";
    const size_t at = prompt.find(key);
    if (at == std::string::npos) return prompt + " " + c.question;
    return prompt.replace(at, key.size(), c.question);
}

bool case_correct(const CaseResult& r) {
    const BenchCase& c = r.bench_case;
    // TextVQA: right when the answer earns any VQA accuracy (matches a reference answer).
    if (is_dualfocus_format(c.format)) return dualfocus_case_score(c, r.prediction) > 0;
    if (c.format == "mme") {
        std::string gt = c.answer;
        for (auto& ch : gt) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return mme_parse_answer(r.prediction) == gt;
    }
    if (c.format == "mmvm")
        return !c.answer.empty() && mmvm_parse_letter(r.prediction, c.choices) == c.answer;
    if (c.format == "grounding")
        return c.has_box && r.has_pred_box && iou(r.pred_box, c.box) >= 0.5;
    return false;
}

}  // namespace rc::bench
