// Running benchmark cases with a model: the prompt each case sends, one case answered with a
// fresh session, and whether an answer is right. Used by `regionchat-cli bench` and the
// app's Benchmark dock. case_prompt/case_correct are in regionchat_bench (torch-free);
// run_case is in regionchat_core.
#pragma once

#include <memory>
#include <string>

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
};

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

CaseResult run_case(const std::shared_ptr<Model>& model, const BenchCase& c,
                    const RunOptions& options = {});

}  // namespace bench
}  // namespace rc
