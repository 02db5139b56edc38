// DualFocus' four benchmarks (TextVQA val, GQA-MCQ, SEED-Bench image, MMBench dev): the loaders on
// the shipped sample sets and on hostile fixtures written here (bad lines are skipped with a
// reason, nothing crashes), the VQA answer normalisation and accuracy against the reference
// implementation's outputs, and the GQA / SEED / MMBench rules on predictions that tell them apart.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include <nlohmann/json.hpp>

#include "regionchat/bench.h"
#include "regionchat/bench_run.h"
#include "regionchat/error.h"

using namespace rc;
using namespace rc::bench;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

std::string png_bytes(int w = 12, int h = 10, int shade = 90) {
    std::vector<uchar> buf;
    cv::imencode(".png", cv::Mat(h, w, CV_8UC3, cv::Scalar(shade, 120, 200)), buf);
    return std::string(buf.begin(), buf.end());
}

void write_image(const fs::path& p, int shade = 90) {
    write_file(p, png_bytes(12, 10, shade));
}

std::string base64(const std::string& bytes) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v =
            (uchar(bytes[i]) << 16) | (uchar(bytes[i + 1]) << 8) | uchar(bytes[i + 2]);
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    }
    if (i + 1 == bytes.size()) {
        const unsigned v = uchar(bytes[i]) << 16;
        out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == bytes.size()) {
        const unsigned v = (uchar(bytes[i]) << 16) | (uchar(bytes[i + 1]) << 8);
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
    }
    return out;
}

// Whether some skip reason contains both parts (where and why).
bool skipped(const LoadReport& r, const std::string& where, const std::string& why) {
    for (const std::string& s : r.skipped)
        if (s.find(where) != std::string::npos && s.find(why) != std::string::npos) return true;
    return false;
}

const BenchCase* find_case(const LoadReport& r, const std::string& id) {
    for (const BenchCase& c : r.cases)
        if (c.id == id) return &c;
    return nullptr;
}

CaseResult result_for(const BenchCase& c, const std::string& prediction) {
    CaseResult r;
    r.bench_case = c;
    r.prediction = prediction;
    return r;
}

bool near(double a, double b) {
    return std::fabs(a - b) < 1e-9;
}

std::string samples(const char* format) {
    return qEnvironmentVariable("REGIONCHAT_SOURCE_DIR").toStdString() +
           "/resources/samples/benchmarks/" + format;
}

using nlohmann::json;

// One jsonl line: {"question_id": id, "image": image, key: text}.
std::string line(const json& id, const std::string& image, const std::string& key,
                 const std::string& text) {
    return json{{"question_id", id}, {"image", image}, {key, text}}.dump() + "\n";
}

}  // namespace

class TestBenchDualFocus : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    fs::path dir(const std::string& name) const {
        return fs::path(tmp_.path().toStdString()) / name;
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        QVERIFY2(!qEnvironmentVariable("REGIONCHAT_SOURCE_DIR").isEmpty(),
                 "run through ctest (REGIONCHAT_SOURCE_DIR)");
    }

    // ---- VQA accuracy ---------------------------------------------------------------------

    // Every expected value is what LLaVA's llava/eval/m4c_evaluator.py (haotian-liu/LLaVA
    // c121f04, EvalAIAnswerProcessor, the mmf/EvalAI normaliser) returns for the input under
    // Python 3.11. The first group are the examples the VQA evaluation page
    // (visualqa.org/evaluation.html) gives for its processing: lowercase, periods except in
    // decimals, number words, articles, missing apostrophes ("dont"), punctuation to space with
    // apostrophe and colon kept ("girl's", "2:50 pm"), no space for a comma between digits
    // ("100,978" -> "100978").
    void vqaNormalisation_data() {
        QTest::addColumn<QString>("in");
        QTest::addColumn<QString>("out");
        const std::vector<std::pair<const char*, const char*>> rows = {
            // visualqa.org's examples, as EvalAIAnswerProcessor treats them
            {"Two", "2"}, {"Three Dogs", "3 dogs"}, {"ten", "10"}, {"eleven", "eleven"},
            {"none", "0"}, {"a cat.", "cat"}, {"an apple", "apple"}, {"The", ""},
            {"dont", "don't"}, {"wont", "won't"}, {"youre", "you're"}, {"oclock", "o'clock"},
            {"2:50 pm", "2:50 pm"}, {"100,978", "100978"}, {"1,000 feet", "1000 feet"},
            {"3.5", "3.5"}, {"yes.", "yes"}, {"1.5.", "1.5"}, {"5.", "5"}, {"100. 5", "100 5"},
            {"black-and-white", "black and white"}, {"left-hand side", "left hand side"},
            // word_tokenize: "," and "?" dropped, "'s" split off (so possessives become " 's")
            {"girl's", "girl 's"}, {"the dog's", "dog 's"}, {"bob's cat's", "bob 's cat 's"},
            {"what's", "what 's"}, {"it's 5 o'clock", "it 's 5 o'clock"},
            {"ow's'at", "ow 's'at"}, {"red, white", "red white"}, {"hello ?", "hello"},
            // punctuation: removed where it touches a space in the input, else a space
            {"(left)", "left"}, {"left (side)", "left side"}, {"left - hand", "left hand"},
            {"@home", "home"}, {"yes!", "yes"}, {"A/B", "b"}, {"a / b", "b"}, {"a = b", "b"},
            {"#1", "#1"}, {"50%", "50%"},
            // periods: every "." not before a digit, at most 32 of them (count = re.UNICODE)
            {"a.b", "ab"}, {"x . y", "x y"}, {"e.g. this", "eg this"},
            {"........................................", "........"},
            // the contraction table as published: capital keys never match after lower()
            {"I'm", "i'm"}, {"Im", "im"}, {"Ive", "ive"}, {"somebody'd", "somebodyd"},
            // whitespace and case as Python's str methods
            {"\tTwo\n", "2"}, {"  Yes  ", "yes"}, {"yes\xC2\xA0no", "yes no"},
            {"\xC3\x9Cn\xC3\xAF" "code \xC3\x80" "B", "\xC3\xBCn\xC3\xAF" "code \xC3\xA0" "b"},
            {"", ""},
        };
        for (const auto& [in, out] : rows)
            QTest::newRow(in) << QString::fromUtf8(in) << QString::fromUtf8(out);
    }

    void vqaNormalisation() {
        QFETCH(QString, in);
        QFETCH(QString, out);
        QCOMPARE(QString::fromStdString(vqa_normalize_answer(in.toStdString())), out);
    }

    // TextVQAAccuracyEvaluator: mean over the 10 leave-one-out subsets of min(1, matches / 3);
    // m4c_evaluator.py gives 0.0, 0.3, 0.6, 0.9, then 1.0 for 0..10 matching answers.
    void vqaAccuracy() {
        const double expected[] = {0.0, 0.3, 0.6, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
        for (int m = 0; m <= 10; ++m) {
            std::vector<std::string> refs(size_t(m), "x");
            for (int i = m; i < 10; ++i) refs.push_back("y" + std::to_string(i));
            QVERIFY2(near(vqa_accuracy("x", refs), expected[m]), qPrintable(QString::number(m)));
        }
        // Both sides normalised (values from m4c_evaluator.py on these answers).
        const std::vector<std::string> refs = {"red", "red",      "Red", "red.", "red",
                                               "dark red", "red", "red", "red", "the red one"};
        QVERIFY(near(vqa_accuracy("red", refs), 1.0));
        QVERIFY(near(vqa_accuracy("Red.", refs), 1.0));
        QVERIFY(near(vqa_accuracy("dark red", refs), 0.3));
        QVERIFY(near(vqa_accuracy("red one", refs), 0.3));
        QVERIFY(near(vqa_accuracy("blue", refs), 0.0));
        QVERIFY(near(vqa_accuracy("red", {}), 0.0));
    }

    // ---- Answer rules -------------------------------------------------------------------

    // Expected values printed by DualFocus' misc/eval.py process_outputs (InternLM-XComposer
    // 0f70c3e) and VLMEvalKit's can_infer (c6bdffd3, 2024-03) on these inputs.
    void processOutputs() {
        const std::vector<std::string> gqa = {"A. red", "B. blue"};
        const std::vector<std::pair<std::string, std::string>> rows = {
            {"red", "A"}, {"blue", "b"},  // "b" from its first letter, before any option text
            {"Blue", "B"}, {"b", "b"}, {"B.", "B"}, {"The answer is B", "The answer is B"},
            {"a red circle", "a"}, {"dark red", "d"}, {"green", "green"}, {"", ""},
            {"r", "r"}, {"Red.", "Red."}};
        for (const auto& [in, out] : rows)
            QVERIFY2(dualfocus_process_outputs(in, gqa) == out, in.c_str());
    }

    void mmbenchCanInfer() {
        const std::vector<std::string> opts = {"square", "triangle", "circle", "star"};
        // raw prediction -> can_infer(raw); can_infer(process_outputs(raw)) is what is scored
        const std::vector<std::tuple<std::string, std::string, std::string>> rows = {
            {"C", "C", "C"},
            {"c", "", ""},  // letters count in upper case only
            {"circle", "C", ""},  // process_outputs turns it into "c" first
            {"a circle", "C", ""},
            {"The answer is C.", "C", "C"},
            {"(C) circle", "C", "C"},
            {"A and C", "", "A"},  // two letters: none; process_outputs keeps the first
            {"Z", "Z", "Z"},
            {"star or circle", "", "C"},  // two option texts: none; "circle" is option C first
            {"Cannot determine the answer", "Z", "C"},
            {"I think it is a star", "D", "D"},
            {"B triangle", "B", "B"},
            {"Failed to obtain answer via API C", "", ""},
            {"D.", "D", "D"},
        };
        for (const auto& [in, raw, scored] : rows) {
            QVERIFY2(mmbench_can_infer(in, opts) == raw, in.c_str());
            QVERIFY2(mmbench_can_infer(dualfocus_process_outputs(in, opts), opts) == scored,
                     in.c_str());
        }
    }

    // ---- The sample sets ----------------------------------------------------------------

    void sampleSets() {
        struct Expect {
            const char* format;
            size_t cases;
        };
        for (const Expect e : {Expect{"textvqa", 5}, Expect{"gqa-mcq", 5}, Expect{"seed", 5},
                               Expect{"mmbench", 8}}) {
            const std::string root = samples(e.format);
            QCOMPARE(guess_benchmark_format(root), std::string(e.format));
            const LoadReport r = load_benchmark(e.format, root);
            QVERIFY2(r.skipped.empty(), r.summary().c_str());
            QCOMPARE(r.cases.size(), e.cases);
            for (const BenchCase& c : r.cases) {
                QCOMPARE(c.format, std::string(e.format));
                QCOMPARE(c.images.size(), size_t(1));
                QVERIFY(fs::is_regular_file(c.images[0]));
                QVERIFY(!c.answer.empty());
                QVERIFY(!case_prompt(c).empty());
            }
        }
        const LoadReport t = load_textvqa(samples("textvqa"));
        QCOMPARE(t.cases[0].answers.size(), size_t(10));
        QCOMPARE(t.cases[0].answer, std::string("red"));
        QCOMPARE(t.cases[2].answer, std::string("42"));
        QCOMPARE(t.cases[2].question_id, std::string("000000005eed0002"));
        QVERIFY(t.cases[2].question.find("\nReference OCR token: 42\n") != std::string::npos);

        const LoadReport s = load_seed(samples("seed"));  // its video question is not asked
        QCOMPARE(s.cases[1].task, std::string("Instances Counting"));
        QCOMPARE(s.cases[1].type_id, 5);
        QCOMPARE(s.cases[1].options.size(), size_t(4));

        const LoadReport m = load_mmbench(samples("mmbench"));
        std::map<long long, int> rows;
        std::set<std::string> files;
        for (const BenchCase& c : m.cases) {
            ++rows[c.circular_group];
            files.insert(c.images[0]);
        }
        QCOMPARE(rows, (std::map<long long, int>{{0, 2}, {1, 2}, {2, 4}}));
        QCOMPARE(files.size(), size_t(3));  // the rotated copies share their question's image
        const BenchCase* c = find_case(m, "mmbench:1000002");
        QVERIFY(c);
        QCOMPARE(c->options, (std::vector<std::string>{"triangle", "circle", "star", "square"}));
        QCOMPARE(c->answer, std::string("B"));
    }

    // ---- TextVQA ------------------------------------------------------------------------

    void textvqaLoader() {
        const fs::path root = dir("textvqa");
        write_image(root / "train_images/img1.png");
        write_image(root / "train_images/img2.png");
        write_image(root / "outside.png");
        auto annotation = [](const char* image, const char* question, int id,
                             std::vector<std::string> answers) {
            return json{{"image_id", image}, {"question", question}, {"question_id", id},
                        {"answers", answers}};
        };
        const json data = json::array(
            {annotation("img1", "What is written?", 1,
                        {"stop", "stop", "Stop", "stop sign", "stop", "stop", "stop", "stop",
                         "halt", "stop"}),
             annotation("img2", "what colour?", 2, std::vector<std::string>(10, "red")),
             annotation("img2", "nine answers?", 3, std::vector<std::string>(9, "a")),
             annotation("../outside", "escape?", 4, std::vector<std::string>(10, "x")),
             "not an object"});
        write_file(root / "TextVQA_0.5.1_val.json",
                   json{{"dataset_name", "textvqa"}, {"data", data}}.dump());
        const std::string answer = "\nAnswer the question using a single word or phrase.";
        write_file(root / "llava_textvqa_val_v051_ocr.jsonl",
                   line("img1", "img1.png", "text",
                        "what is written?\nReference OCR token: STOP" + answer) +       // 1
                       line("img2", "img2.png", "text", "What colour?" + answer) +       // 2
                       "{not json\n" + std::string(5000, '[') + "\n" +                   // 3, 4
                       json{{"question_id", "img1"}, {"image", "img1.png"}}.dump() + "\n" +
                       line("img1", "img1.png", "text", "one line only") +               // 6
                       line("img1", "img1.png", "text", "unknown question?\nAnswer.") +  // 7
                       line("img2", "img2.png", "text", "nine answers?\nAnswer.") +
                       line("img1", "/etc/passwd", "text", "What is written?\nAnswer.") +
                       line("img1", "../outside.png", "text", "What is written?\nAnswer.") +
                       line("img1", "gone.png", "text", "What is written?\nAnswer.") +  // 11
                       line("img1", "img1.png", "text",
                            "OCR tokens: STOP. Question: What is written? Short answer:") +
                       "\n");
        const LoadReport r = load_textvqa(root.string());
        QCOMPARE(r.cases.size(), size_t(3));
        const std::string f = "llava_textvqa_val_v051_ocr.jsonl:";
        QVERIFY(skipped(r, f + "3:", "not valid JSON"));
        QVERIFY(skipped(r, f + "4:", "nested more than"));
        QVERIFY(skipped(r, f + "5:", "no \"text\" string"));
        QVERIFY(skipped(r, f + "6:", "not laid out as eval_textvqa.py reads it"));
        QVERIFY(skipped(r, f + "7:", "no annotation"));
        QVERIFY(skipped(r, f + "8:", "expected 10 answers, found 9"));
        QVERIFY(skipped(r, f + "9:", "absolute image path /etc/passwd refused"));
        QVERIFY(skipped(r, f + "10:", "leaves the benchmark folder"));
        QVERIFY(skipped(r, f + "11:", "missing image gone.png"));
        QCOMPARE(r.skipped.size(), size_t(9));

        const BenchCase& a = r.cases[0];
        QCOMPARE(a.id, std::string("textvqa:1"));
        QCOMPARE(a.question_id, std::string("img1"));
        QCOMPARE(a.answers.size(), size_t(10));
        QCOMPARE(a.answer, std::string("stop"));
        QCOMPARE(case_prompt(a), a.question);  // the jsonl text as written
        QCOMPARE(fs::path(a.images[0]), (root / "train_images/img1.png").lexically_normal());
        QCOMPARE(r.cases[2].source, f + "12");  // BLIP-style "OCR tokens: ... Question: ..."

        // Scored: "Stop." matches 8 of 10 after normalisation (1.0), "halt" 1 (0.3, still
        // "right" in the app: it earns accuracy), "go" none.
        const std::vector<CaseResult> results = {result_for(a, "Stop."), result_for(a, "halt"),
                                                 result_for(r.cases[1], "go")};
        QVERIFY(case_correct(results[0]));
        QVERIFY(case_correct(results[1]));
        QVERIFY(!case_correct(results[2]));
        QVERIFY(near(score_textvqa(results).accuracy, 1.3 / 3));

        // Without the jsonl: TextVQA_0.5.1_val.json's own questions, <image_id>.jpg (or .png).
        fs::remove(root / "llava_textvqa_val_v051_ocr.jsonl");
        const LoadReport j = load_textvqa(root.string());
        QCOMPARE(j.cases.size(), size_t(2));
        QCOMPARE(j.cases[0].question,
                 "What is written?" + answer);
        QCOMPARE(j.cases[0].id, std::string("textvqa:1"));
        QVERIFY(skipped(j, "data[2]", "expected 10 answers"));
        QVERIFY(skipped(j, "data[3]", "leaves the benchmark folder"));
        QVERIFY(skipped(j, "data[4]", "needs \"question\" and \"image_id\""));

        LoadLimits tiny;
        tiny.max_file_bytes = 100;
        QVERIFY_THROWS_EXCEPTION(Error, load_textvqa(root.string(), tiny));
        QVERIFY_THROWS_EXCEPTION(Error, load_textvqa(dir("nowhere").string()));
        write_file(dir("textvqa-noanswers") / "llava_textvqa_val_v051_ocr.jsonl", "");
        QVERIFY_THROWS_EXCEPTION(Error, load_textvqa(dir("textvqa-noanswers").string()));
    }

    // ---- GQA-MCQ ------------------------------------------------------------------------

    void gqaLoaderAndScore() {
        const fs::path root = dir("gqa");
        write_image(root / "data/images/n1.png");
        write_file(root / "data/testdev_balanced_questions.json",
                   R"({"101": {"answer": "blue", "question": "What color?"},
                       "102": {"answer": "red"}, "103": {"answer": "yes"}, "104": "junk"})");
        const std::string q = "question";
        write_file(root / "llava_gqa_testdev_balanced_mcq.jsonl",
                   line("101", "n1.png", q, "What color?\nA. red\nB. blue") +             // 1
                       line(102, "n1.png", q, "Which color?\nA. red\nB. green\nC. blue") +
                       line("101", "n1.png", q, "again?\nA. x\nB. y") +                  // 3
                       line("103", "n1.png", q, "Is it?\nA: yes\nB: no") +
                       line("103", "n1.png", q, "Is it? yes or no") +                       // 5
                       json{{"question_id", "105"}, {"image", "n1.png"},
                            {"question", "Own answer?\nA. up\nB. down"}, {"answer", "down"}}
                           .dump() +
                       "\n" + line("106", "n1.png", q, "No answer?\nA. up\nB. down") +  // 7
                       line("103", "../n1.png", q, "Is it?\nA. yes\nB. no") +
                       line("103", "n2.png", q, "Is it?\nA. yes\nB. no") +               // 9
                       "[\"question_id\", 1]\n");
        const LoadReport r = load_gqa_mcq(root.string());
        QCOMPARE(r.cases.size(), size_t(3));
        const std::string f = "llava_gqa_testdev_balanced_mcq.jsonl:";
        QVERIFY(skipped(r, f + "3:", "question_id 101 repeated"));
        QVERIFY(skipped(r, f + "4:", "does not start with \"A. \""));
        QVERIFY(skipped(r, f + "5:", "fewer than two option lines"));
        QVERIFY(skipped(r, f + "7:", "no answer for question_id 106 in"));
        QVERIFY(skipped(r, f + "8:", "leaves the benchmark folder"));
        QVERIFY(skipped(r, f + "9:", "missing image data/images/n2.png"));
        QVERIFY(skipped(r, f + "10:", "no \"question_id\""));
        QCOMPARE(r.skipped.size(), size_t(7));

        const BenchCase& c = r.cases[0];
        QCOMPARE(c.id, std::string("gqa-mcq:101"));
        QCOMPARE(c.options, (std::vector<std::string>{"red", "blue"}));
        QCOMPARE(c.answer, std::string("blue"));
        QCOMPARE(case_prompt(c), std::string("What color?\nA. red\nB. blue\nAnswer with the "
                                             "option's letter from the given choices directly."));
        QCOMPARE(r.cases[1].question_id, std::string("102"));  // a numeric id joins as text
        QCOMPARE(r.cases[2].answer, std::string("down"));       // the line's own answer

        // process_outputs, the letter's option text, rstrip('.').lower(), then equality.
        QCOMPARE(dualfocus_scored_answer(c, "B"), std::string("blue"));
        QCOMPARE(dualfocus_scored_answer(c, "blue"), std::string("blue"));  // "b" -> B (see .h)
        QCOMPARE(dualfocus_scored_answer(c, "red"), std::string("red"));    // "red" in "A. red"
        QCOMPARE(dualfocus_scored_answer(c, "Blue..."), std::string("blue"));  // B by first letter
        QCOMPARE(dualfocus_scored_answer(c, "Navy."), std::string("navy"));
        const BenchCase& three = r.cases[1];  // red, green, blue; answer red
        QCOMPARE(dualfocus_scored_answer(three, "Red."), std::string("red"));  // no option holds
        QCOMPARE(dualfocus_scored_answer(three, "D"), std::string("d"));  // no option D: the letter
        const GqaScore s = score_gqa_mcq({result_for(c, "B"), result_for(c, "A"),
                                          result_for(three, "Red."), result_for(three, "green")});
        QCOMPARE(s.n, 4);
        QCOMPARE(s.correct, 2);
        QVERIFY(near(s.accuracy, 0.5));
    }

    // ---- SEED ---------------------------------------------------------------------------

    void seedLoaderAndScore() {
        const fs::path root = dir("seed");
        write_image(root / "SEED-Bench-image/a.png");
        write_file(root / "SEED-Bench.json",
                   R"({"question_type": {"Instance Attributes": 3, "Instances Counting": 5},
                       "questions": [
            {"question_id": "1", "answer": "B", "data_type": "image", "question_type_id": 3},
            {"question_id": "2", "answer": "A", "data_type": "image", "question_type_id": 5},
            {"question_id": "3", "answer": "A", "data_type": "video", "question_type_id": 10},
            {"question_id": "4", "answer": "E", "data_type": "image", "question_type_id": 3},
            {"question_id": 5, "answer": "C", "data_type": "image", "question_type_id": 5}]})");
        const std::string opts = "\nA. one\nB. two\nC. three\nD. four";
        const std::string hint =
            "\nAnswer with the option's letter from the given choices directly.";
        const std::string a = "SEED-Bench-image/a.png";
        const std::string t = "text";
        write_file(root / "llava-seed-bench-image.jsonl",
                   line("1", a, t, "Colour?" + opts + hint) +
                       line(2, a, t, "How many?" + opts + hint) +
                       line("3", a, t, "Doing?" + opts + hint) +
                       line("4", a, t, "E?" + opts + hint) +
                       line("9", a, t, "Unknown?" + opts + hint) +
                       line("5", a, t, "No options?" + hint) +
                       line("5", "/tmp/a.png", t, "How many?" + opts + hint));
        const LoadReport r = load_seed(root.string());
        QCOMPARE(r.cases.size(), size_t(2));
        const std::string f = "llava-seed-bench-image.jsonl:";
        QVERIFY(skipped(r, f + "3:", "a video question (only SEED's image part is loaded)"));
        QVERIFY(skipped(r, f + "4:", "answer 'E' is not one of the option letters"));
        QVERIFY(skipped(r, f + "5:", "question_id 9 is not in SEED-Bench.json"));
        QVERIFY(skipped(r, f + "6:", "no option lines"));
        QVERIFY(skipped(r, f + "7:", "absolute image path"));
        QCOMPARE(r.skipped.size(), size_t(5));
        const BenchCase& colour = r.cases[0];
        QCOMPARE(colour.task, std::string("Instance Attributes"));
        QCOMPARE(colour.type_id, 3);
        QCOMPARE(colour.answer, std::string("B"));
        QCOMPARE(case_prompt(colour), colour.question);
        QCOMPARE(r.cases[1].question_id, std::string("2"));

        // Exact letter after process_outputs: "b" stays lower case and misses; "two" -> B.
        const SeedScore s = score_seed({result_for(colour, "B"), result_for(colour, "b"),
                                        result_for(colour, "two"), result_for(r.cases[1], "A."),
                                        result_for(r.cases[1], "four")});
        QCOMPARE(s.n, 5);
        QCOMPARE(s.correct, 3);
        QCOMPARE(std::get<1>(s.per_type.at(3)), 2);
        QCOMPARE(std::get<2>(s.per_type.at(3)), 3);
        QCOMPARE(std::get<0>(s.per_type.at(5)), std::string("Instances Counting"));
        QCOMPARE(std::get<1>(s.per_type.at(5)), 1);
        QVERIFY_THROWS_EXCEPTION(Error, load_seed(dir("nowhere").string()));
    }

    // ---- MMBench ------------------------------------------------------------------------

    void mmbenchLoader() {
        const fs::path root = dir("mmbench");
        const std::string img = base64(png_bytes(12, 10, 30));
        const std::string other = base64(png_bytes(14, 9, 200));
        // A PNG header claiming 30000 x 30000 pixels: refused before anything is decoded.
        std::string huge = png_bytes(12, 10, 30);
        huge[16] = 0, huge[17] = 0, huge[18] = 0x75, huge[19] = 0x30;
        huge[20] = 0, huge[21] = 0, huge[22] = 0x75, huge[23] = 0x30;
        const std::string head =
            "index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\timage\tsplit\n";
        auto row = [](const std::string& index, const std::string& q, const std::string& hint,
                      const std::string& a, const std::string& b, const std::string& c,
                      const std::string& d, const std::string& answer, const std::string& image) {
            return index + "\t" + q + "\t" + hint + "\t" + a + "\t" + b + "\t" + c + "\t" + d +
                   "\t" + answer + "\tcolour\t" + image + "\tdev\n";
        };
        write_file(root / "MMBench_DEV_EN.tsv",
                   head +                                                               // 1
                       row("0", "Which?", "A hint.", "red", "blue", "", "", "A", img) +  // 2
                       row("1000000", "Which?", "nan", "blue", "red", "", "", "B", "0") +  // 3
                       row("1", "\"Two\tlines\nhere\"", "", "x", "y", "z", "None", "C", other) +
                       row("2", "Bad b64", "", "x", "y", "", "", "A", std::string(66, 'Q')) +
                       row("3", "Not an image", "", "x", "y", "", "", "A",
                           base64(std::string(100, 'x'))) +
                       row("4", "Huge", "", "x", "y", "", "", "A", base64(huge)) +
                       row("5", "Ref", "", "x", "y", "", "", "A", "77") +
                       row("0", "Again", "", "x", "y", "", "", "A", img) +
                       row("x7", "Index", "", "x", "y", "", "", "A", img) +
                       row("8", "Answer", "", "x", "y", "", "", "C", img) +  // 12
                       row("9", "One option", "", "x", "nan", "", "", "A", img) +
                       "10\ttoo\tfew\tcolumns\n" +
                       row("11", "Big", "", "x", "y", "", "", "A", std::string(3000, 'Q')) +
                       "12\t\"never closed\tA\n");
        LoadLimits limits;
        limits.image_cache_dir = dir("mmbench-images").string();
        limits.max_image_field_bytes = 2000;
        const LoadReport r = load_mmbench(root.string(), limits);
        QCOMPARE(r.cases.size(), size_t(3));
        const std::string f = "MMBench_DEV_EN.tsv:";
        QVERIFY(skipped(r, f + "6:", "not valid base64"));
        QVERIFY(skipped(r, f + "7:", "not an image"));
        QVERIFY(skipped(r, f + "8:", "100 Mpx"));
        QVERIFY(skipped(r, f + "9:", "neither base64 nor the index of a row"));
        QVERIFY(skipped(r, f + "10:", "index 0 repeated"));
        QVERIFY(skipped(r, f + "11:", "is not a whole number"));
        QVERIFY(skipped(r, f + "12:", "answer 'C' is not one of the option letters A-B"));
        QVERIFY(skipped(r, f + "13:", "fewer than two options"));
        QVERIFY(skipped(r, f + "14:", "expected 11 columns, found 4"));
        QVERIFY(skipped(r, f + "15:", "more than the 2000-byte limit"));
        QVERIFY(skipped(r, f + "16:", "never closed"));
        QCOMPARE(r.skipped.size(), size_t(11));

        const BenchCase* main = find_case(r, "mmbench:0");
        const BenchCase* copy = find_case(r, "mmbench:1000000");
        const BenchCase* two = find_case(r, "mmbench:1");
        QVERIFY(main && copy && two);
        QCOMPARE(main->hint, std::string("A hint."));
        QCOMPARE(copy->hint, std::string());  // "nan" is no hint
        QCOMPARE(main->circular_group, 0LL);
        QCOMPARE(copy->circular_group, 0LL);
        QCOMPARE(copy->images, main->images);  // VLMEvalKit's reference "0": the same image file
        QCOMPARE(two->question, std::string("Two\tlines\nhere"));
        QCOMPARE(two->options, (std::vector<std::string>{"x", "y", "z"}));  // "None" ends them
        QCOMPARE(two->source, f + "4");
        QVERIFY(fs::path(main->images[0]).parent_path() ==
                fs::path(limits.image_cache_dir).lexically_normal());
        QVERIFY(cv::imread(two->images[0]).cols == 14);
        QCOMPARE(case_prompt(*main),
                 std::string("A hint.\nWhich?\nA. red\nB. blue\nAnswer with the option's letter "
                             "from the given choices directly."));
        QCOMPARE(case_prompt(*two), std::string("Two\tlines\nhere\nA. x\nB. y\nC. z\nAnswer with "
                                                "the option's letter from the given choices "
                                                "directly."));

        // Loading again reuses the files; a TSV without an answer column loads nothing.
        QCOMPARE(load_mmbench(root.string(), limits).cases.size(), size_t(3));
        write_file(dir("mmbench-test") / "test.tsv",
                   "index\tquestion\tA\tB\timage\n0\tq\tx\ty\t" + img + "\n");
        const LoadReport t = load_mmbench(dir("mmbench-test").string(), limits);
        QVERIFY(t.cases.empty());
        QVERIFY(skipped(t, "test.tsv:2", "missing column(s) answer"));
        QVERIFY_THROWS_EXCEPTION(Error, load_mmbench(dir("nowhere").string(), limits));
    }

    void mmbenchCircularScore() {
        auto mk = [](long long index, const std::vector<std::string>& options,
                     const std::string& answer, const std::string& category) {
            BenchCase c;
            c.format = "mmbench";
            c.question_id = std::to_string(index);
            c.id = "mmbench:" + c.question_id;
            c.circular_group = index % 1000000;
            c.options = options;
            c.answer = answer;
            c.task = category;
            return c;
        };
        // Question 0: A/B rotated; question 1: 3 options rotated 3 times; question 2: no main row.
        const BenchCase q0 = mk(0, {"cat", "dog"}, "A", "animals");
        const BenchCase q0r = mk(1000000, {"dog", "cat"}, "B", "animals");
        const BenchCase q1 = mk(1, {"red", "green", "blue"}, "C", "colours");
        const BenchCase q1r = mk(1000001, {"green", "blue", "red"}, "B", "colours");
        const BenchCase q1rr = mk(2000001, {"blue", "red", "green"}, "A", "colours");
        const BenchCase orphan = mk(1000002, {"up", "down"}, "A", "colours");

        // Every copy right: both groups count.
        MmbenchScore s = score_mmbench({result_for(q0, "A"), result_for(q0r, "The answer is B"),
                                        result_for(q1, "C"), result_for(q1r, "The answer is B."),
                                        result_for(q1rr, "A"), result_for(orphan, "A")});
        QCOMPARE(s.groups, 2);
        QCOMPARE(s.groups_correct, 2);
        QCOMPARE(s.main_rows, 2);
        QCOMPARE(s.rows, 6);

        // One rotated copy wrong (q1r answered C, "red"; its answer is B, "blue") makes question 1
        // wrong, while the vanilla score (main rows only) still counts it right.
        s = score_mmbench({result_for(q0, "A"), result_for(q0r, "B"), result_for(q1, "C"),
                           result_for(q1r, "C"), result_for(q1rr, "A")});
        QCOMPARE(s.groups_correct, 1);
        QVERIFY(near(s.circular, 0.5));
        QCOMPARE(s.main_correct, 2);
        QVERIFY(near(s.vanilla, 1.0));
        QCOMPARE(s.rows_correct, 4);
        QCOMPARE(s.per_category.at("colours"), std::make_pair(0, 1));
        QCOMPARE(s.per_category.at("animals"), std::make_pair(1, 1));

        // Lower-case "a" gives no letter (no LLM judge: wrong); "A or B" is A by process_outputs.
        s = score_mmbench({result_for(q0, "a"), result_for(q0r, "A or B")});
        QCOMPARE(s.groups_correct, 0);
        QCOMPARE(s.rows_correct, 0);
        QVERIFY(!dualfocus_score_table("mmbench", {result_for(q0, "A")}).empty());
        QCOMPARE(dualfocus_score_line("mmbench", {result_for(q0, "A")}),
                 std::string("Circular 100.00% (1/1), vanilla 100.00% (1/1), per row 100.00% "
                             "(1/1)."));
    }

    // ---- Helpers on hostile bytes ---------------------------------------------------------

    void dispatchAndGuess() {
        QVERIFY_THROWS_EXCEPTION(Error, load_benchmark("vqav2", samples("textvqa")));
        QCOMPARE(load_benchmark("GQA-MCQ", samples("gqa-mcq")).cases.size(), size_t(5));
        QCOMPARE(guess_benchmark_format(samples("mmbench") + "/mmbench_dev_20230712.tsv"),
                 std::string("mmbench"));
        QCOMPARE(guess_benchmark_format(samples("textvqa") + "/TextVQA_0.5.1_val.json"),
                 std::string("textvqa"));
        QCOMPARE(guess_benchmark_format(dir("nowhere").string()), std::string());
        QVERIFY(is_dualfocus_format("seed"));
        QVERIFY(!is_dualfocus_format("mme"));
    }
};

QTEST_GUILESS_MAIN(TestBenchDualFocus)
#include "test_bench_dualfocus.moc"
