// Running benchmark cases with a model: the prompt each case sends, one case answered with a
// fresh session, and whether an answer is right. Used by `regionchat-cli bench` and the
// app's Benchmark dock. case_prompt/case_correct are in regionchat_bench (torch-free);
// run_case is in regionchat_core.
#pragma once

#include <memory>
#include <string>

#include "regionchat/backend.h"
#include "regionchat/bench.h"
#include "regionchat/engine.h"

namespace rc {
namespace bench {

struct RunOptions {
    /// Grounding prompt; "{expression}" is replaced by the case's expression. The default is
    /// the embedded model's phrasing ("Where is the red circle?").
    std::string grounding_prompt = "Where is {expression}?";
    GenerateParams generate;
    /// TextVQA, GQA-MCQ, SEED and MMBench run DualFocus' pipeline as its evaluation scripts do
    /// (run_dual_focus with dualfocus_question); false: one answer to the macro prompt.
    bool dual_focus = true;
    /// MMVM: an LLM judge for answers the kit's can_infer cannot read (MMVMEvalKit asks
    /// gpt-3.5-turbo-0125 when an OpenAI key is set); any OpenAI-compatible server through the
    /// remote backend. nullptr (the default): unreadable answers are wrong, as the kit's
    /// exact_matching.
    ChatBackend* judge = nullptr;
};

/// MMVM as CoLVA's evaluation kit asks it of a model that reads region tokens
/// (internvl_matcher.py generate_inner): "Image-1: <image>\nImage-2: <image>\n", "Objects in
/// Image-1: <query object>" + the query's token, "Objects in Image-2: " + "<object-ID>" + token
/// per candidate by ascending ID, ".\n", "<Image-1><Image-2>" and the question with its
/// options. `originals` are the un-annotated frames the region tokens read (FRAME00_ORI.jpg,
/// FRAME01_ORI.jpg); `shown` the drawn frames the model sees. The query is FRAME00.json's first
/// object. rc::Error when the case has no query object or no candidates.
ChatRequest mmvm_region_token_request(const BenchCase& c, const std::vector<cv::Mat>& shown,
                                      const std::vector<cv::Mat>& originals);

/// The text sent to the model for a case: MME's question as written; MMVM's question with
/// its options and "Answer with the option's letter from the given choices directly."
/// (unless the question lists them already); grounding's prompt with the expression.
std::string case_prompt(const BenchCase& c, const RunOptions& options = {});

/// Whether a result is right by the benchmark's own rule: MME parsed yes/no equals the answer,
/// MMVM parsed letter equals the answer letter, grounding IoU >= 0.5.
bool case_correct(const CaseResult& result);

/// Answers one case in a fresh session: loads its images (rc::Error with the path when one
/// cannot be read), asks case_prompt (DualFocus' formats: runs its pipeline unless
/// options.dual_focus is false), and fills prediction and, for grounding, pred_box.
/// A benchmark answer cleaned as the model's family's evaluation does (ModelInfo::answer_after,
/// answer_before: ParGo's "[/INST]" and "###"); unchanged for families without one.
std::string clean_answer(const ModelInfo& info, std::string text);

/// MMVMEvalKit's answer extraction for an MMVM result whose prediction its can_infer cannot
/// read: options.judge asked up to 3 times with mmvm_judge_prompt, each reply read with
/// can_infer; then a random letter of the choices or Z (seeded by the case id), as the kit
/// does. Sets judged_letter / judged_by; nothing without a judge or when the answer reads.
void judge_mmvm(const RunOptions& options, CaseResult* result);

CaseResult run_case(const std::shared_ptr<Model>& model, const BenchCase& c,
                    const RunOptions& options = {});

}  // namespace bench
}  // namespace rc
