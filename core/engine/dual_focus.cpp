// DualFocus (../shared/docs/FORMATS.md): macro answer, box pass, micro answer on the crop,
// and the lower mean NLL of the two answers in the micro context wins.
#include "regionchat/dual_focus.h"

#include <cctype>
#include <chrono>

#include "regionchat/bench.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace rc {

namespace {

void stage(const DualFocusParams& p, const char* name) {
    if (p.on_stage) p.on_stage(name);
}

bool aborted(const DualFocusParams& p) {
    return p.generate.should_abort && p.generate.should_abort();
}

}  // namespace

namespace {

// Python's str.strip(chars) on both ends.
std::string strip_chars(const std::string& s, const char* chars) {
    const size_t a = s.find_first_not_of(chars);
    if (a == std::string::npos) return {};
    return s.substr(a, s.find_last_not_of(chars) - a + 1);
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
    // Regions are written into the question once, on the full image, so every prompt built
    // from it (box, micro, scoring) reads the same text.
    const DualFocusQuestion q =
        params.question ? *params.question
                        : parse_dual_focus_question(
                              backend.fresh()->render_question(turn(request.text, image)));
    r.pipeline = q.pipeline();
    r.script = q.script;
    const bool choice = r.pipeline == DualFocusPipeline::MultipleChoice;
    ChatRequest base = request;
    base.images[0] = image;
    base.images = images_with_visual_prompts(base);
    base.regions.clear();  // written into the question above, drawn on the image here
    const cv::Mat& shown = base.images[0];
    auto ask = [&](ChatBackend& b, const std::string& text, const cv::Mat& img) {
        ChatRequest t = base;
        t.text = text;
        t.images = {img};
        return b.ask(t, params.generate);
    };
    auto stopped = [&](const Reply& reply) {
        if (reply.stop_reason != StopReason::Abort && !aborted(params)) return false;
        r.aborted = true;
        return true;
    };

    // 1. Macro: the question on the whole image.
    stage(params, "macro");
    const Reply a1 = ask(*backend.fresh(), q.full, shown);
    r.macro_answer = a1.text;
    r.answer = a1.text;
    if (stopped(a1)) return finish();

    // 2. Box: where does the question look? (find_boxes takes the first 4-number group.)
    stage(params, "box");
    auto focus = backend.fresh();
    const Reply b = ask(*focus, dual_focus_box_turn(q), shown);
    r.box_answer = b.text;
    if (stopped(b)) return finish();
    const auto box = dual_focus_find_box(b.text);
    if (box) {
        r.crop_rect = dual_focus_reference_crop_rect(*box, size);
        r.box = Box{(*box)[0] * size.width, (*box)[1] * size.height, (*box)[2] * size.width,
                    (*box)[3] * size.height};
    }
    if (!box || r.crop_rect.empty()) {
        r.decided_by = "no box";
        return finish();  // the macro answer stands
    }
    r.has_box = true;
    r.crop = image(r.crop_rect).clone();

    // 3. Micro: the second turn, with the crop as the second image. MMBench's history carries
    // a box turn worded unlike the one the box was asked with.
    stage(params, "micro");
    if (dual_focus_box_history(q) != dual_focus_box_turn(q)) {
        focus = backend.fresh();
        ChatRequest history = base;
        history.text = dual_focus_box_history(q);
        history.images = {shown};
        focus->add_exchange(history, b.text);
    }
    const Reply a2 = ask(*focus, dual_focus_micro_prompt(q.full), r.crop);
    r.micro_answer = strip_chars(strip_chars(a2.text, "\n"), ".");
    if (stopped(a2)) return finish();

    // 4. Choice.
    std::string macro_scored = r.macro_answer, micro_scored = r.micro_answer;
    if (choice) {
        // process_outputs, as the benchmarks apply it (Python's string semantics).
        r.macro_letter = bench::dualfocus_process_outputs(r.macro_answer, q.option_lines);
        r.micro_letter = bench::dualfocus_process_outputs(r.micro_answer, q.option_lines);
        r.macro_valid = dual_focus_valid_letter(r.macro_letter, q.options.size());
        r.micro_valid = dual_focus_valid_letter(r.micro_letter, q.options.size());
        if (r.macro_valid != r.micro_valid) {
            r.answer = r.micro_valid ? r.micro_answer : r.macro_answer;
            r.micro_won = r.micro_valid;
            r.decided_by = r.micro_valid ? "only the micro answer is a valid option"
                                         : "only the macro answer is a valid option";
            return finish();
        }
        if (!r.macro_valid) {
            r.decided_by = "no valid option";
            return finish();
        }
        auto text_of = [&](const std::string& letter) {
            return q.options[size_t(std::toupper(static_cast<unsigned char>(letter[0])) - 'A')];
        };
        macro_scored = text_of(r.macro_letter);
        micro_scored = text_of(r.micro_letter);
    }
    if (!backend.info().capabilities.answer_scoring) {
        // A backend that cannot score: the micro answer, both reported.
        r.answer = r.micro_answer;
        r.micro_won = true;
        r.decided_by = "no scoring";
        return finish();
    }
    stage(params, "score");
    // The reference's scoring text: the box turn and the scoring question as ONE human turn
    // (the template's system text cut off, preprocess_v1 adds it back), the candidate after it.
    const std::string human = dual_focus_score_human(q, b.text);
    r.macro_nll = focus->score_one_turn(human, {shown, r.crop}, macro_scored);
    r.micro_nll = focus->score_one_turn(human, {shown, r.crop}, micro_scored);
    r.scored = true;
    r.micro_won = r.micro_nll < r.macro_nll;  // argmin: a tie keeps the macro answer
    r.answer = r.micro_won ? r.micro_answer : r.macro_answer;
    r.decided_by = "perplexity";
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
