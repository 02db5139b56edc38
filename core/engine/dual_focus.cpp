// DualFocus (../shared/docs/FORMATS.md): macro answer, box pass, micro answer on the crop,
// and the lower mean NLL of the two answers in the micro context wins.
#include "regionchat/dual_focus.h"

#include <chrono>

#include "regionchat/error.h"
#include "regionchat/preprocess.h"

namespace rc {

namespace {

void stage(const DualFocusParams& p, const char* name) {
    if (p.on_stage) p.on_stage(name);
}

bool aborted(const DualFocusParams& p) {
    return p.generate.should_abort && p.generate.should_abort();
}

}  // namespace

DualFocusResult run_dual_focus(const std::shared_ptr<Model>& model, const cv::Mat& input,
                               const std::string& question, const DualFocusParams& params) {
    const auto t0 = std::chrono::steady_clock::now();
    DualFocusResult r;
    const cv::Mat image = to_bgr8(input);
    const ImageSize size{image.cols, image.rows};
    auto finish = [&]() -> DualFocusResult& {
        r.total_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        return r;
    };

    // 1. Macro: the plain question on the whole image.
    stage(params, "macro");
    Session macro(model);
    const Reply a1 = macro.ask(question, {image}, params.generate);
    r.macro_answer = a1.text;
    r.answer = a1.text;
    if (a1.stop_reason == "abort" || aborted(params)) {
        r.aborted = true;
        return finish();
    }

    // 2. Box: where does the question look?
    stage(params, "box");
    Session focus(model);
    const Reply b = focus.ask(dual_focus_box_prompt(question), {image}, params.generate);
    r.box_answer = b.text;
    if (b.stop_reason == "abort" || aborted(params)) {
        r.aborted = true;
        return finish();
    }
    // The first 4-number group is the box (DualFocus' own parser takes the first).
    const auto boxes = model->region_format().parse(b.text, size);
    if (boxes.empty()) return finish();  // no valid box: the macro answer stands
    r.has_box = true;
    r.box = boxes.front().box;
    r.crop_rect = dual_focus_crop_rect(r.box, size);
    r.crop = dual_focus_crop(image, r.box);
    if (r.crop.empty()) {
        r.has_box = false;
        return finish();
    }

    // 3. Micro: second turn with the crop as the second image.
    stage(params, "micro");
    const std::string micro_prompt = dual_focus_micro_prompt(question);
    const Reply a2 = focus.ask(micro_prompt, {r.crop}, params.generate);
    r.micro_answer = a2.text;
    if (a2.stop_reason == "abort" || aborted(params)) {
        r.aborted = true;
        return finish();
    }

    // 4. Choice: score both answers after the box turn, in the micro context with the
    // short-answer instruction; the lower mean NLL (perplexity) wins.
    stage(params, "score");
    focus.truncate(2);  // back to the box turn; its KV cache is reused
    const std::string score_prompt = micro_prompt + kDualFocusScoreSuffix;
    r.macro_nll = focus.answer_nll(score_prompt, {r.crop}, r.macro_answer);
    r.micro_nll = focus.answer_nll(score_prompt, {r.crop}, r.micro_answer);
    r.micro_won = r.micro_nll < r.macro_nll;
    r.answer = r.micro_won ? r.micro_answer : r.macro_answer;
    return finish();
}

}  // namespace rc
