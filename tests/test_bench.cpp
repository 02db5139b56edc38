// Benchmarks: MME, MMVM and grounding loaders on fixture folders written here (bad lines are
// counted and listed, the rest load), the published answer parsers, scores worked out by hand,
// the MME result files, and the MMVM visual-prompt drawing.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "regionchat/bench.h"
#include "regionchat/bench_run.h"
#include "regionchat/error.h"

using namespace rc;
using namespace rc::bench;
namespace fs = std::filesystem;

namespace {

std::string to_lower_copy(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

void write_file(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

bool write_image(const fs::path& p, int w = 8, int h = 8) {
    fs::create_directories(p.parent_path());
    return cv::imwrite(p.string(), cv::Mat(h, w, CV_8UC3, cv::Scalar(40, 80, 120)));
}

bool near(double a, double b) {
    return std::fabs(a - b) < 1e-9;
}

bool contains(const std::vector<std::string>& list, const std::string& part) {
    for (const std::string& s : list)
        if (s.find(part) != std::string::npos) return true;
    return false;
}

const MmeTaskScore* task_score(const MmeScore& s, const std::string& task) {
    for (const MmeTaskScore& t : s.tasks)
        if (t.task == task) return &t;
    return nullptr;
}

CaseResult result_for(const BenchCase& c, const std::string& prediction) {
    CaseResult r;
    r.bench_case = c;
    r.prediction = prediction;
    return r;
}

int count_colour(const cv::Mat& img, const cv::Rect& area, const cv::Vec3b& colour) {
    int n = 0;
    const cv::Rect r = area & cv::Rect(0, 0, img.cols, img.rows);
    for (int y = r.y; y < r.y + r.height; ++y)
        for (int x = r.x; x < r.x + r.width; ++x)
            if (img.at<cv::Vec3b>(y, x) == colour) ++n;
    return n;
}

const char* const kChoices = "A. 1\nB. 2\nC. 3\nD. 4\nE. None of the above choices are correct\n";

}  // namespace

class TestBench : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    fs::path dir(const char* name) const { return fs::path(tmp_.path().toStdString()) / name; }

    // Data_json: count (perception) with a missing image, a malformed line and a bad answer;
    // color (perception); code_reasoning (cognition) with CRLF endings.
    void write_mme_fixture(const fs::path& root) {
        for (const char* img : {"c1.jpg", "c2.jpg"}) write_image(root / "images/color" / img);
        for (const char* img : {"n1.jpg", "n2.jpg", "n3.jpg"})
            write_image(root / "images/count" / img);
        write_image(root / "images/code_reasoning/k1.png");
        write_file(root / "Data_json/color.txt",
                   "c1.jpg\tIs the car red?\tYes\n"
                   "c1.jpg\tIs the car blue?\tNo\n"
                   "c2.jpg\tIs the ball green?\tYes\n"
                   "c2.jpg\tIs the ball yellow?\tNo\n");
        write_file(root / "Data_json/count.txt",
                   "n1.jpg\tAre there two dogs?\tYes\n"
                   "n1.jpg\tAre there three dogs?\tNo\n"
                   "missing.jpg\tIs there a cat?\tYes\n"
                   "this line has no tabs\n"
                   "n2.jpg\tIs there one cat?\tYes\n"
                   "n2.jpg\tAre there two cats?\tNo\n"
                   "n3.jpg\tIs it a dog?\tMaybe\n"
                   "\n");
        write_file(root / "Data_json/code_reasoning.txt",
                   "k1.png\tWill this print 3?\tYes\r\n"
                   "k1.png\tWill this print 4?\tNo\r\n");
    }

    // Hand-made predictions for the MME fixture (see mmeScoresWorkedOutByHand).
    std::vector<CaseResult> mme_results(const LoadReport& r) {
        const std::map<std::string, std::string> prediction = {
            {"color:1", "Yes."},                // yes, gt Yes: correct
            {"color:2", "No"},                  // no,  gt No:  correct
            {"color:3", "yes, it is\nreally"},  // yes, gt Yes: correct
            {"color:4", "The answer is no"},    // other:       wrong
            {"count:1", "yes"},                 // correct
            {"count:2", "nope"},                // "no" in the first 4 characters: correct
            {"count:5", "Yes"},                 // correct
            {"count:6", "NO"},                  // correct
            {"code_reasoning:1", ""},           // other: wrong
            {"code_reasoning:2", "No"},         // correct
        };
        std::vector<CaseResult> out;
        for (const BenchCase& c : r.cases) out.push_back(result_for(c, prediction.at(c.id)));
        return out;
    }

    void write_mmvm_case(const fs::path& case_dir, bool with_images = true) {
        for (const char* img : {"FRAME00.jpg", "FRAME00_ORI.jpg", "FRAME01_ORI.jpg"})
            write_image(case_dir / img, 100, 80);
        if (with_images) write_image(case_dir / "FRAME01_CAND.jpg", 100, 80);
    }

    void write_mmvm_fixture(const fs::path& root) {
        const fs::path bench = root / "match_bench";
        write_mmvm_case(bench / "case_0001");
        write_file(bench / "case_0001/FRAME00.json",
                   R"([{"height": 80, "width": 100,
                        "segmentation": [[20, 20, 60, 20, 60, 60, 20, 60]]}])");
        // Object 2: one good polygon, one of odd length and one of 2 points; both dropped.
        write_file(bench / "case_0001/FRAME01_CAND.json",
                   R"([{"height": 80, "width": 100, "id": 1,
                        "segmentation": [[10, 10, 40, 10, 40, 40, 10, 40]]},
                       {"height": 80, "width": 100, "id": 2,
                        "segmentation": [[55, 15, 95, 15, 95, 70, 55, 70],
                                         [1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4]]}])");
        write_mmvm_case(bench / "case_0002");  // no annotation files: loads without them
        write_mmvm_case(bench / "case_0003", false);
        write_mmvm_case(bench / "case_0004");
        write_file(bench / "case_0004/FRAME00.json", "{not json");

        // Columns in a different order than usual plus an unknown one; quoted fields with
        // newlines, a tab and a doubled quote, as pandas writes them.
        const std::string q = "\"Image-1: <image>\nWhich is the \"\"same\"\"?\tPick one.\"";
        const std::string ch = std::string("\"") + kChoices + "\"";
        auto paths = [](const std::string& prefix, const char* c) {
            return "['" + prefix + "match_bench/" + c + "/FRAME00.jpg', '" + prefix +
                   "match_bench/" + c + "/FRAME01_CAND.jpg']";
        };
        write_file(root / "mllm_match_eval_full.tsv",
                   "index\tquestion\tanswer\timage_path\tmatch_type\tchoices\textra_col\n"  // 1
                   "0\t" +
                       q + "\tB\t" + paths("", "case_0001") + "\t[1, 3]\t" + ch + "\tx\n" + "1\t" +
                       q + "\ta\t" + paths("MMVMEvalKit/", "case_0002") + "\t[3]\t" + ch + "\ty\n" +
                       "2\t" + q + "\tC\t" + paths("", "case_0003") + "\t[2]\t" + ch + "\tz\n" +
                       "3\tq\tC\t" + paths("", "case_0001") + "\t[9]\tA. 1\tw\n" + "4\tq\tA\n" +
                       "5\tq\tA\t" + paths("", "case_0004") + "\t[1]\tA. 1\tv\n");
    }

    // refs.jsonl: 3 good lines, a truncated one, a missing image, a short box, a blank line.
    void write_grounding_fixture(const fs::path& root) {
        write_image(root / "img1.png", 50, 40);
        write_image(root / "img2.png", 50, 40);
        write_file(
            root / "refs.jsonl",
            R"({"image": "img1.png", "expression": "the red box", "box": [10, 10, 30, 30]})"
            "\n"
            R"({"image": "img2.png", "expression": "left dog", "box": [0, 0, 20, 10], "id": "g2"})"
            "\n"
            R"({"image": "img1.png", "expression": )"
            "\n"
            R"({"image": "nope.png", "expression": "x", "box": [0, 0, 1, 1]})"
            "\n"
            R"({"image": "img1.png", "expression": "y", "box": [0, 0, 5]})"
            "\n\n"
            R"({"image": "img1.png", "expression": "flipped", "box": [40, 30, 20, 10], "extra": 1})"
            "\n");
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        write_mme_fixture(dir("mme"));
        write_mmvm_fixture(dir("mmvm"));
        write_grounding_fixture(dir("grounding"));
    }

    // Image names in MME, MMVM and grounding files may not point outside the benchmark's
    // folder: absolute paths and ".." are skipped with a reason, never read.
    void imagePathsStayInsideTheBenchmark() {
        const fs::path root = dir("escape");
        write_image(root / "outside.jpg");  // exists, next to the benchmark folders
        write_image(root / "mme/images/color/in.jpg");
        const std::string outside = (root / "outside.jpg").string();
        write_file(root / "mme/Data_json/color.txt",
                   "in.jpg\tIs it red?\tYes\n"
                   "../../../outside.jpg\tIs it red?\tYes\n" +
                       outside + "\tIs it red?\tNo\n");
        LoadReport mme = load_mme((root / "mme").string());
        QCOMPARE(mme.cases.size(), size_t(1));
        QVERIFY(contains(mme.skipped, "leaves the benchmark folder"));
        QVERIFY(contains(mme.skipped, "absolute image path"));

        write_file(root / "g/refs.jsonl",
                   "{\"image\": \"../outside.jpg\", \"expression\": \"x\", \"box\": [0, 0, 4, 4]}\n"
                   "{\"image\": \"" + outside + "\", \"expression\": \"x\", \"box\": [0, 0, 4, 4]}\n");
        LoadReport g = load_grounding((root / "g/refs.jsonl").string());
        QCOMPARE(g.cases.size(), size_t(0));
        QVERIFY(contains(g.skipped, "leaves the benchmark folder"));
        QVERIFY(contains(g.skipped, "absolute image path"));

        write_file(root / "v/mllm_match_eval_full.tsv",
                   "index\tquestion\tanswer\timage_path\tmatch_type\tchoices\n"
                   "0\tq\tA\t['../outside.jpg', '../outside.jpg']\t[1]\tA. 1\n"
                   "1\tq\tA\t['" + outside + "', '" + outside + "']\t[1]\tA. 1\n");
        LoadReport v = load_mmvm((root / "v").string());
        QCOMPARE(v.cases.size(), size_t(0));
        QVERIFY(contains(v.skipped, "leaves the benchmark folder"));
        QVERIFY(contains(v.skipped, "absolute image path"));
    }

    // ---- MME -----------------------------------------------------------------------------

    void mmeParserFollowsThePublishedRule() {
        // Exact yes/no, else "yes" then "no" within the first 4 characters, no trimming.
        QCOMPARE(mme_parse_answer("Yes."), std::string("yes"));
        QCOMPARE(mme_parse_answer("yes, it is"), std::string("yes"));
        QCOMPARE(mme_parse_answer("No"), std::string("no"));
        QCOMPARE(mme_parse_answer("YES"), std::string("yes"));
        QCOMPARE(mme_parse_answer("nope"), std::string("no"));
        QCOMPARE(mme_parse_answer("Not sure"), std::string("no"));
        QCOMPARE(mme_parse_answer(" yes"), std::string("yes"));
        QCOMPARE(mme_parse_answer("   no"), std::string("other"));  // "no" starts at index 3
        QCOMPARE(mme_parse_answer("The answer is no"), std::string("other"));
        QCOMPARE(mme_parse_answer("I don't know"), std::string("other"));
        QCOMPARE(mme_parse_answer(""), std::string("other"));
    }

    // ParGo's calculation_mme.py reads the first 20 characters: answers that say yes or no in
    // a sentence count there and are "other" under MME's own rule.
    void mmeParGoRuleReadsTwentyCharacters() {
        QCOMPARE(mme_parse_answer("The answer is yes."), std::string("other"));
        QCOMPARE(mme_parse_answer("The answer is yes.", MmeRule::ParGo), std::string("yes"));
        QCOMPARE(mme_parse_answer("The answer is no.", MmeRule::ParGo), std::string("no"));
        QCOMPARE(mme_parse_answer("I do not know, but yes", MmeRule::ParGo),
                 std::string("no"));  // "no" (in "not") within 20, "yes" beyond
        QCOMPARE(mme_parse_answer("Certainly, yes it is", MmeRule::ParGo), std::string("yes"));
        QCOMPARE(mme_parse_answer("Yes", MmeRule::ParGo), std::string("yes"));
        QCOMPARE(mme_parse_answer("Maybe.", MmeRule::ParGo), std::string("other"));
        QCOMPARE(mme_rule_from_string("pargo"), MmeRule::ParGo);
        QCOMPARE(mme_rule_from_string("official"), MmeRule::Official);
        QVERIFY_THROWS_EXCEPTION(rc::Error, mme_rule_from_string("20"));
        // The rules score the same answers differently.
        const LoadReport r = load_mme(dir("mme").string());
        std::vector<CaseResult> results;
        for (const BenchCase& c : r.cases) {
            CaseResult cr;
            cr.bench_case = c;
            cr.prediction = "The answer is " + to_lower_copy(c.answer) + ".";
            results.push_back(cr);
        }
        const MmeScore official = score_mme(results), pargo = score_mme(results, MmeRule::ParGo);
        double official_total = 0, pargo_total = 0;
        for (const auto& t : official.tasks) official_total += t.score;
        for (const auto& t : pargo.tasks) pargo_total += t.score;
        QCOMPARE(official_total, 0.0);
        QCOMPARE(pargo_total, 200.0 * pargo.tasks.size());
    }

    void mmeTaskCategories() {
        QCOMPARE(mme_task_category("color"), std::string("perception"));
        QCOMPARE(mme_task_category("OCR"), std::string("perception"));
        QCOMPARE(mme_task_category("text_translation"), std::string("cognition"));
        QCOMPARE(mme_task_category("my_task"), std::string());
    }

    void mmeLoaderSkipsBadLinesAndLoadsTheRest() {
        const LoadReport r = load_mme(dir("mme").string());
        // code_reasoning 2 + color 4 + count 4 (3 of its 7 lines are bad, the blank one ignored)
        QCOMPARE(r.cases.size(), size_t(10));
        QCOMPARE(r.skipped.size(), size_t(3));
        QCOMPARE(r.skipped[0],
                 std::string("Data_json/count.txt:3: missing image images/count/missing.jpg"));
        QVERIFY(r.skipped[1].rfind("Data_json/count.txt:4: expected 3", 0) == 0);
        QVERIFY(r.skipped[2].rfind("Data_json/count.txt:7: answer 'Maybe'", 0) == 0);
        QVERIFY(r.summary().rfind("3 cases skipped: Data_json/count.txt:3: missing image", 0) == 0);

        const BenchCase& first = r.cases[0];  // files load in name order
        QCOMPARE(first.id, std::string("code_reasoning:1"));
        QCOMPARE(first.format, std::string("mme"));
        QCOMPARE(first.task, std::string("code_reasoning"));
        QCOMPARE(first.answer, std::string("Yes"));  // the CR of CRLF is gone
        QCOMPARE(first.question, std::string("Will this print 3?"));
        QCOMPARE(first.source, std::string("Data_json/code_reasoning.txt:1"));
        QCOMPARE(first.images.size(), size_t(1));
        QVERIFY(fs::path(first.images[0]).is_absolute());
        QVERIFY(fs::exists(first.images[0]));
        QCOMPARE(first.image_names, std::vector<std::string>{"k1.png"});
        QCOMPARE(r.cases[9].id, std::string("count:6"));
    }

    void mmeScoresWorkedOutByHand() {
        const LoadReport r = load_mme(dir("mme").string());
        const MmeScore s = score_mme(mme_results(r));
        // Printed order: perception (count before color, as MME lists them), then cognition.
        QCOMPARE(s.tasks.size(), size_t(3));
        QCOMPARE(s.tasks[0].task, std::string("count"));
        QCOMPARE(s.tasks[1].task, std::string("color"));
        QCOMPARE(s.tasks[2].task, std::string("code_reasoning"));

        // color: 4 questions, 3 correct -> acc 0.75; images c1 (both right), c2 (one wrong)
        // -> acc+ 1/2 = 0.5; score 75 + 50 = 125. One answer is "other".
        const MmeTaskScore* color = task_score(s, "color");
        QVERIFY(color);
        QCOMPARE(color->questions, 4);
        QCOMPARE(color->correct, 3);
        QCOMPARE(color->other, 1);
        QCOMPARE(color->images, 2);
        QCOMPARE(color->images_both_correct, 1);
        QVERIFY(near(color->acc, 0.75));
        QVERIFY(near(color->acc_plus, 0.5));
        QVERIFY(near(color->score, 125.0));
        // count: 4 of 4 correct, both images -> acc 1, acc+ 1, score 200.
        const MmeTaskScore* count = task_score(s, "count");
        QVERIFY(count);
        QCOMPARE(count->correct, 4);
        QVERIFY(near(count->score, 200.0));
        // code_reasoning: "" is other (wrong), "No" right -> acc 0.5, acc+ 0/1 -> score 50.
        const MmeTaskScore* code = task_score(s, "code_reasoning");
        QVERIFY(code);
        QCOMPARE(code->category, std::string("cognition"));
        QCOMPARE(code->images, 1);
        QCOMPARE(code->images_both_correct, 0);
        QVERIFY(near(code->acc, 0.5));
        QVERIFY(near(code->score, 50.0));
        // Perception = 125 + 200 = 325; cognition = 50.
        QVERIFY(near(s.perception, 325.0));
        QVERIFY(near(s.cognition, 50.0));

        const std::string table = score_table(s);
        QVERIFY(table.find("| color | perception | 4 | 75.00 | 50.00 | 125.00 |") !=
                std::string::npos);
        QVERIFY(table.find("| perception | 325.00 |") != std::string::npos);
        QVERIFY(table.find("| cognition | 50.00 |") != std::string::npos);
    }

    void mmeResultFilesRoundTrip() {
        const LoadReport r = load_mme(dir("mme").string());
        const std::vector<CaseResult> results = mme_results(r);
        const fs::path out = dir("mme_out");
        write_mme_results(out.string(), results);
        QVERIFY(fs::exists(out / "color.txt"));
        QVERIFY(fs::exists(out / "count.txt"));
        QVERIFY(fs::exists(out / "code_reasoning.txt"));
        // image, question, gt, prediction; the newline of a prediction becomes a space.
        QCOMPARE(read_file(out / "color.txt"),
                 std::string("c1.jpg\tIs the car red?\tYes\tYes.\n"
                             "c1.jpg\tIs the car blue?\tNo\tNo\n"
                             "c2.jpg\tIs the ball green?\tYes\tyes, it is really\n"
                             "c2.jpg\tIs the ball yellow?\tNo\tThe answer is no\n"));

        // A hand-made line with 3 columns is listed; the published files score the same.
        std::ofstream(out / "count.txt", std::ios::app) << "broken line\twith 2 columns\n";
        const MmeResultFiles back = read_mme_results(out.string());
        QCOMPARE(back.results.size(), size_t(10));
        QCOMPARE(back.skipped.size(), size_t(1));
        QVERIFY(back.skipped[0].rfind("count.txt:5: expected 4 columns", 0) == 0);
        const MmeScore a = score_mme(results);
        const MmeScore b = score_mme(back.results);
        QCOMPARE(b.tasks.size(), a.tasks.size());
        for (size_t i = 0; i < a.tasks.size(); ++i) {
            QCOMPARE(b.tasks[i].task, a.tasks[i].task);
            QVERIFY(near(b.tasks[i].score, a.tasks[i].score));
        }
        QVERIFY(near(b.perception, 325.0));
        QVERIFY(near(b.cognition, 50.0));
    }

    // ---- MMVM ----------------------------------------------------------------------------

    void mmvmPromptListsTheOptions() {
        BenchCase c;
        c.format = "mmvm";
        c.question = "Which is the same object?";
        c.choices = "A. 1\nB. 2\n";
        QCOMPARE(case_prompt(c), std::string("Which is the same object?\nA. 1\nB. 2\nAnswer with "
                                             "the option's letter from the given choices "
                                             "directly."));
        c.question = "Which is the same object?\nA. 1\nB. 2";  // already listed: unchanged
        QCOMPARE(case_prompt(c), c.question);
        c.format = "mme";
        c.question = "Is there a dog?";
        QCOMPARE(case_prompt(c), c.question);
    }

    // VLMEvalKit's can_infer, as the MMVM kit scores: exactly one standing letter, case kept,
    // reject phrases and a lone Z give "Z", then the option texts. The answers marked "kit:"
    // are those where the first-letter rule this replaced answered otherwise.
    void mmvmLetterParser() {
        QCOMPARE(mmvm_parse_letter("B"), std::string("B"));
        QCOMPARE(mmvm_parse_letter("B."), std::string("B"));
        QCOMPARE(mmvm_parse_letter("(B)"), std::string("B"));
        QCOMPARE(mmvm_parse_letter("The answer is B"), std::string("B"));
        QCOMPARE(mmvm_parse_letter("(C)"), std::string("C"));
        QCOMPARE(mmvm_parse_letter("Answer: D"), std::string("D"));
        QCOMPARE(mmvm_parse_letter("none"), std::string());
        QCOMPARE(mmvm_parse_letter(""), std::string());
        QCOMPARE(mmvm_parse_letter("the answer is a cat"), std::string());  // lowercase "a"
        QCOMPARE(mmvm_parse_letter("c.", kChoices), std::string());  // kit: a lower-case letter is no letter
        QCOMPARE(mmvm_parse_letter("B or C", kChoices), std::string());  // kit: two letters, no text
        QCOMPARE(mmvm_parse_letter("B or C, it is 4", kChoices), std::string("D"));  // kit: the text decides
        QCOMPARE(mmvm_parse_letter("I think B"), std::string());  // kit: I and B are both letters
        QCOMPARE(mmvm_parse_letter("I think B", kChoices), std::string("B"));  // I is not an option
        QCOMPARE(mmvm_parse_letter("B B B", kChoices), std::string("B"));  // distinct letters count
        QCOMPARE(mmvm_parse_letter("F", kChoices), std::string());
        QCOMPARE(mmvm_parse_letter("Z", kChoices), std::string("Z"));
        QCOMPARE(mmvm_parse_letter("Cannot determine the answer from the images.", kChoices),
                 std::string("Z"));  // kit: a reject phrase
        QCOMPARE(mmvm_parse_letter("Failed to obtain answer via API: B", kChoices), std::string());
        // No letter: the one option whose text occurs in the answer.
        QCOMPARE(mmvm_parse_letter("It is number 4.", kChoices), std::string("D"));
        QCOMPARE(mmvm_parse_letter("None of the above choices are correct", kChoices),
                 std::string("E"));
        QCOMPARE(mmvm_parse_letter("number 1 or 2", kChoices), std::string());  // two options
        QCOMPARE(mmvm_cue_name(1), std::string("CL"));
        QCOMPARE(mmvm_cue_name(8), std::string("OM"));
        QCOMPARE(mmvm_cue_name(9), std::string("?"));
    }

    void mmvmLoaderReadsCasesAndAnnotations() {
        const fs::path root = dir("mmvm");
        const LoadReport r = load_mmvm(root.string());
        QCOMPARE(r.cases.size(), size_t(3));
        QCOMPARE(r.skipped.size(), size_t(3));
        QVERIFY(contains(r.skipped, "missing image match_bench/case_0003/FRAME01_CAND.jpg"));
        QVERIFY(contains(r.skipped, "expected 7 columns, found 3"));
        QVERIFY(contains(r.skipped, "case_0004/FRAME00.json: not valid JSON"));
        QVERIFY(r.summary().rfind("3 cases skipped: mllm_match_eval_full.tsv:", 0) == 0);
        // The kit's fallback: a type outside 1..8 counts as SP (the case is scored, and noted).
        QCOMPARE(r.cases[2].cue_types, std::vector<int>{2});
        QCOMPARE(r.notes.size(), size_t(1));
        QVERIFY(contains(r.notes, "9 counted as SP"));

        const BenchCase& a = r.cases[0];
        QCOMPARE(a.id, std::string("mmvm:0"));
        QCOMPARE(a.format, std::string("mmvm"));
        QCOMPARE(a.task, std::string("case_0001"));
        QCOMPARE(a.source, std::string("mllm_match_eval_full.tsv:2"));
        QCOMPARE(a.question, std::string("Image-1: <image>\nWhich is the \"same\"?\tPick one."));
        QCOMPARE(a.answer, std::string("B"));
        QCOMPARE(a.choices, std::string(kChoices));
        QCOMPARE(a.cue_types, (std::vector<int>{1, 3}));
        QCOMPARE(a.images.size(), size_t(2));
        QVERIFY(fs::path(a.images[0]).is_absolute());
        QVERIFY(a.images[1].find("match_bench/case_0001/FRAME01_CAND.jpg") != std::string::npos);
        QCOMPARE(a.image_names[0], std::string("match_bench/case_0001/FRAME00.jpg"));
        QCOMPARE(a.original_images.size(), size_t(2));
        QCOMPARE(a.query_objects.size(), size_t(1));
        QCOMPARE(a.query_objects[0].polygons.size(), size_t(1));
        QCOMPARE(a.query_objects[0].polygons[0].size(), size_t(4));
        QCOMPARE(a.query_objects[0].width, 100);
        QCOMPARE(a.query_objects[0].height, 80);
        QCOMPARE(a.candidates.size(), size_t(2));
        QCOMPARE(a.candidates[0].id, 1);
        QCOMPARE(a.candidates[1].id, 2);
        QCOMPARE(a.candidates[1].polygons.size(), size_t(1));  // odd and short ones dropped
        QCOMPARE(a.candidates[1].polygons[0][2], cv::Point2f(95, 70));

        // Row 1 starts on line 9: row 0 spans lines 2-8 (its quoted fields hold 6 newlines).
        // Its paths carry the kit's folder name and resolve from "match_bench/".
        const BenchCase& b = r.cases[1];
        QCOMPARE(b.source, std::string("mllm_match_eval_full.tsv:9"));
        QCOMPARE(b.answer, std::string("A"));
        QCOMPARE(b.image_names[0], std::string("MMVMEvalKit/match_bench/case_0002/FRAME00.jpg"));
        QVERIFY(fs::exists(b.images[0]));
        QVERIFY(b.query_objects.empty());

        // The table itself may be given as the root.
        const LoadReport t = load_mmvm((root / "mllm_match_eval_full.tsv").string());
        QCOMPARE(t.cases.size(), size_t(3));
    }

    void mmvmMissingColumnSkipsEveryRow() {
        const fs::path root = dir("mmvm_nochoices");
        write_mmvm_case(root / "match_bench/case_0001");
        write_file(root / "mllm_match_eval_full.tsv",
                   "index\tquestion\tanswer\timage_path\tmatch_type\n"
                   "0\tq\tA\t['match_bench/case_0001/FRAME00.jpg']\t[1]\n"
                   "1\tq\tB\t['match_bench/case_0001/FRAME00.jpg']\t[2]\n");
        const LoadReport r = load_mmvm(root.string());
        QVERIFY(r.cases.empty());
        QCOMPARE(r.skipped.size(), size_t(2));
        QCOMPARE(r.skipped[0],
                 std::string("mllm_match_eval_full.tsv:2: missing column(s) choices"));
        QCOMPARE(r.skipped[1],
                 std::string("mllm_match_eval_full.tsv:3: missing column(s) choices"));
    }

    // The MMVM kit's match_type fallbacks: eval() failing counts as [1, 5]; a repeated type
    // counts twice (a hit appended per listed entry).
    void mmvmMatchTypeAsTheKitReadsIt() {
        const fs::path root = dir("mmvm_cues");
        write_mmvm_case(root / "match_bench/case_0001");
        const std::string img = "['match_bench/case_0001/FRAME00.jpg']";
        write_file(root / "mllm_match_eval_full.tsv",
                   "index\tquestion\tanswer\timage_path\tmatch_type\tchoices\n"
                   "0\tq\tA\t" + img + "\tnot a list\tA. 1\n"
                   "1\tq\tA\t" + img + "\t[3, 3]\tA. 1\n");
        const LoadReport r = load_mmvm(root.string());
        QCOMPARE(r.cases.size(), size_t(2));
        QCOMPARE(r.cases[0].cue_types, (std::vector<int>{1, 5}));
        QCOMPARE(r.cases[1].cue_types, (std::vector<int>{3, 3}));
        QVERIFY(contains(r.notes, "unreadable, counted as CL and RP"));
        const MmvmScore s = score_mmvm({result_for(r.cases[0], "A"), result_for(r.cases[1], "A")});
        QCOMPARE(s.per_cue.at(1), std::make_pair(1, 1));
        QCOMPARE(s.per_cue.at(5), std::make_pair(1, 1));
        QCOMPARE(s.per_cue.at(3), std::make_pair(2, 2));
        QCOMPARE(s.n, 2);
    }

    void mmvmScoresWorkedOutByHand() {
        auto make = [](const std::string& answer, std::vector<int> cues) {
            BenchCase c;
            c.format = "mmvm";
            c.answer = answer;
            c.cue_types = std::move(cues);
            c.choices = kChoices;
            return c;
        };
        const std::vector<CaseResult> results = {
            result_for(make("B", {1, 3}), "(B)"),        // hit
            result_for(make("A", {3}), "c."),            // C: miss
            result_for(make("D", {2, 3}), "Answer: D"),  // hit
            result_for(make("C", {8}), "none"),          // no letter: miss
            result_for(make("E", {1}), "None of the above choices are correct."),  // E: hit
        };
        const MmvmScore s = score_mmvm(results);
        // 3 hits of 5 -> 0.6. Per cue (correct, total), a case in each of its types:
        // CL(1): cases 1, 5 -> (2, 2); SP(2): case 3 -> (1, 1); TM(3): cases 1, 2, 3 -> (2, 3);
        // OM(8): case 4 -> (0, 1); SZ, RP, OO, BR: (0, 0).
        QCOMPARE(s.n, 5);
        QCOMPARE(s.correct, 3);
        QVERIFY(near(s.overall, 0.6));
        QCOMPARE(s.per_cue.size(), size_t(8));
        QCOMPARE(s.per_cue.at(1), std::make_pair(2, 2));
        QCOMPARE(s.per_cue.at(2), std::make_pair(1, 1));
        QCOMPARE(s.per_cue.at(3), std::make_pair(2, 3));
        QCOMPARE(s.per_cue.at(4), std::make_pair(0, 0));
        QCOMPARE(s.per_cue.at(8), std::make_pair(0, 1));
        QVERIFY(near(s.cue_accuracy(3), 2.0 / 3.0));
        QVERIFY(near(s.cue_accuracy(4), 0.0));

        const std::string table = score_table(s);
        QVERIFY(table.find("| Overall | 3 | 5 | 60.00 |") != std::string::npos);
        QVERIFY(table.find("| CL | 2 | 2 | 100.00 |") != std::string::npos);
        QVERIFY(table.find("| TM | 2 | 3 | 66.67 |") != std::string::npos);
        QVERIFY(table.find("| SZ | 0 | 0 | - |") != std::string::npos);
    }

    void mmvmMaskClearsOverlaps() {
        MmvmObject o;
        o.width = 20;
        o.height = 20;
        o.polygons = {{{0, 0}, {10, 0}, {10, 10}, {0, 10}}, {{5, 5}, {15, 5}, {15, 15}, {5, 15}}};
        const cv::Mat m = mmvm_object_mask(o, cv::Size(20, 20));
        QCOMPARE(m.type(), CV_8U);
        QCOMPARE(int(m.at<uchar>(2, 2)), 255);
        QCOMPARE(int(m.at<uchar>(12, 12)), 255);
        QCOMPARE(int(m.at<uchar>(7, 7)), 0);  // inside both polygons
        QCOMPARE(int(m.at<uchar>(18, 18)), 0);
        // Drawn at twice the annotation's size, the polygons scale with it.
        const cv::Mat big = mmvm_object_mask(o, cv::Size(40, 40));
        QCOMPARE(int(big.at<uchar>(26, 26)), 255);
    }

    void mmvmDrawingFollowsTheRule() {
        const LoadReport r = load_mmvm(dir("mmvm").string());
        QVERIFY(!r.cases.empty());
        const BenchCase& c = r.cases[0];
        const cv::Mat black(80, 100, CV_8UC3, cv::Scalar(0, 0, 0));

        // Query: the contour of the square (20,20)-(60,60) in cyan, the inside untouched.
        const cv::Mat q = draw_mmvm_prompt(black, c.query_objects, true);
        QCOMPARE(q.size(), black.size());
        const cv::Vec3b cyan(255, 255, 0);
        QCOMPARE(q.at<cv::Vec3b>(20, 40), cyan);  // top edge
        QCOMPARE(q.at<cv::Vec3b>(40, 20), cyan);  // left edge
        QCOMPARE(q.at<cv::Vec3b>(40, 40), cv::Vec3b(0, 0, 0));
        QCOMPARE(count_colour(q, cv::Rect(0, 0, 100, 80), cv::Vec3b(0, 0, 0)) +
                     count_colour(q, cv::Rect(0, 0, 100, 80), cyan),
                 100 * 80);
        QCOMPARE(count_colour(black, cv::Rect(0, 0, 100, 80), cyan), 0);  // input left alone

        // Candidates: coloured contours, not cyan, and a white id at each centroid.
        const cv::Mat d = draw_mmvm_prompt(black, c.candidates, false);
        const cv::Vec3b white(255, 255, 255);
        const cv::Vec3b edge1 = d.at<cv::Vec3b>(10, 25);  // top edge of candidate 1
        const cv::Vec3b edge2 = d.at<cv::Vec3b>(15, 75);  // top edge of candidate 2
        QVERIFY(edge1 != cv::Vec3b(0, 0, 0) && edge1 != cyan && edge1 != white);
        QVERIFY(edge2 != cv::Vec3b(0, 0, 0) && edge2 != cyan && edge2 != white);
        QVERIFY(edge1 != edge2);
        // Centroids (25, 25) and (75, 42.5): white text on a box of the contour's colour.
        QVERIFY(count_colour(d, cv::Rect(15, 15, 21, 21), white) > 0);
        QVERIFY(count_colour(d, cv::Rect(15, 15, 21, 21), edge1) > 0);
        QVERIFY(count_colour(d, cv::Rect(65, 32, 21, 21), white) > 0);
        QVERIFY(count_colour(d, cv::Rect(65, 32, 21, 21), edge2) > 0);
        // Nothing white far from the ids.
        QCOMPARE(count_colour(d, cv::Rect(0, 60, 50, 20), white), 0);
    }

    // ---- Grounding -----------------------------------------------------------------------

    void groundingLoaderAndScore() {
        const fs::path root = dir("grounding");
        const LoadReport r = load_grounding((root / "refs.jsonl").string());
        QCOMPARE(r.cases.size(), size_t(3));
        QCOMPARE(r.skipped.size(), size_t(3));
        QCOMPARE(r.skipped[0], std::string("refs.jsonl:3: not a JSON object"));
        QCOMPARE(r.skipped[1], std::string("refs.jsonl:4: missing image nope.png"));
        QVERIFY(r.skipped[2].rfind("refs.jsonl:5: \"box\"", 0) == 0);
        QCOMPARE(r.cases[0].id, std::string("refs:1"));
        QCOMPARE(r.cases[0].question, std::string("the red box"));
        QCOMPARE(r.cases[1].id, std::string("g2"));
        QVERIFY(r.cases[2].has_box);
        QCOMPARE(r.cases[2].box.x0, 20.0);  // corners put in order
        QCOMPARE(r.cases[2].box.y1, 30.0);

        std::vector<CaseResult> results;
        CaseResult a = result_for(r.cases[0], "[10, 10, 30, 20]");
        a.has_pred_box = true;
        a.pred_box = Box{10, 10, 30, 20};  // inter 200, union 400 + 200 - 200 = 400: IoU 0.5
        CaseResult b = result_for(r.cases[1], "");
        b.has_pred_box = true;
        b.pred_box = Box{10, 0, 30, 10};  // inter 100, union 200 + 200 - 100 = 300: IoU 1/3
        CaseResult c = result_for(r.cases[2], "no box");  // no box: IoU 0
        BenchCase exact;
        exact.format = "grounding";
        exact.has_box = true;
        exact.box = Box{0, 0, 10, 10};
        CaseResult d = result_for(exact, "");
        d.has_pred_box = true;
        d.pred_box = Box{10, 10, 0, 0};  // the same box, corners swapped: IoU 1
        results = {a, b, c, d};
        const GroundingScore s = score_grounding(results);
        // Hits (IoU >= 0.5): a and d -> 2 / 4 = 0.5. Mean IoU (0.5 + 1/3 + 0 + 1) / 4 = 11/24.
        QCOMPARE(s.n, 4);
        QCOMPARE(s.hits, 2);
        QVERIFY(near(s.acc_at_05, 0.5));
        QVERIFY(near(s.mean_iou, 11.0 / 24.0));
        QVERIFY(score_table(s).find("| 4 | 50.00 | 0.4583 |") != std::string::npos);

        // A folder loads every .jsonl in it.
        QCOMPARE(load_grounding(root.string()).cases.size(), size_t(3));
    }

    // ---- Shared --------------------------------------------------------------------------

    // The sets shipped in resources/samples (File > Samples, the README's commands, the .deb)
    // load whole: a case skipped there is a broken sample (the dock's grounding set once
    // pointed at "../" images, which the loaders refuse since the path checks).
    void shippedSamplesLoadWhole() {
        const std::string samples =
            qEnvironmentVariable("REGIONCHAT_SOURCE_DIR").toStdString() + "/resources/samples";
        const LoadReport dock = load_grounding(samples + "/benchmark");
        QVERIFY2(dock.skipped.empty(), dock.summary().c_str());
        QCOMPARE(dock.cases.size(), size_t(10));
        for (const char* format : {"mme", "textvqa", "gqa-mcq", "seed", "mmbench"}) {
            const LoadReport r = load_benchmark(format, samples + "/benchmarks/" + format);
            QVERIFY2(r.skipped.empty(), (std::string(format) + ": " + r.summary()).c_str());
            QVERIFY2(!r.cases.empty(), format);
        }
    }

    void summaryListsAtMostTen() {
        LoadReport r;
        QCOMPARE(r.summary(), std::string());
        r.skipped = {"a.txt:1: bad"};
        QCOMPARE(r.summary(), std::string("1 case skipped: a.txt:1: bad"));
        r.skipped.clear();
        for (int i = 1; i <= 12; ++i) r.skipped.push_back("f:" + std::to_string(i));
        const std::string s = r.summary();
        QVERIFY(s.rfind("12 cases skipped: f:1; f:2; ", 0) == 0);
        QVERIFY(s.find("f:10; ... and 2 more") != std::string::npos);
        QVERIFY(s.find("f:11") == std::string::npos);
    }

    void missingRootsThrowAndFormatsDispatch() {
        const std::string missing = dir("does_not_exist").string();
        QVERIFY_THROWS_EXCEPTION(Error, load_mme(missing));
        QVERIFY_THROWS_EXCEPTION(Error, load_mmvm(missing));
        QVERIFY_THROWS_EXCEPTION(Error, load_grounding(missing));
        QVERIFY_THROWS_EXCEPTION(Error, load_benchmark("vqa", dir("mme").string()));
        // A folder without Data_json is not an MME root.
        QVERIFY_THROWS_EXCEPTION(Error, load_mme(dir("grounding").string()));
        QVERIFY_THROWS_EXCEPTION(Error, read_mme_results(missing));
        QCOMPARE(load_benchmark("MME", dir("mme").string()).cases.size(), size_t(10));
        QCOMPARE(load_benchmark("mmvm", dir("mmvm").string()).cases.size(), size_t(3));
        QCOMPARE(
            load_benchmark("grounding", (dir("grounding") / "refs.jsonl").string()).cases.size(),
            size_t(3));
    }

    void scorersIgnoreOtherFormats() {
        BenchCase m;
        m.format = "mme";
        m.task = "color";
        m.answer = "Yes";
        const std::vector<CaseResult> results = {result_for(m, "yes")};
        QCOMPARE(score_mmvm(results).n, 0);
        QCOMPARE(score_grounding(results).n, 0);
        QCOMPARE(score_mme({}).tasks.size(), size_t(0));
    }
};

QTEST_APPLESS_MAIN(TestBench)
#include "test_bench.moc"
