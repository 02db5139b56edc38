// DualFocus as its evaluation code runs it (docs/dualfocus-reference.md): the golden prompt of
// every pass of both pipelines, the box parser, the reference crop, option letters, and the
// one-turn scoring against the conversation scoring it generalises.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/prompt.h"
#include "regionchat/image_io.h"

#include "regionchat/bench.h"
#include "regionchat/dual_focus.h"
#include "regionchat/dual_focus_crop.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/tokenizer.h"
#include "support/tiny_model.h"

using namespace rc;
using nlohmann::json;

namespace {

// Fixtures written by tools/reference/dualfocus_reference.py running DualFocus' own code.
json fixture(const char* name) {
    const std::string path = qEnvironmentVariable("REGIONCHAT_SOURCE_DIR").toStdString() +
                             "/tests/reference/dualfocus/" + name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("missing fixture " + path);
    return json::parse(in);
}

std::vector<int64_t> ints(const json& j) {
    return j.get<std::vector<int64_t>>();
}

}  // namespace

class TestDualFocus : public QObject {
    Q_OBJECT

private slots:
    void goldenPromptsOpenEnded() {
        const DualFocusQuestion q = parse_dual_focus_question("What is written on the sign?");
        QCOMPARE(q.pipeline(), DualFocusPipeline::OpenEnded);
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
        QCOMPARE(t.pipeline(), DualFocusPipeline::OpenEnded);
        QCOMPARE(t.question, std::string("What brand is it?"));
        QVERIFY(t.full.find("Reference OCR token") != std::string::npos);
    }

    void goldenPromptsMultipleChoice() {
        const DualFocusQuestion q =
            parse_dual_focus_question("What colour is the car?\nA. red\nB. blue\nC. green");
        QCOMPARE(q.pipeline(), DualFocusPipeline::MultipleChoice);
        QCOMPARE(q.options, (std::vector<std::string>{"red", "blue", "green"}));
        QCOMPARE(q.option_lines, (std::vector<std::string>{"A. red", "B. blue", "C. green"}));
        QCOMPARE(q.full, std::string("What colour is the car?\nA. red\nB. blue\nC. green\n"
                                     "Answer with the option's letter from the given choices "
                                     "directly."));
        // model_vqa_gqa.py:182: the bare question, a final period.
        QCOMPARE(dual_focus_score_question(q),
                 std::string("What colour is the car?\nAnswer the question using a single word "
                             "or phrase."));
        // The hint is not added twice; one option is not a choice; letters must run from A.
        QCOMPARE(parse_dual_focus_question(q.full).full, q.full);
        QCOMPARE(parse_dual_focus_question("Q?\nA. only").pipeline(), DualFocusPipeline::OpenEnded);
        QCOMPARE(parse_dual_focus_question("Q?\nB. x\nC. y").pipeline(),
                 DualFocusPipeline::OpenEnded);
    }

    // model_vqa_seed.py: GQA's passes; its scoring question is TextVQA's with a space after
    // the colon (:180). The ONE human turn the candidates follow, cut from the first <image>.
    void goldenPromptsSeed() {
        const DualFocusQuestion q = parse_dual_focus_question(
            "How many cars?\nA. 1\nB. 2\nAnswer with the option's letter from the given choices "
            "directly.",
            DualFocusScript::Seed);
        QCOMPARE(q.script, DualFocusScript::Seed);
        QCOMPARE(q.pipeline(), DualFocusPipeline::MultipleChoice);
        QCOMPARE(q.full, std::string("How many cars?\nA. 1\nB. 2\nAnswer with the option's "
                                     "letter from the given choices directly."));
        QCOMPARE(dual_focus_box_turn(q), dual_focus_box_prompt("How many cars?"));
        QCOMPARE(dual_focus_box_history(q), dual_focus_box_turn(q));
        QCOMPARE(dual_focus_score_question(q),
                 std::string("Please combine the information from these two images and answer "
                             "this question: How many cars?\nAnswer the question using a single "
                             "word or phrase"));
        QCOMPARE(dual_focus_score_human(q, "[0.1, 0.2, 0.3, 0.4]"),
                 std::string("<image>\nPlease provide the bounding box coordinate of the region "
                             "this question asks: How many cars? ASSISTANT: [0.1, 0.2, 0.3, "
                             "0.4]</s>USER: <image>\nPlease combine the information from these "
                             "two images and answer this question: How many cars?\nAnswer the "
                             "question using a single word or phrase "));
        // GQA's human turn: the same history, its own question, the trailing space.
        const DualFocusQuestion g = parse_dual_focus_question("How many cars?\nA. 1\nB. 2");
        QCOMPARE(dual_focus_score_human(g, "x"),
                 "<image>\n" + dual_focus_box_prompt("How many cars?") +
                     " ASSISTANT: x</s>USER: <image>\nHow many cars?\nAnswer the question using "
                     "a single word or phrase. ");
    }

    // model_vqa_mmbench.py: the hint as context before the question (:123), the box asked with
    // the instruction after the question (:150) but carried in the history worded as the
    // others with the hint in front (:176; pandas' "nan" without a hint), the scoring question
    // with the context and a space before "Answer" (:210), an empty assistant turn after it.
    void goldenPromptsMmBench() {
        const DualFocusQuestion q =
            mmbench_dual_focus_question("Which is larger?", "Look at the map.", {"A city", "B city"});
        QCOMPARE(q.script, DualFocusScript::MmBench);
        QCOMPARE(q.full, std::string("Look at the map.\nWhich is larger?\nA. A city\nB. B city\n"
                                     "Answer with the option's letter from the given choices "
                                     "directly."));
        QCOMPARE(q.options, (std::vector<std::string>{"A city", "B city"}));
        QCOMPARE(dual_focus_box_turn(q),
                 std::string("Look at the map.\nWhich is larger?\nPlease provide the bounding box "
                             "coordinate of the region this question asks."));
        QCOMPARE(dual_focus_box_history(q),
                 std::string("Look at the map.\nPlease provide the bounding box coordinate of the "
                             "region this question asks: Which is larger?"));
        QCOMPARE(dual_focus_score_question(q),
                 std::string("Please combine the information from these two images and answer "
                             "this question: Look at the map.\nWhich is larger? Answer the "
                             "question using a single word or phrase."));
        QCOMPARE(dual_focus_score_human(q, "b"),
                 "<image>\n" + dual_focus_box_history(q) + " ASSISTANT: b</s>USER: <image>\n" +
                     dual_focus_score_question(q) + " ASSISTANT:");
        const DualFocusQuestion bare = mmbench_dual_focus_question("Which?", "", {"x", "y"});
        QCOMPARE(bare.full, std::string("Which?\nA. x\nB. y\nAnswer with the option's letter "
                                        "from the given choices directly."));
        QCOMPARE(dual_focus_box_turn(bare),
                 std::string("Which?\nPlease provide the bounding box coordinate of the region "
                             "this question asks."));
        QCOMPARE(dual_focus_box_history(bare),
                 std::string("nan\nPlease provide the bounding box coordinate of the region this "
                             "question asks: Which?"));
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
        const std::vector<std::string> opts{"A. a dog", "B. a cat", "C. apple"};
        QCOMPARE(bench::dualfocus_process_outputs("B", opts), std::string("B"));  // one char: as is
        QCOMPARE(bench::dualfocus_process_outputs("Dog", opts),
                 std::string("D"));  // first letter a-d
        QCOMPARE(bench::dualfocus_process_outputs("apple", opts), std::string("a"));  // case kept
        QCOMPARE(bench::dualfocus_process_outputs("the cat", opts), std::string("the cat"));
        // "B. a cat" is not inside "it is a cat" (the letter prefix is part of the line).
        QCOMPARE(bench::dualfocus_process_outputs("It is a cat", opts), std::string("It is a cat"));
        QCOMPARE(bench::dualfocus_process_outputs("cat", opts), std::string("c"));  // starts with c
        QCOMPARE(bench::dualfocus_process_outputs("Blue", {"A. red", "B. blue"}), std::string("B"));
        QCOMPARE(bench::dualfocus_process_outputs("green", {"A. red", "B. dark green"}),
                 std::string("B"));
        // The option line as written: "circle." is not inside "A. circle", nor it inside it.
        QCOMPARE(bench::dualfocus_process_outputs("round circle.", {"A. circle", "B. star"}),
                 std::string("round circle."));
        QCOMPARE(bench::dualfocus_process_outputs("zebra", {"A. red", "B. dark green"}),
                 std::string("zebra"));
        QVERIFY(dual_focus_valid_letter("B", 2));
        QVERIFY(dual_focus_valid_letter("a", 2));   // .upper() in ['A', ...]
        QVERIFY(!dual_focus_valid_letter("C", 2));  // past the options
        QVERIFY(!dual_focus_valid_letter("E", 5));  // A-D only
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
        QVERIFY_THROWS_EXCEPTION(Error,
                                 s.label_one_turn("q ASSISTANT: a ASSISTANT: b</s>USER: q2", "c"));
    }

    // Parity with DualFocus' own code (tests/reference/dualfocus, transformers 4.31, fp32).
    void referenceFindBoxes() {
        // The fixture is kept in a variable: a range over a temporary's member dangles
        // (AddressSanitizer found the use after free).
        const json cases = fixture("find_boxes.json");
        for (const auto& c : cases["cases"]) {
            const auto got = dual_focus_find_box(c["text"].get<std::string>());
            const std::string text = c["text"].dump();
            if (c["first"].is_null()) {
                QVERIFY2(!got, text.c_str());
                continue;
            }
            QVERIFY2(got, text.c_str());
            for (int k = 0; k < 4; ++k) QCOMPARE((*got)[k], c["first"][k].get<double>());
        }
    }

    void referenceCropRects() {
        const json f = fixture("crop_rects.json");
        int boxes = 0, none = 0;
        for (const auto& size : f["sizes"]) {
            const int w = size[0], h = size[1];
            const json& results = f["results_" + std::to_string(w) + "x" + std::to_string(h)];
            QCOMPARE(results.size(), f["boxes"].size());
            for (size_t i = 0; i < results.size(); ++i) {
                const auto& b = f["boxes"][i];
                const cv::Rect got =
                    dual_focus_reference_crop_rect({b[0].get<double>(), b[1].get<double>(),
                                                    b[2].get<double>(), b[3].get<double>()},
                                                   {w, h});
                const json& want = results[i]["rect"];
                const std::string where = std::to_string(w) + "x" + std::to_string(h) + " box " +
                                          b.dump() + " want " + want.dump();
                ++boxes;
                // Null: their block raised (no box). An empty slice does not raise there but
                // fails in process_images right after: no box here either.
                if (want.is_null() || want[2] <= want[0] || want[3] <= want[1]) {
                    ++none;
                    QVERIFY2(got.empty(), where.c_str());
                    continue;
                }
                QCOMPARE(got, cv::Rect(want[0], want[1], want[2].get<int>() - want[0].get<int>(),
                                       want[3].get<int>() - want[1].get<int>()));
            }
        }
        QVERIFY(boxes == 2000 && none > 50);
    }

    void referenceProcessOutputs() {
        const json cases = fixture("process_outputs.json");
        for (const auto& c : cases["cases"]) {
            const auto options = c["options"].get<std::vector<std::string>>();
            const std::string got = bench::dualfocus_process_outputs(c["output"], options);
            QCOMPARE(got, c["result"].get<std::string>());
            // Their validity ignores how many options there are.
            QCOMPARE(dual_focus_valid_letter(got, 4), c["valid"].get<bool>());
        }
    }

    // Every prompt's token ids, the box and crop, the scored ids and labels, both NLLs and
    // the decision, case by case, on the embedded model.
    void referenceModelCases() {
        const json f = fixture("model_cases.json");
        LoadParams p;
        p.model_dir = qEnvironmentVariable("REGIONCHAT_SOURCE_DIR").toStdString() +
                      "/resources/models/shapes-tiny";
        p.device = "cpu";
        auto model = Model::load(p);
        const ChatTemplate& tmpl = model->chat_template();
        const Tokenizer& tok = model->tokenizer();
        // Our prompt ids of a conversation, images as LLaVA's -200.
        auto ids_of = [&](const std::vector<ChatMessage>& msgs, size_t images) {
            const PromptSequence seq = build_prompt_sequence(tmpl, tok, msgs, 1, images);
            std::vector<int64_t> out;
            for (int64_t k : seq.keys) out.push_back(k < 0 ? -200 : k);
            return out;
        };
        const std::string prefix =
            "A chat between a curious user and an artificial intelligence "
            "assistant. The assistant gives helpful, detailed, and polite "
            "answers to the user's questions. USER: ";
        for (const auto& c : f["cases"]) {
            const std::string id = c["id"];
            const auto& passes = c["passes"];
            const std::string question =
                c["line"].contains("question") ? c["line"]["question"] : c["line"]["text"];
            const DualFocusQuestion q = parse_dual_focus_question(question);
            // Macro and box: one user turn each.
            const std::string macro = "<image>\n" + q.full;
            QCOMPARE(passes["macro"]["prompt"].get<std::string>(), prefix + macro + " ASSISTANT:");
            QCOMPARE(ids_of({{ChatMessage::Role::User, macro}}, 1),
                     ints(passes["macro"]["input_ids"]));
            const std::string box = "<image>\n" + dual_focus_box_prompt(q.question);
            QCOMPARE(ids_of({{ChatMessage::Role::User, box}}, 1), ints(passes["box"]["input_ids"]));
            const std::string box_text = passes["box"]["output"];
            const auto found = dual_focus_find_box(box_text);
            QCOMPARE(bool(found), c["box"]["found"].size() > 0);
            if (passes.contains("micro")) {
                const std::string micro = "<image>\n" + dual_focus_micro_prompt(q.full);
                QCOMPARE(ids_of({{ChatMessage::Role::User, box},
                                 {ChatMessage::Role::Assistant, box_text},
                                 {ChatMessage::Role::User, micro}},
                                2),
                         ints(passes["micro"]["input_ids"]));
                const auto& r = c["box"]["crop_rect"];
                const auto& size = c["image_size"];
                QCOMPARE(dual_focus_reference_crop_rect(*found, {size[0], size[1]}),
                         cv::Rect(r[0], r[1], r[2].get<int>() - r[0].get<int>(),
                                  r[3].get<int>() - r[1].get<int>()));
            }
            if (c["scoring"].is_null()) continue;
            // The scored text, its ids and labels.
            const auto& sc = c["scoring"];
            const std::string human = "<image>\n" + dual_focus_box_prompt(q.question) +
                                      " ASSISTANT: " + box_text + "</s>USER: <image>\n" +
                                      dual_focus_score_question(q) + " ";
            QCOMPARE(sc["human"].get<std::string>(), human);
            Session s(model);
            for (const auto& cand : sc["candidates"]) {
                const auto lt = s.label_one_turn(human, cand["text"]);
                const auto want_ids = ints(cand["input_ids"]);
                const auto want_labels = ints(cand["labels"]);
                QVERIFY(want_ids.size() >= lt.ids.size());
                for (size_t i = 0; i < want_ids.size(); ++i) {
                    if (i >= lt.ids.size()) {  // right padding of the batch
                        QCOMPARE(want_labels[i], int64_t(-100));
                        continue;
                    }
                    QCOMPARE(lt.ids[i], want_ids[i]);
                    QCOMPARE(bool(lt.labelled[i]), want_labels[i] != -100);
                }
            }
        }
    }

    // The scored NLLs and the decision, with the reference's resize (PIL bicubic).
    void referenceScores() {
        const json f = fixture("model_cases.json");
        const std::string src = qEnvironmentVariable("REGIONCHAT_SOURCE_DIR").toStdString();
        // The embedded model with the reference's resize (PIL bicubic, as CLIPImageProcessor).
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString() + "/shapes-tiny";
        std::filesystem::create_directories(dir);
        for (const char* name : {"model.safetensors", "tokenizer.model"})
            std::filesystem::copy_file(src + "/resources/models/shapes-tiny/" + name,
                                       dir + "/" + name);
        json config = json::parse(std::ifstream(src + "/resources/models/shapes-tiny/config.json"));
        config["regionchat"]["image_filter"] = "bicubic";
        std::ofstream(dir + "/config.json") << config.dump(2);
        LoadParams p;
        p.model_dir = dir;
        p.device = "cpu";
        auto model = Model::load(p);
        // (The pixel values themselves are checked against the reference's in
        // test_preprocess: dualFocusReferencePixels.)
        double worst = 0;
        for (const auto& c : f["cases"]) {
            if (c["scoring"].is_null()) continue;
            const cv::Mat img =
                load_image(src + "/resources/samples/" + c["image"].get<std::string>());
            const auto& cr = c["box"]["crop_rect"];
            const cv::Mat crop = img(cv::Rect(cr[0], cr[1], cr[2].get<int>() - cr[0].get<int>(),
                                              cr[3].get<int>() - cr[1].get<int>()))
                                     .clone();
            Session s(model);
            for (const auto& cand : c["scoring"]["candidates"]) {
                const double ours =
                    s.one_turn_nll(c["scoring"]["human"], {img, crop}, cand["text"]);
                worst = std::max(worst, std::abs(ours - cand["nll"].get<double>()));
            }
        }
        qInfo("largest NLL difference from the reference: %.3g", worst);
        QVERIFY(worst < 1e-4);

        // The whole pipeline: every pass's greedy answer, the box, the crop and the choice.
        for (const auto& c : f["cases"]) {
            const std::string id = c["id"];
            const cv::Mat img =
                load_image(src + "/resources/samples/" + c["image"].get<std::string>());
            const std::string question =
                c["line"].contains("question") ? c["line"]["question"] : c["line"]["text"];
            // GQA's line carries the options: the multiple-choice pipeline adds the hint.
            const DualFocusResult d = run_dual_focus(model, img, question);
            const auto& passes = c["passes"];
            QCOMPARE(d.macro_answer, passes["macro"]["output"].get<std::string>());
            QCOMPARE(d.box_answer, passes["box"]["output"].get<std::string>());
            if (passes.contains("micro") && d.has_box) {
                // Every script strips the micro answer: .strip('\n').strip('.').
                std::string micro = passes["micro"]["output"];
                const auto strip = [&](const char* chars) {
                    const size_t a = micro.find_first_not_of(chars);
                    micro = a == std::string::npos
                                ? std::string()
                                : micro.substr(a, micro.find_last_not_of(chars) - a + 1);
                };
                strip("\n");
                strip(".");
                if (c["pipeline"] == "textvqa") QCOMPARE(micro, c["cot_answer"].get<std::string>());
                QCOMPARE(d.micro_answer, micro);
            }
            const json& decision = c["decision"];
            if (decision["rule"] == "reference raises") {
                // Their code raises here (TextVQA without a box; a lower-case letter past the
                // options in GQA); ours answers: the macro answer without a box, else the rule.
                qInfo("%s: the reference raises (%s); ours: '%s' (%s)", id.c_str(),
                      decision["error"].get<std::string>().c_str(), d.answer.c_str(),
                      d.decided_by.c_str());
                if (!d.has_box) QCOMPARE(d.answer, d.macro_answer);
                continue;
            }
            QCOMPARE(d.answer, decision["final_text"].get<std::string>());
            const std::string rule = decision["rule"];
            if (rule == "perplexity") QCOMPARE(d.decided_by, std::string("perplexity"));
            if (rule == "no box") QCOMPARE(d.decided_by, std::string("no box"));
            if (rule == "neither valid") QCOMPARE(d.decided_by, std::string("no valid option"));
            QCOMPARE(d.micro_won, decision["chosen"] == "cot");
        }
    }
};

QTEST_GUILESS_MAIN(TestDualFocus)
#include "test_dual_focus.moc"
