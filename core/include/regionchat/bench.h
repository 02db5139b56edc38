// Benchmarks: loaders for MME, MMVM and grounding JSONL sets and for DualFocus' four (TextVQA
// val, GQA-MCQ, SEED-Bench image, MMBench dev), the published answer parsers and scorers, the
// MME result-file layout, and the MMVM visual-prompt drawing.
// Formats follow ../shared/docs/FORMATS.md ("MME benchmark", "MMVM benchmark") and, for
// DualFocus' benchmarks, the LLaVA / DualFocus evaluation scripts named where each is declared.
// Torch-free and Qt-free. Loaders never throw for a bad line: they count and list it in
// LoadReport::skipped and load the rest; they throw rc::Error only when the root itself is
// missing or unreadable.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "regionchat/dual_focus_crop.h"
#include "regionchat/region_format.h"

namespace rc {
namespace bench {

/// One annotated object of an MMVM frame (FRAME00.json / FRAME01_CAND.json).
struct MmvmObject {
    int id = -1;  ///< the candidate's numeric id as drawn; -1 when the annotation has none
    /// COCO polygons in pixels of a width x height image; only polygons with an even number
    /// of values and at least 3 points are kept, as the published code does.
    std::vector<std::vector<cv::Point2f>> polygons;
    int width = 0;
    int height = 0;
};

/// One question of a benchmark.
struct BenchCase {
    std::string id;      ///< unique within a load: "color:7", "mmvm:12", "refcoco_val:3"
    std::string format;  ///< "mme" | "mmvm" | "grounding"
    /// MME: the task ("color"); MMVM: the case folder ("case_0001"); grounding: file stem.
    std::string task;
    std::string source;                    ///< where it came from: "Data_json/color.txt:7"
    std::vector<std::string> images;       ///< absolute paths, in the order the model sees them
    std::vector<std::string> image_names;  ///< the same images as the source file writes them
    std::string question;                  ///< MMVM: the full prompt; grounding: the expression
    std::string answer;                    ///< MME: "Yes"/"No" as written; MMVM: the letter
    bool has_box = false;                  ///< grounding: `box` holds the ground truth
    Box box;                               ///< grounding ground truth, pixels
    std::vector<int> cue_types;            ///< MMVM cue types 1..8 (see mmvm_cue_name)
    std::string choices;                   ///< MMVM: "A. 1\nB. 2\n..."
    /// MMVM's TSV pure_question and choices_head columns (the kit's judge prompt), when present.
    std::string pure_question, choices_head;
    /// MMVM: the raw frames FRAME00_ORI.jpg, FRAME01_ORI.jpg when present (for redrawing).
    std::vector<std::string> original_images;
    std::vector<MmvmObject> query_objects;  ///< MMVM FRAME00.json (the published code uses [0])
    std::vector<MmvmObject> candidates;     ///< MMVM FRAME01_CAND.json

    // DualFocus' benchmarks ("textvqa", "gqa-mcq", "seed", "mmbench"). For them `question` is
    // what the source writes (TextVQA/SEED: the jsonl `text`; GQA: the question with its option
    // lines; MMBench: the question column), `answer` the ground truth (GQA: the answer text;
    // SEED/MMBench: the letter; TextVQA: the most frequent reference answer, for display) and
    // `choices` the options as "A. text" lines.
    /// The benchmark's own id as written: TextVQA's jsonl question_id (the image id), GQA's and
    /// SEED's question_id, MMBench's index.
    std::string question_id;
    std::vector<std::string> answers;  ///< TextVQA: the 10 reference answers, as written
    std::vector<std::string> options;  ///< GQA-MCQ/SEED/MMBench: option texts, A first, no "A. "
    std::string hint;                  ///< MMBench: the hint column, "" when it has none
    /// MMBench: index % 1000000, shared by the rows asking one question with its options
    /// rotated (circular evaluation); -1 for the other formats.
    long long circular_group = -1;
    int type_id = 0;  ///< SEED: question_type_id (`task` holds its name); 0 otherwise
};

/// What a loader found: the cases that load, and every line or case it skipped, with why.
struct LoadReport {
    std::vector<BenchCase> cases;
    /// "Data_json/color.txt:7: missing image images/color/x.jpg", one entry per skipped case.
    std::vector<std::string> skipped;
    /// Cases read with the evaluation kit's own fallbacks ("...:9: match_type '[9]': 9 counted
    /// as SP, as the MMVM kit does"), one entry per case; they are scored.
    std::vector<std::string> notes;
    /// "3 cases skipped: a; b; c" (at most 10 listed, then "... and N more"); "" when none.
    std::string summary() const;
};

/// MME: `root`/Data_json/<task>.txt (image \t question \t Yes|No) and `root`/images/<task>/.
LoadReport load_mme(const std::string& root);
/// MMVM: `root`/mllm_match_eval_full.tsv and the case folders under `root`/match_bench/.
/// `root` may also be the .tsv file itself; image paths are resolved against its folder.
LoadReport load_mmvm(const std::string& root);
/// Grounding JSONL: one {"image", "expression", "box": [x0, y0, x1, y1] in pixels, "id"?} per
/// line; images relative to the file's folder. A folder loads every *.jsonl in it.
LoadReport load_grounding(const std::string& jsonl_path);
/// Dispatches on `format` ("mme", "mmvm", "grounding", "textvqa", "gqa-mcq", "seed",
/// "mmbench"); rc::Error for an unknown format.
LoadReport load_benchmark(const std::string& format, const std::string& root);

/// Limits the DualFocus loaders apply to files they did not write.
struct LoadLimits {
    /// A question, annotation or TSV file larger than this is refused (rc::Error).
    uint64_t max_file_bytes = 2ull << 30;
    /// MMBench: one image's base64 text; a longer field skips its row.
    uint64_t max_image_field_bytes = 64ull << 20;
    /// MMBench: decoded images are refused above this many pixels (as image_io's limit).
    uint64_t max_image_pixels = 100'000'000ull;
    /// MMBench: folder the decoded images are written to (named by a hash of their bytes, so
    /// the rows sharing an image share a file); "" = <system temp>/regionchat-mmbench.
    std::string image_cache_dir;
};

/// TextVQA val, in LLaVA's layout (`root`/llava_textvqa_val_v051_ocr.jsonl,
/// TextVQA_0.5.1_val.json, train_images/). Questions come from the jsonl (`question_id` = the
/// image id, `image`, `text`), each joined with its 10 answers by (image_id, question.lower()) as
/// eval_textvqa.py does; the question is read back from `text` as its prompt_processor does.
/// Without the jsonl, every question of TextVQA_0.5.1_val.json is asked as "question\nAnswer the
/// question using a single word or phrase." (no OCR tokens: not the published setting) with image
/// train_images/<image_id>.jpg (or .png).
/// `root` may also be the jsonl; TextVQA_0.5.1_val.json is looked for next to it.
LoadReport load_textvqa(const std::string& root, const LoadLimits& limits = {});
/// GQA-MCQ as DualFocus' eval_gqa.sh reads it: `root`/llava_gqa_testdev_balanced_mcq.jsonl
/// (`question_id`, `image`, `question` = "Q\nA. x\nB. y..."), images in `root`/data/images/,
/// answers from `root`/data/testdev_balanced_questions.json (GQA's questions file, keyed by
/// question id), else from the line's own "answer". `root` may also be the jsonl.
LoadReport load_gqa_mcq(const std::string& root, const LoadLimits& limits = {});
/// SEED-Bench, image part: `root`/llava-seed-bench-image.jsonl (else llava-seed-bench.jsonl) with
/// `question_id`, `image` (relative to `root`), `text` (question, "A. ..." lines, instruction),
/// joined by question_id with `root`/SEED-Bench.json (answer, question_type_id, data_type);
/// questions whose data_type is not "image" are skipped. `root` may also be the jsonl.
LoadReport load_seed(const std::string& root, const LoadLimits& limits = {});
/// MMBench dev TSV (mmbench_dev_20230712.tsv as LLaVA/DualFocus read it, or VLMEvalKit's
/// MMBench_DEV_EN.tsv): columns index, question, hint?, A, B, C?, D?, answer, category?, image
/// (base64; VLMEvalKit writes a row's image as another row's index when it repeats). `root` is the
/// .tsv or a folder holding one. Images are decoded (limits above) and written to the cache folder.
LoadReport load_mmbench(const std::string& root, const LoadLimits& limits = {});

/// The format a folder or file looks like by its file names (and a TSV by its header): "mme",
/// "mmvm", "grounding", "textvqa", "gqa-mcq", "seed", "mmbench", or "" when none.
std::string guess_benchmark_format(const std::string& root);

/// A model's answer to one case.
struct CaseResult {
    BenchCase bench_case;    ///< a copy, so results outlive the LoadReport
    std::string prediction;  ///< the raw answer text
    bool has_pred_box = false;
    Box pred_box;  ///< grounding: the predicted box in pixels
    /// DualFocus' benchmarks run through its pipeline: the passes' answers and why `prediction`
    /// (one of them) won ("perplexity", "no box", ...).
    bool dual_focus = false;
    std::string macro_answer, micro_answer, decided_by;
    /// MMVM with an LLM judge (MMVMEvalKit's extract_answer_from_item): the letter it gave when
    /// the answer could not be parsed, and how ("judge", or "random" after 3 failed tries, as
    /// the kit picks one); empty when the answer parsed or no judge was asked.
    std::string judged_letter, judged_by;
    std::string note;  ///< anything the run did differently from the benchmark's own code
};

// ---- MME -------------------------------------------------------------------------------

/// How an MME answer is read. Official: MME's calculation.py (the first 4 characters).
/// ParGo: ParGo's eval/calculation_mme.py, which looks at the first 20 characters instead
/// (used to reproduce ParGo's published numbers; "The answer is yes." counts as yes there and
/// as other officially).
enum class MmeRule { Official, ParGo };

/// The published MME parser: lowercase; "yes"/"no" when the whole answer is exactly that,
/// else "yes" when "yes" occurs in the first 4 characters (20 with MmeRule::ParGo), else "no"
/// when "no" does, else "other". No trimming ("nope" -> "no", "The answer is no" -> "other").
std::string mme_parse_answer(const std::string& prediction, MmeRule rule = MmeRule::Official);
/// "official" or "pargo" -> the rule; rc::Error for anything else.
MmeRule mme_rule_from_string(const std::string& name);

/// "perception", "cognition" or "" for a task name (case-insensitive).
std::string mme_task_category(const std::string& task);

struct MmeTaskScore {
    std::string task;
    std::string category;  ///< "perception", "cognition" or ""
    int questions = 0;
    int correct = 0;
    int other = 0;  ///< answers parsed as neither yes nor no
    int images = 0;
    int images_both_correct = 0;  ///< images whose questions are all correct
    double acc = 0;               ///< correct / questions
    double acc_plus = 0;          ///< images_both_correct / images
    double score = 0;             ///< 100 * acc + 100 * acc_plus (max 200)
};

struct MmeScore {
    std::vector<MmeTaskScore> tasks;  ///< perception tasks, cognition tasks, then others
    double perception = 0;            ///< sum of the perception task scores present (max 2000)
    double cognition = 0;             ///< sum of the cognition task scores present (max 800)
};

/// Scores the "mme" results; acc+ groups questions by image within a task.
MmeScore score_mme(const std::vector<CaseResult>& results, MmeRule rule = MmeRule::Official);

/// Writes `bytes` to `path` crash-safely: a temporary file in the same folder, written, synced
/// and renamed over `path`, so a reader (or a process killed mid-write) sees the old file or the
/// new one, never part of one. false and *why when it cannot.
bool write_file_atomically(const std::string& path, const std::string& bytes, std::string* why);

/// Writes one <task>.txt per task into `out_dir` (created): lines "image\tquestion\tgt\t
/// prediction" in result order; tabs and newlines in the prediction become spaces. Each file
/// is replaced atomically (write_file_atomically). rc::Error when a file cannot be written.
void write_mme_results(const std::string& out_dir, const std::vector<CaseResult>& results);

/// Result files read back from a directory of <task>.txt files (4 columns).
struct MmeResultFiles {
    std::vector<CaseResult> results;
    std::vector<std::string> skipped;  ///< malformed lines, "color.txt:3: expected 4 columns"
};

/// Reads the files write_mme_results writes (or any published MME result folder), so
/// score_mme runs on them. rc::Error when `results_dir` is missing.
MmeResultFiles read_mme_results(const std::string& results_dir);

// ---- MMVM ------------------------------------------------------------------------------

/// "CL", "SP", "TM", "SZ", "RP", "OO", "BR", "OM" for cue types 1..8; "?" otherwise.
std::string mmvm_cue_name(int cue_type);

/// The option letter an answer picks, as VLMEvalKit's can_infer (the MMVM evaluation kit's
/// scorer) picks it; "" when none. can_infer_option: one of the reject phrases ("Sorry, I
/// can't help with images of people yet.", "I can't process this file.", "I'm sorry, but
/// without the image provided", "Cannot determine the answer") gives "Z"; otherwise, with
/// .()[],:;!*#{} read as spaces, the option letters (those `choices` lists, A-Z without it)
/// standing alone as words are counted: exactly one gives it (case matters: "c" is not "C"),
/// none but a lone "Z" gives "Z", two or more fall through. can_infer_text: the one option
/// whose text occurs in the lower-cased answer; "" when none or several.
std::string mmvm_parse_letter(const std::string& prediction, const std::string& choices = "");

/// The letter an MMVM result is scored by: the judge's when it gave one, else
/// mmvm_parse_letter of the prediction.
std::string mmvm_result_letter(const CaseResult& result);

/// The question and its lettered options as the kit's TSV question has them (the options are
/// appended when the question does not list them already).
std::string mmvm_question_with_options(const BenchCase& c);

/// MMVMEvalKit's judge prompt (build_prompt_mmatch) for one prediction: its four MMVM
/// examples, then the case's pure_question (the question when the TSV has none), choices and
/// the prediction.
std::string mmvm_judge_prompt(const BenchCase& c, const std::string& prediction);

struct MmvmScore {
    int n = 0;
    int correct = 0;
    double overall = 0;  ///< correct / n
    /// cue type 1..8 -> (correct, total); every type present, a case counts in each of its.
    std::map<int, std::pair<int, int>> per_cue;
    /// Accuracy for one cue type, 0 when it has no cases.
    double cue_accuracy(int cue_type) const;
};

/// Scores the "mmvm" results: the parsed letter against the answer letter.
MmvmScore score_mmvm(const std::vector<CaseResult>& results);

/// The object's polygons rasterized to a CV_8U 0/255 mask of `size` (scaled from the
/// annotation's width x height); pixels covered by 2 or more polygons are cleared, as in
/// the published polygons_to_bitmask.
cv::Mat mmvm_object_mask(const MmvmObject& object, cv::Size size);

/// Draws the MMVM visual prompt on a copy of `image` (BGR). `query`: every object's contour in
/// cyan BGR(255,255,0), thickness 2. Otherwise candidates: contours in distinct colours, and
/// the id (index + 1 when id < 0) in white on a filled box of the contour's colour at the
/// centroid of the object's largest contour. Objects without polygons are not drawn.
/// `colours` (BGR, one per object) replaces the candidates' palette when given (the app draws
/// each region in its own colour).
cv::Mat draw_mmvm_prompt(const cv::Mat& image, const std::vector<MmvmObject>& objects, bool query,
                         const std::vector<cv::Scalar>& colours = {});

// ---- Grounding -------------------------------------------------------------------------

struct GroundingScore {
    int n = 0;
    int hits = 0;          ///< predictions with IoU >= 0.5
    double acc_at_05 = 0;  ///< hits / n
    double mean_iou = 0;   ///< a prediction without a box counts as IoU 0
};

/// Scores the "grounding" results with a ground-truth box.
GroundingScore score_grounding(const std::vector<CaseResult>& results);

// ---- DualFocus' benchmarks: answers and scores -----------------------------------------

/// True for "textvqa", "gqa-mcq", "seed" and "mmbench".
bool is_dualfocus_format(const std::string& format);

/// The answer normalisation of the VQA metric as TextVQA scores it (EvalAIAnswerProcessor in
/// LLaVA's llava/eval/m4c_evaluator.py): lowercase; drop "," and "?"; "'s" -> " 's"; strip;
/// newline/tab -> space; the punctuation rule (each of ;/[]"{}()=+\_-><@`,?! removed where it
/// touches a space in the input, else replaced by a space); "." removed unless a digit follows
/// (at most 32 times: the reference passes re.UNICODE as the count); number words zero..ten and
/// "none" -> digits; articles a/an/the dropped; missing contraction apostrophes added. Python's
/// lower() and whitespace are followed for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic.
std::string vqa_normalize_answer(const std::string& answer);

/// VQA accuracy of one prediction against the reference answers (TextVQAAccuracyEvaluator): both
/// normalised; the mean over each reference left out of min(1, matches among the others / 3).
double vqa_accuracy(const std::string& prediction, const std::vector<std::string>& references);

/// DualFocus' process_outputs (misc/eval.py), applied to every multiple-choice answer before it is
/// written: an answer longer than one character whose first character is a/b/c/d (either case)
/// becomes that character; else the first option whose text contains the answer or is contained
/// in it (case-insensitive) gives its letter; else the answer is kept.
std::string dualfocus_process_outputs(const std::string& answer,
                                      const std::vector<std::string>& options);

/// MMBench's can_infer (VLMEvalKit's matching_util.py as of 2024-03, the exact-matching policy,
/// no LLM judge): the letter a prediction picks among `options` (A first), "Z" for a refusal or a
/// lone Z, "" when none. Punctuation .()[],:;!*#{} counts as space; exactly one option letter
/// (upper case) standing alone is the answer; otherwise exactly one option text (lower-cased)
/// inside the lower-cased prediction.
std::string mmbench_can_infer(const std::string& prediction,
                              const std::vector<std::string>& options);

/// The letter a multiple-choice case's answer counts as, or for GQA the text that is compared
/// (the chosen option's text, rstrip('.').lower()): what the published pipeline writes and scores.
std::string dualfocus_scored_answer(const BenchCase& c, const std::string& prediction);
/// The VQA accuracy (TextVQA) or 1/0 (the others) of one answer to one case; MMBench per row.
double dualfocus_case_score(const BenchCase& c, const std::string& prediction);
/// The prompt the DualFocus evaluation sends for the case (its macro pass): TextVQA/SEED the
/// jsonl text; GQA the question with options + "\nAnswer with the option's letter from the given
/// choices directly."; MMBench hint + "\n" + question + "\nA. opt"... + that same instruction.
std::string dualfocus_prompt(const BenchCase& c);
/// The case as its evaluation script reads it, for run_dual_focus: TextVQA open-ended, GQA and
/// SEED parsed from their text with their own wording, MMBench from its hint and options.
DualFocusQuestion dualfocus_question(const BenchCase& c);

struct TextVqaScore {
    int n = 0;
    double accuracy = 0;  ///< mean VQA accuracy
};
TextVqaScore score_textvqa(const std::vector<CaseResult>& results);

struct GqaScore {
    int n = 0;
    int correct = 0;
    double accuracy = 0;
};
/// GQA's eval.py accuracy: the option text picked (rstrip('.').lower()) equals the answer.
GqaScore score_gqa_mcq(const std::vector<CaseResult>& results);

struct SeedScore {
    int n = 0;
    int correct = 0;
    double accuracy = 0;
    /// question_type_id -> (name, correct, total), as convert_seed_for_submission.py prints.
    std::map<int, std::tuple<std::string, int, int>> per_type;
};
/// Exact match of the (process_outputs) letter with the answer letter, per question type.
SeedScore score_seed(const std::vector<CaseResult>& results);

struct MmbenchScore {
    int groups = 0;  ///< questions whose main row (index < 1000000) was answered
    int groups_correct = 0;
    double circular = 0;  ///< groups whose every answered row is right / groups
    int main_rows = 0;
    int main_correct = 0;
    double vanilla = 0;  ///< main rows right / main rows (each question once, options as given)
    int rows = 0;
    int rows_correct = 0;
    double per_row = 0;  ///< every answered row counted once
    /// category -> (circular correct, groups)
    std::map<std::string, std::pair<int, int>> per_category;
};
/// MMBench's circular evaluation (rows grouped by index % 1000000, a group right only when all
/// of its rows are) and the plain accuracies, on the results given.
MmbenchScore score_mmbench(const std::vector<CaseResult>& results);

// ---- Printing --------------------------------------------------------------------------

/// Markdown tables: per task with acc, acc+, score, then the totals.
std::string score_table(const MmeScore& score);
/// Markdown table: overall and the eight cue types with counts.
std::string score_table(const MmvmScore& score);
/// Markdown table: n, Acc@0.5, mean IoU.
std::string score_table(const GroundingScore& score);
std::string score_table(const TextVqaScore& score);  ///< n, accuracy
std::string score_table(const GqaScore& score);      ///< n, correct, accuracy
std::string score_table(const SeedScore& score);     ///< per question type, then the total
std::string score_table(const MmbenchScore& score);   ///< circular, vanilla, per row, categories

/// The scores of a DualFocus format's results as a Markdown table (above) and as one line for
/// the app ("circular 50.0% (1/2), vanilla ..."); "" for the other formats.
std::string dualfocus_score_table(const std::string& format,
                                  const std::vector<CaseResult>& results);
std::string dualfocus_score_line(const std::string& format,
                                 const std::vector<CaseResult>& results);

}  // namespace bench
}  // namespace rc
