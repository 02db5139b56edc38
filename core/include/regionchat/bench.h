// Benchmarks: loaders for MME, MMVM and grounding JSONL sets, the published answer parsers and
// scorers, the MME result-file layout, and the MMVM visual-prompt drawing.
// Formats follow ../shared/docs/FORMATS.md ("MME benchmark", "MMVM benchmark").
// Torch-free and Qt-free. Loaders never throw for a bad line: they count and list it in
// LoadReport::skipped and load the rest; they throw rc::Error only when the root itself is
// missing or unreadable.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

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
    /// MMVM: the raw frames FRAME00_ORI.jpg, FRAME01_ORI.jpg when present (for redrawing).
    std::vector<std::string> original_images;
    std::vector<MmvmObject> query_objects;  ///< MMVM FRAME00.json (the published code uses [0])
    std::vector<MmvmObject> candidates;     ///< MMVM FRAME01_CAND.json
};

/// What a loader found: the cases that load, and every line or case it skipped, with why.
struct LoadReport {
    std::vector<BenchCase> cases;
    /// "Data_json/color.txt:7: missing image images/color/x.jpg", one entry per skipped case.
    std::vector<std::string> skipped;
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
/// Dispatches on `format` ("mme", "mmvm", "grounding"); rc::Error for an unknown format.
LoadReport load_benchmark(const std::string& format, const std::string& root);

/// A model's answer to one case.
struct CaseResult {
    BenchCase bench_case;    ///< a copy, so results outlive the LoadReport
    std::string prediction;  ///< the raw answer text
    bool has_pred_box = false;
    Box pred_box;  ///< grounding: the predicted box in pixels
};

// ---- MME -------------------------------------------------------------------------------

/// The published MME parser: lowercase; "yes"/"no" when the whole answer is exactly that,
/// else "yes" when "yes" occurs in the first 4 characters, else "no" when "no" does, else
/// "other". No trimming ("nope" -> "no", "The answer is no" -> "other").
std::string mme_parse_answer(const std::string& prediction);

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
MmeScore score_mme(const std::vector<CaseResult>& results);

/// Writes one <task>.txt per task into `out_dir` (created): lines "image\tquestion\tgt\t
/// prediction" in result order; tabs and newlines in the prediction become spaces.
/// rc::Error when a file cannot be written.
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

/// The option letter an answer picks, "" when none. Punctuation .()[],:;!*#{} counts as a
/// space; an answer that is a single letter of either case is that letter ("c." -> "C");
/// otherwise the first standalone uppercase letter ("The answer is B" -> "B"), limited to
/// the letters `choices` lists when it is given; failing that, with `choices`, the one
/// option whose text alone occurs in the answer (case-insensitive).
std::string mmvm_parse_letter(const std::string& prediction, const std::string& choices = "");

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

// ---- Printing --------------------------------------------------------------------------

/// Markdown tables: per task with acc, acc+, score, then the totals.
std::string score_table(const MmeScore& score);
/// Markdown table: overall and the eight cue types with counts.
std::string score_table(const MmvmScore& score);
/// Markdown table: n, Acc@0.5, mean IoU.
std::string score_table(const GroundingScore& score);

}  // namespace bench
}  // namespace rc
