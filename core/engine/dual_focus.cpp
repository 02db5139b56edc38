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

DualFocusResult run_dual_focus(const ChatBackend& backend, const ChatRequest& request,
                               const DualFocusParams& params) {
    const auto t0 = std::chrono::steady_clock::now();
    DualFocusResult r;
    if (request.images.empty()) throw Error("dual focus needs an image");
    const cv::Mat image = to_bgr8(request.images.front());
    const ImageSize size{image.cols, image.rows};
    auto finish = [&]() -> DualFocusResult& {
        r.total_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        return r;
    };
    auto turn = [&](const std::string& text, const cv::Mat& img) {
        ChatRequest q = request;
        q.text = text;
        q.images = {img};
        return q;
    };

    // 1. Macro: the plain question on the whole image.
    stage(params, "macro");
    auto macro = backend.fresh();
    const Reply a1 = macro->ask(turn(request.text, image), params.generate);
    r.macro_answer = a1.text;
    r.answer = a1.text;
    if (a1.stop_reason == StopReason::Abort || aborted(params)) {
        r.aborted = true;
        return finish();
    }

    // 2. Box: where does the question look?
    stage(params, "box");
    auto focus = backend.fresh();
    const Reply b = focus->ask(turn(dual_focus_box_prompt(request.text), image), params.generate);
    r.box_answer = b.text;
    if (b.stop_reason == StopReason::Abort || aborted(params)) {
        r.aborted = true;
        return finish();
    }
    // The first 4-number group is the box (DualFocus' own parser takes the first).
    const auto boxes = focus->parse_boxes(b.text, size);
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
    const std::string micro_prompt = dual_focus_micro_prompt(request.text);
    // The crop turns refer to regions of the first image: their text is written here, and
    // nothing is drawn on the crop.
    auto crop_turn = [&](const std::string& text) {
        ChatRequest q = turn(text, r.crop);
        q.text = focus->render_question(q);
        q.regions.clear();
        return q;
    };
    const Reply a2 = focus->ask(crop_turn(micro_prompt), params.generate);
    r.micro_answer = a2.text;
    if (a2.stop_reason == StopReason::Abort || aborted(params)) {
        r.aborted = true;
        return finish();
    }

    // 4. Choice: score both answers after the box turn, in the micro context with the
    // short-answer instruction; the lower mean NLL (perplexity) wins. A backend that cannot
    // score keeps the micro answer and reports both.
    if (!backend.info().capabilities.answer_scoring) {
        r.answer = r.micro_answer;
        return finish();
    }
    stage(params, "score");
    focus->truncate(2);  // back to the box turn; its KV cache is reused
    const ChatRequest score = crop_turn(micro_prompt + kDualFocusScoreSuffix);
    r.macro_nll = focus->score(score, r.macro_answer);
    r.micro_nll = focus->score(score, r.micro_answer);
    r.scored = true;
    r.micro_won = r.micro_nll < r.macro_nll;
    r.answer = r.micro_won ? r.micro_answer : r.macro_answer;
    return finish();
}

DualFocusResult run_dual_focus(const std::shared_ptr<Model>& model, const cv::Mat& image,
                               const std::string& question, const DualFocusParams& params) {
    ChatRequest request;
    request.text = question;
    request.images = {image};
    return run_dual_focus(*make_local_backend(model), request, params);
}

}  // namespace rc
