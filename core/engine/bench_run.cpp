// Answering one benchmark case with the engine (the LibTorch half of regionchat/bench_run.h).
#include "regionchat/bench_run.h"

#include "regionchat/dual_focus.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace rc::bench {

std::string clean_answer(const ModelInfo& info, std::string text) {
    auto trim = [](std::string s) {
        const char* ws = " \t\r\n";
        const size_t a = s.find_first_not_of(ws);
        if (a == std::string::npos) return std::string();
        return s.substr(a, s.find_last_not_of(ws) - a + 1);
    };
    if (info.answer_after.empty() && info.answer_before.empty()) return text;
    if (!info.answer_after.empty()) {
        const size_t at = text.rfind(info.answer_after);
        if (at != std::string::npos) text = text.substr(at + info.answer_after.size());
        text = trim(text);
    }
    if (!info.answer_before.empty()) {
        const size_t at = text.find(info.answer_before);
        if (at != std::string::npos) text.resize(at);
        text = trim(text);
    }
    return text;
}

CaseResult run_case(const std::shared_ptr<Model>& model, const BenchCase& c,
                    const RunOptions& options) {
    if (c.images.empty()) throw Error(c.id + ": the case has no image");
    std::vector<cv::Mat> images;
    for (const auto& path : c.images) images.push_back(load_image(path));
    CaseResult r;
    r.bench_case = c;
    if (options.dual_focus && is_dualfocus_format(c.format)) {
        DualFocusParams params;
        params.generate = options.generate;
        params.question = dualfocus_question(c);
        const DualFocusResult d = run_dual_focus(model, images.front(), case_prompt(c), params);
        r.prediction = d.answer;
        r.dual_focus = true;
        r.macro_answer = d.macro_answer;
        r.micro_answer = d.micro_answer;
        r.decided_by = d.decided_by;
        return r;
    }
    Session session(model);
    std::string prompt = case_prompt(c, options);
    // A template that asks for one word itself (ParGo's) gets MME's questions without their
    // "Please answer yes or no.", as ParGo's MME data has them (README of bytedance/ParGo).
    if (model->info().template_asks_yes_no && c.format == "mme") {
        static const std::string kSuffix = "Please answer yes or no.";
        const size_t at = prompt.rfind(kSuffix);
        if (at != std::string::npos && at + kSuffix.size() == prompt.size()) {
            prompt.erase(at);
            while (!prompt.empty() && prompt.back() == ' ') prompt.pop_back();
            prompt += ' ';  // ParGo's questions keep the space before the removed sentence
        }
    }
    const Reply reply = session.ask(prompt, images, options.generate);
    r.prediction = clean_answer(model->info(), reply.text);
    if (!reply.boxes.empty()) {
        r.has_pred_box = true;
        r.pred_box = reply.boxes.front().box;
    }
    return r;
}

}  // namespace rc::bench
