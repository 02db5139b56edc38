// The DualFocus three-pass pipeline (../shared/docs/FORMATS.md): a macro answer on the whole
// image, a box pass, a micro answer with the zoomed crop, and a choice by perplexity.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "regionchat/dual_focus_crop.h"
#include "regionchat/backend.h"
#include "regionchat/engine.h"

namespace rc {

struct DualFocusResult {
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
    bool aborted = false;
    double total_ms = 0;
};

/// Stages reported to `on_stage`: "macro", "box", "micro", "score".
struct DualFocusParams {
    GenerateParams generate;  ///< on_token streams each pass; should_abort stops any pass
    std::function<void(const std::string& stage)> on_stage;
};

/// Runs the three passes with fresh conversations of `backend` (backend.fresh()) on
/// `request` (its first image; regions as `<region N>` markers are written by the backend).
/// Throws rc::Error for a bad image.
DualFocusResult run_dual_focus(const ChatBackend& backend, const ChatRequest& request,
                               const DualFocusParams& params = {});
/// The same on the local engine with `model`.
DualFocusResult run_dual_focus(const std::shared_ptr<Model>& model, const cv::Mat& image,
                               const std::string& question, const DualFocusParams& params = {});

}  // namespace rc
