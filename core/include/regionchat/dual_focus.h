// The DualFocus pipelines as its evaluation code runs them (docs/dualfocus-reference.md): a
// macro answer on the whole image, a box pass, a micro answer with the zoomed crop as the
// second image, and a choice by perplexity. Open-ended questions follow model_vqa_textvqa.py;
// questions with lettered options ("A. ..." lines) follow model_vqa_gqa.py.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "regionchat/dual_focus_crop.h"
#include "regionchat/backend.h"
#include "regionchat/engine.h"

namespace rc {

struct DualFocusResult {
    DualFocusPipeline pipeline = DualFocusPipeline::OpenEnded;
    DualFocusScript script = DualFocusScript::TextVqa;  ///< whose wording the passes used
    std::string answer;        ///< the chosen answer
    std::string macro_answer;  ///< pass 1
    std::string box_answer;    ///< pass 2, raw text
    std::string micro_answer;  ///< pass 3 (empty when no box)
    bool has_box = false;
    Box box;               ///< pass 2's box, pixels of the image
    cv::Rect crop_rect;    ///< the square crop cut from the image
    cv::Mat crop;          ///< BGR
    double macro_nll = 0;  ///< mean NLL per answer token in the micro context
    double micro_nll = 0;
    bool micro_won = false;
    bool scored = false;  ///< false when the backend cannot score answers: both are shown
    /// Multiple choice: each answer as an option letter (process_outputs), and whether valid.
    std::string macro_letter, micro_letter;
    bool macro_valid = false, micro_valid = false;
    /// Why the answer was chosen: "no box", "perplexity", "only the macro answer is a valid
    /// option", "only the micro answer is a valid option", "no valid option", "no scoring".
    std::string decided_by;
    bool aborted = false;
    double total_ms = 0;
};

/// Stages reported to `on_stage`: "macro", "box", "micro", "score".
struct DualFocusParams {
    GenerateParams generate;  ///< on_token streams each pass; should_abort stops any pass
    std::function<void(const std::string& stage)> on_stage;
    /// The question as a benchmark script reads it (MMBench's hint and options, SEED's
    /// wording); unset: parse_dual_focus_question of the request's text (TextVQA or GQA).
    std::optional<DualFocusQuestion> question;
};

/// Runs the passes with fresh conversations of `backend` (backend.fresh()) on `request` (its
/// first image; regions as `<region N>` markers are written by the backend). The pipeline is
/// params.question's, else parse_dual_focus_question(request.text)'s. Throws rc::Error for a
/// bad image.
DualFocusResult run_dual_focus(const ChatBackend& backend, const ChatRequest& request,
                               const DualFocusParams& params = {});
/// The same on the local engine with `model`.
DualFocusResult run_dual_focus(const std::shared_ptr<Model>& model, const cv::Mat& image,
                               const std::string& question, const DualFocusParams& params = {});

}  // namespace rc
