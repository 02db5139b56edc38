// DualFocus' fixed pieces (../shared/docs/FORMATS.md, docs/dualfocus-reference.md): the box
// parser and zoom-in crop exactly as its evaluation code (misc/boxes.py), the wording of its
// passes, and the older rounded crop the embedded model's training data uses. OpenCV only; the
// pipeline is in dual_focus.h.
#pragma once

#include <string>

#include <opencv2/core.hpp>

#include "regionchat/region_format.h"

#include <array>
#include <optional>
#include <vector>

namespace rc {

/// DualFocus' find_boxes: the first run of four unsigned decimals joined by "," and optional
/// white space (regex `\d+\.?\d*,\s*\d+\.?\d*,\s*\d+\.?\d*,\s*\d+\.?\d*`), as written
/// (normalised x0, y0, x1, y1; no clamping, no brackets needed). Linear; never throws.
std::optional<std::array<double, 4>> dual_focus_find_box(const std::string& text);

/// The crop DualFocus' evaluation cuts for a normalised box on an image of `size`
/// (misc/boxes.py): denormalise in float64 (x * W, y * H); expand to a square of side
/// max(w, h) about the centre and clip x to [0, W-1], y to [0, H-1] (float32); add 25 px on
/// every side and clip again (float32); truncate to int; the slice [y1:y2, x1:x2] is end
/// exclusive. Empty when all four pixel coordinates are <= 1 (its only tiny-box rule, an
/// assert there) or the slice is empty.
cv::Rect dual_focus_reference_crop_rect(const std::array<double, 4>& normalized, ImageSize size);

/// The rounded crop rectangle the synthetic training data uses (start floored, end ceiled,
/// clamped to W/H): the embedded model was trained on it. `box` in pixels; empty rect for an
/// empty box.
cv::Rect dual_focus_crop_rect(const Box& box, ImageSize size, int margin = 25);
/// The cropped pixels (a deep copy); empty Mat when the rect is empty.
cv::Mat dual_focus_crop(const cv::Mat& image, const Box& box, int margin = 25);

/// "Please provide the bounding box coordinate of the region this question asks: {question}"
std::string dual_focus_box_prompt(const std::string& question);
/// "Please combine the information from these two images and answer this question: {question}"
std::string dual_focus_micro_prompt(const std::string& question);
/// Appended to the micro prompt when the two candidate answers are scored (the training data's
/// wording; the pipelines' scoring prompts are dual_focus_score_question).
extern const char* const kDualFocusScoreSuffix;

/// Which DualFocus pipeline a question takes.
enum class DualFocusPipeline {
    OpenEnded,       ///< model_vqa_textvqa.py: both answers always scored
    MultipleChoice,  ///< answers mapped to option letters, option texts scored
};

/// Which evaluation script's wording a question follows (docs/dualfocus-reference.md). The
/// chat takes TextVqa for open questions and Gqa for questions with options; the benchmarks
/// take their own.
enum class DualFocusScript {
    TextVqa,  ///< model_vqa_textvqa.py (open-ended)
    Gqa,      ///< model_vqa_gqa.py
    Seed,     ///< model_vqa_seed.py: scores with TextVQA's wording plus a space
    MmBench,  ///< model_vqa_mmbench.py: the hint as context, its own box and scoring turns
};
/// "textvqa", "gqa", "seed", "mmbench".
std::string to_string(DualFocusScript script);

/// A question split the way the evaluation scripts split it.
struct DualFocusQuestion {
    DualFocusScript script = DualFocusScript::TextVqa;
    std::string question;              ///< the first line: what the box and scoring prompts ask
    std::string full;                  ///< what the macro and micro prompts ask (options, hint)
    std::vector<std::string> options;  ///< multiple choice: the option texts, A first
    std::vector<std::string> option_lines;  ///< the same as written: "A. red", "B. blue"
    /// MMBench: the hint cell, and whether it has one (the box turn of its history writes the
    /// cell as pandas gives it, "nan" when empty).
    std::string context;
    bool has_context = false;

    DualFocusPipeline pipeline() const {
        return script == DualFocusScript::TextVqa ? DualFocusPipeline::OpenEnded
                                                  : DualFocusPipeline::MultipleChoice;
    }
};

/// The letter hint of the multiple-choice scripts.
extern const char* const kDualFocusLetterHint;

/// Reads a chat question: lines "A. text", "B. text", ... (at least two, consecutive letters
/// from A) after the question make it multiple choice (`multiple_choice` says whose wording:
/// GQA's or SEED's, whose text is the same shape); the letter hint is appended to `full` unless
/// the text already ends with it. Anything else is open-ended (TextVQA) with `full` = the text.
DualFocusQuestion parse_dual_focus_question(const std::string& text,
                                            DualFocusScript multiple_choice = DualFocusScript::Gqa);

/// An MMBench row as model_vqa_mmbench.py reads it: `hint` (empty: none) before the question,
/// the options as "\nA. text" lines, the letter hint last.
DualFocusQuestion mmbench_dual_focus_question(const std::string& question,
                                              const std::string& hint,
                                              const std::vector<std::string>& options);

/// The box turn the pass generates with (without "<image>\n"): dual_focus_box_prompt of the
/// question; MMBench: "{hint\n}{question}\nPlease provide the bounding box coordinate of the
/// region this question asks." (model_vqa_mmbench.py:150).
std::string dual_focus_box_turn(const DualFocusQuestion& q);
/// The box turn the micro and scoring passes carry as history: the same, but MMBench's is
/// "{hint or nan}\nPlease provide the bounding box coordinate of the region this question
/// asks: {question}" (model_vqa_mmbench.py:176), a text the model never generated from.
std::string dual_focus_box_history(const DualFocusQuestion& q);

/// The scoring question (PPLQ, without "<image>\n"): TextVQA (model_vqa_textvqa.py:158)
/// "Please combine the information from these two images and answer this question:{question}
/// \nAnswer the question using a single word or phrase"; GQA (model_vqa_gqa.py:182)
/// "{question}\nAnswer the question using a single word or phrase."; SEED
/// (model_vqa_seed.py:180) TextVQA's with a space after the colon; MMBench
/// (model_vqa_mmbench.py:210) "Please combine ... question: {hint\n}{question} Answer the
/// question using a single word or phrase.".
std::string dual_focus_score_question(const DualFocusQuestion& q);

/// The ONE human turn the candidates are scored after: the rendered history cut from its first
/// "<image>" - "<image>\n{box history} ASSISTANT: {box answer}</s>USER: <image>\n{PPLQ} " -
/// with MMBench's appended empty assistant turn ("... {PPLQ} ASSISTANT:") instead of the
/// trailing space.
std::string dual_focus_score_human(const DualFocusQuestion& q, const std::string& box_answer);

/// The letter, upper-cased, is one of A-D (the scripts' `.upper() in ['A','B','C','D']`) and
/// names an existing option. (The scripts then index the options with the letter as written,
/// which raises for a lower-case one or one past the options; here those are scored by the
/// upper-cased letter, and a letter past the options is not valid.)
bool dual_focus_valid_letter(const std::string& letter, size_t option_count);

}  // namespace rc
