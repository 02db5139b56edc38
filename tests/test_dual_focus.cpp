// DualFocus as its evaluation code runs it (docs/dualfocus-reference.md): the golden prompt of
// every pass of both pipelines, the box parser, the reference crop, option letters, and the
// one-turn scoring against the conversation scoring it generalises.
#include <QTemporaryDir>
#include <QtTest>

#include "regionchat/dual_focus.h"
#include "regionchat/dual_focus_crop.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/tokenizer.h"
#include "support/tiny_model.h"

using namespace rc;

class TestDualFocus : public QObject {
    Q_OBJECT

private slots:
    void goldenPromptsOpenEnded() {
        const DualFocusQuestion q = parse_dual_focus_question("What is written on the sign?");
        QCOMPARE(q.pipeline, DualFocusPipeline::OpenEnded);
        QCOMPARE(q.full, std::string("What is written on the sign?"));
        QCOMPARE(dual_focus_box_prompt(q.question),
                 std::string("Please provide the bounding box coordinate of the region this "
                             "question asks: What is written on the sign?"));
        QCOMPARE(dual_focus_micro_prompt(q.full),
                 std::string("Please combine the information from these two images and answer "
                             "this question: What is written on the sign?"));
        // model_vqa_textvqa.py:158: no space after the colon, no final period.
        QCOMPARE(dual_focus_score_question(q),
                 std::string("Please combine the information from these two images and answer "
                             "this question:What is written on the sign?\nAnswer the question "
                             "using a single word or phrase"));
        // TextVQA's question files carry OCR tokens and the hint on later lines: the box and
        // scoring prompts take the first line, the macro and micro prompts the whole text.
        const DualFocusQuestion t = parse_dual_focus_question(
            "What brand is it?\nReference OCR token: acme\nAnswer the question using a single "
            "word or phrase.");
        QCOMPARE(t.pipeline, DualFocusPipeline::OpenEnded);
        QCOMPARE(t.question, std::string("What brand is it?"));
        QVERIFY(t.full.find("Reference OCR token") != std::string::npos);
    }

    void goldenPromptsMultipleChoice() {
        const DualFocusQuestion q =
            parse_dual_focus_question("What colour is the car?\nA. red\nB. blue\nC. green");
        QCOMPARE(q.pipeline, DualFocusPipeline::MultipleChoice);
        QCOMPARE(q.options, (std::vector<std::string>{"red", "blue", "green"}));
        QCOMPARE(q.full, std::string("What colour is the car?\nA. red\nB. blue\nC. green\n"
                                     "Answer with the option's letter from the given choices "
                                     "directly."));
        // model_vqa_gqa.py:182: the bare question, a final period.
        QCOMPARE(dual_focus_score_question(q),
                 std::string("What colour is the car?\nAnswer the question using a single word "
                             "or phrase."));
        // The hint is not added twice; one option is not a choice; letters must run from A.
        QCOMPARE(parse_dual_focus_question(q.full).full, q.full);
        QCOMPARE(parse_dual_focus_question("Q?\nA. only").pipeline, DualFocusPipeline::OpenEnded);
        QCOMPARE(parse_dual_focus_question("Q?\nB. x\nC. y").pipeline,
                 DualFocusPipeline::OpenEnded);
    }

    void findsBoxesAsTheRegexDoes() {
        using B = std::array<double, 4>;
        QCOMPARE(*dual_focus_find_box("[0.12, 0.40, 0.55, 0.93]"), (B{0.12, 0.40, 0.55, 0.93}));
        QCOMPARE(*dual_focus_find_box("at 1,2,\t3,\n4 then 5, 6, 7, 8"), (B{1, 2, 3, 4}));
        // "1.2.3, ..." cannot start at 0; the first match starts at the "2".
        QCOMPARE(*dual_focus_find_box("1.2.3, 4, 5, 6"), (B{2.3, 4, 5, 6}));
        QCOMPARE(*dual_focus_find_box("-0.5, 0.25, 0.75, 1."), (B{0.5, 0.25, 0.75, 1.0}));
        QVERIFY(!dual_focus_find_box("12, 34, 56"));
        QVERIFY(!dual_focus_find_box("1 ,2,3,4"));  // no space before a comma
        QVERIFY(!dual_focus_find_box(""));
        // Garbage in: long digit runs and commas never blow up.
        QVERIFY(!dual_focus_find_box(std::string(100000, '9') + ","));
    }

    void cropsAsTheReference() {
        // 400x300: box (0.25, 0.2)-(0.5, 0.4) -> (100, 60)-(200, 120), side 100 about (150, 90):
        // (100, 40)-(200, 140), +25 -> (75, 15)-(225, 165), end exclusive.
        QCOMPARE(dual_focus_reference_crop_rect({0.25, 0.2, 0.5, 0.4}, {400, 300}),
                 cv::Rect(75, 15, 150, 150));
        // Clipped to [0, W-1] before and after the margin: the last column/row never enters.
        QCOMPARE(dual_focus_reference_crop_rect({0.9, 0.9, 1.0, 1.0}, {100, 100}),
                 cv::Rect(65, 65, 34, 34));
        // Truncation, not rounding: (33.3, 33.3)-(50, 50) is square; +25 -> (8.3, 8.3)-(75, 75).
        const cv::Rect r = dual_focus_reference_crop_rect({0.333, 0.333, 0.5, 0.5}, {100, 100});
        QCOMPARE(r, cv::Rect(8, 8, 67, 67));
        // The tiny-box rule: every pixel coordinate <= 1 means no box.
        QVERIFY(dual_focus_reference_crop_rect({0.001, 0.001, 0.002, 0.002}, {500, 500}).empty());
        QVERIFY(dual_focus_reference_crop_rect({0.1, 0.1, 0.2, 0.2}, {0, 0}).empty());
    }

    void optionLettersAsProcessOutputs() {
        const std::vector<std::string> opts{"a dog", "a cat", "apple"};
        QCOMPARE(dual_focus_option_letter("B", opts), std::string("B"));  // one char: as is
        QCOMPARE(dual_focus_option_letter("Dog", opts), std::string("D"));  // first letter a-d
        QCOMPARE(dual_focus_option_letter("apple", opts), std::string("a"));  // case kept
        QCOMPARE(dual_focus_option_letter("the cat", opts), std::string("the cat"));
        QCOMPARE(dual_focus_option_letter("It is a cat", opts), std::string("B"));  // contains
        QCOMPARE(dual_focus_option_letter("cat", opts), std::string("c"));  // starts with c
        QCOMPARE(dual_focus_option_letter("Blue", {"red", "blue"}), std::string("B"));
        QCOMPARE(dual_focus_option_letter("green", {"red", "dark green"}), std::string("B"));
        QCOMPARE(dual_focus_option_letter("zebra", {"red", "dark green"}), std::string("zebra"));
        QVERIFY(dual_focus_valid_letter("B", 2));
        QVERIFY(dual_focus_valid_letter("a", 2));    // .upper() in ['A', ...]
        QVERIFY(!dual_focus_valid_letter("C", 2));   // past the options
        QVERIFY(!dual_focus_valid_letter("E", 5));   // A-D only
        QVERIFY(!dual_focus_valid_letter("AB", 2));
    }

    void oneTurnScoringLabelsTheRepliesAsLlavaPreprocessDoes() {
        QTemporaryDir tmp;
        const std::string d = tmp.path().toStdString() + "/tiny";
        testing::write_tiny_model(d, testing::tiny_config());
        auto model = Model::load(testing::load_params(d, "cpu"));
        const Tokenizer& tok = model->tokenizer();
        const cv::Mat image = testing::test_image(48, 40, 5);
        Session s(model);
        // The labelled runs of ids, decoded (each run ends with </s>).
        auto runs = [&](const Session::LabelledTokens& t) {
            std::vector<std::string> out;
            std::vector<int> run;
            for (size_t i = 0; i < t.ids.size(); ++i) {
                if (!t.labelled[i]) continue;
                if (t.ids[i] == tok.eos_id()) {
                    out.push_back(tok.decode(run));
                    run.clear();
                } else {
                    run.push_back(int(t.ids[i]));
                }
            }
            return out;
        };
        const auto plain = s.label_one_turn("<image>\nWhat is it?", "a red circle");
        QCOMPARE(std::count(plain.ids.begin(), plain.ids.end(), int64_t(-200)), 1l);
        QCOMPARE(plain.ids.front(), int64_t(tok.bos_id()));
        QCOMPARE(plain.ids.back(), int64_t(tok.eos_id()));
        // Each labelled run is the reply and its </s>. (preprocess_v1 starts a run at
        // len(tokens of "... ASSISTANT: ") - 2, which assumes the tokenizer keeps the trailing
        // space as a token, as LLaMA's does; this tiny tokenizer drops it, so its runs also
        // take the ":" before the reply, as LLaVA's code would with it.)
        auto ends_with = [](const std::string& s, const std::string& end) {
            return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
        };
        QCOMPARE(runs(plain).size(), size_t(1));
        QVERIFY(ends_with(runs(plain)[0], "a red circle") && runs(plain)[0].size() <= 14);
        // A reply inside the human turn ("... ASSISTANT: r</s>USER: ...") is labelled too; the
        // "</s>" written in the text is the EOS token.
        const std::string human =
            "<image>\nWhere? ASSISTANT: [0.1, 0.2, 0.3, 0.4]</s>USER: <image>\nWhat is it? ";
        const auto inner = s.label_one_turn(human, "a red circle");
        QCOMPARE(std::count(inner.ids.begin(), inner.ids.end(), int64_t(tok.eos_id())), 2l);
        const auto r = runs(inner);
        QCOMPARE(r.size(), size_t(2));
        QVERIFY(ends_with(r[0], "[0.1, 0.2, 0.3, 0.4]") && ends_with(r[1], "a red circle"));
        const double nll = s.one_turn_nll(human, {image, image}, "a red circle");
        QVERIFY(std::isfinite(nll) && nll > 0);
        // Scoring leaves the conversation alone and is repeatable (the KV cache reused).
        QCOMPARE(s.messages().size(), size_t(0));
        QVERIFY(std::abs(s.one_turn_nll(human, {image, image}, "a red circle") - nll) < 1e-5);
        QVERIFY_THROWS_EXCEPTION(Error, s.one_turn_nll("<image>\n<image>\nx", {image}, "y"));
        // A reply holding the separator twice does not split as LLaVA's does: refused.
        QVERIFY_THROWS_EXCEPTION(
            Error, s.label_one_turn("q ASSISTANT: a ASSISTANT: b</s>USER: q2", "c"));
    }
};

QTEST_GUILESS_MAIN(TestDualFocus)
#include "test_dual_focus.moc"
