// The engine: generation, streaming, cancellation, multi-turn KV reuse, perplexity scoring.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

#include "regionchat/dual_focus.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "support/model_internals.h"
#include "support/tiny_model.h"

using namespace rc;

class TestSession : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    std::shared_ptr<Model> model_;
    cv::Mat image_ = testing::test_image(48, 40, 5);
    cv::Mat other_ = testing::test_image(40, 64, 9);

    GenerateParams greedy(int n) {
        GenerateParams g;
        g.max_new_tokens = n;
        return g;
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        const std::string d = tmp_.path().toStdString() + "/tiny";
        testing::write_tiny_model(d, testing::tiny_config());
        model_ = Model::load(testing::load_params(d, "cpu"));
    }

    void greedyIsDeterministicAndStreams() {
        Session a(model_), b(model_);
        std::string streamed;
        int pieces = 0;
        GenerateParams g = greedy(12);
        g.on_token = [&](const std::string& p) {
            streamed += p;
            ++pieces;
        };
        Reply ra = a.ask("What is in the region [0.10, 0.20, 0.50, 0.60]?", {image_}, g);
        Reply rb = b.ask("What is in the region [0.10, 0.20, 0.50, 0.60]?", {image_}, greedy(12));
        QCOMPARE(ra.text, rb.text);
        QCOMPARE(streamed, ra.text);
        QVERIFY(pieces >= 2);
        QCOMPARE(ra.timings.generated_tokens, 12);  // never_eos model: runs to the limit
        QCOMPARE(rc::to_string(ra.stop_reason), std::string("length"));
        QVERIFY(ra.timings.image_encode_ms > 0);
        QVERIFY(ra.timings.prompt_tokens > model_->config().image_tokens());
        QCOMPARE(a.messages().size(), size_t(2));
        QCOMPARE(a.messages()[1].text, ra.text);
        QVERIFY(a.messages()[0].text.rfind("<image>\n", 0) == 0);
    }

    void secondTurnReusesCacheAndMatchesRecompute() {
        Session cached(model_), fresh(model_);
        Reply c1 = cached.ask("What color is the object?", {image_}, greedy(6));
        Reply f1 = fresh.ask("What color is the object?", {image_}, greedy(6));
        QCOMPARE(c1.text, f1.text);
        fresh.drop_cache();
        Reply c2 = cached.ask("And what shape is it?", {}, greedy(8));
        Reply f2 = fresh.ask("And what shape is it?", {}, greedy(8));
        QCOMPARE(c2.text, f2.text);
        // The cached session reused the first turn (image included) and encoded no image.
        QVERIFY2(
            c2.timings.reused_tokens >= c1.timings.prompt_tokens,
            qPrintable(
                QString("%1 < %2").arg(c2.timings.reused_tokens).arg(c1.timings.prompt_tokens)));
        QCOMPARE(f2.timings.reused_tokens, 0);
        QCOMPARE(c2.timings.image_encode_ms, 0.0);
        QCOMPARE(cached.messages().size(), size_t(4));
        // Scoring after a cached history equals scoring after a full recompute.
        const double nc = cached.answer_nll("Which one?", {}, "a red circle");
        fresh.drop_cache();
        const double nf = fresh.answer_nll("Which one?", {}, "a red circle");
        QVERIFY2(std::abs(nc - nf) < 1e-4, qPrintable(QString("%1 vs %2").arg(nc).arg(nf)));
        QVERIFY(nc > 0);
        QCOMPARE(cached.messages().size(), size_t(4));  // scoring does not change the conversation
    }

    // Beam search through the session (per-beam KV states copied and reordered) picks the
    // tokens a beam search picks when every beam's next-token distribution is recomputed from
    // scratch (no cache); its answer is delivered whole, the steps are reported, and the next
    // turn answers as a fresh session given the same history does.
    void beamSearchEqualsRecomputedBeams() {
        Session s(model_);
        GenerateParams g = greedy(7);
        g.beams.num_beams = 3;
        std::string streamed;
        int steps = 0;
        g.on_token = [&](const std::string& p) { streamed += p; };
        g.on_beam_step = [&](int step, int max_steps, const std::string&) {
            QCOMPARE(max_steps, 7);
            QCOMPARE(step, steps + 1);
            steps = step;
        };
        const Reply r = s.ask("What color is the object?", {image_}, g);
        QCOMPARE(streamed, r.text);
        QCOMPARE(steps, 7);
        QCOMPARE(r.timings.generated_tokens, 7);
        std::vector<int64_t> prompt = s.cached_ids();
        for (int64_t& id : prompt)  // image rows: LLaVA's image token
            if (id < 0) id = model_->config().image_token_index;

        auto& net = testing::llava_net(*model_);
        auto& network = testing::llava_network(*model_);
        const auto pixels = preprocess_image(image_, network.preprocess()).unsqueeze(0);
        BeamParams bp;
        bp.num_beams = 3;
        bp.max_new_tokens = 7;
        BeamSearch search(bp, model_->tokenizer().eos_id());
        torch::NoGradGuard ng;
        while (!search.done()) {
            std::vector<float> flat;
            int64_t vocab = 0;
            for (const auto& beam : search.sequences()) {
                std::vector<int64_t> ids = prompt;
                ids.insert(ids.end(), beam.begin(), beam.end());
                auto logits = testing::logits_with_images(
                    net, torch::tensor(ids, torch::kInt64).unsqueeze(0), pixels);
                auto lp = torch::log_softmax(logits[0][logits.size(1) - 1].to(torch::kFloat32), -1)
                              .contiguous();
                vocab = lp.size(0);
                flat.insert(flat.end(), lp.data_ptr<float>(), lp.data_ptr<float>() + vocab);
            }
            search.step(flat.data(), vocab);
        }
        const std::vector<int> best = search.best();
        QCOMPARE(QString::fromStdString(model_->tokenizer().decode(best)),
                 QString::fromStdString(r.text));
        // Beam search is not greedy here (else this test would not see the reordering).
        Session greedy_session(model_);
        const Reply gr = greedy_session.ask("What color is the object?", {image_}, greedy(7));
        qInfo("beam: %s | greedy: %s", r.text.c_str(), gr.text.c_str());

        // The next turn: as a fresh session with the same history.
        Session fresh(model_);
        fresh.add_exchange("What color is the object?", {image_}, r.text);
        const Reply a = s.ask("And its shape?", {}, greedy(6));
        const Reply b = fresh.ask("And its shape?", {}, greedy(6));
        QCOMPARE(a.text, b.text);
    }

    void twoImagesInOneConversation() {
        Session s(model_);
        s.ask("Look.", {image_}, greedy(3));
        Reply r = s.ask("<image>\nPlease combine the information from these two images.", {other_},
                        greedy(3));
        QCOMPARE(r.timings.generated_tokens, 3);
        QVERIFY(r.timings.image_encode_ms > 0);
        QCOMPARE(s.first_image_size().width, 48);
        QVERIFY_THROWS_EXCEPTION(Error, s.ask("<image> <image>", {other_}, greedy(1)));
    }

    void truncateGoesBackATurnAndReusesTheCache() {
        Session a(model_), b(model_);
        a.ask("First?", {image_}, greedy(4));
        a.ask("Second?", {other_}, greedy(4));
        a.truncate(2);
        QCOMPARE(a.messages().size(), size_t(2));
        Reply ra = a.ask("Third?", {}, greedy(5));
        b.ask("First?", {image_}, greedy(4));
        Reply rb = b.ask("Third?", {}, greedy(5));
        QCOMPARE(ra.text, rb.text);
        QVERIFY(ra.timings.reused_tokens >= rb.timings.reused_tokens);
        // The second image went with its turn: one image marker is left in the history.
        QVERIFY_THROWS_EXCEPTION(Error, a.ask("<image> <image>", {other_}, greedy(1)));
    }

    void dualFocusRunsItsPassesInOrder() {
        std::vector<std::string> stages;
        DualFocusParams p;
        p.generate = greedy(8);
        p.on_stage = [&](const std::string& s) { stages.push_back(s); };
        const DualFocusResult r = run_dual_focus(model_, image_, "What color is the star?", p);
        Session macro(model_);
        QCOMPARE(r.macro_answer, macro.ask("What color is the star?", {image_}, greedy(8)).text);
        QVERIFY(stages.size() >= 2);
        QCOMPARE(stages[0], std::string("macro"));
        QCOMPARE(stages[1], std::string("box"));
        if (!r.has_box) {
            QCOMPARE(r.answer, r.macro_answer);  // no valid box: the macro answer stands
            QCOMPARE(stages.size(), size_t(2));
        } else {
            QCOMPARE(stages.size(), size_t(4));
            QVERIFY(!r.crop.empty());
            QCOMPARE(r.answer, r.micro_won ? r.micro_answer : r.macro_answer);
        }
        DualFocusParams stop = p;
        stop.generate.should_abort = [] { return true; };
        QVERIFY(run_dual_focus(model_, image_, "What?", stop).aborted);
    }

    void stopCancelsWithinOneToken() {
        Session s(model_);
        int tokens = 0;
        GenerateParams g = greedy(100);
        g.on_token = [&](const std::string&) { ++tokens; };
        g.should_abort = [&] { return tokens >= 4; };
        Reply r = s.ask("Tell me everything.", {image_}, g);
        QCOMPARE(rc::to_string(r.stop_reason), std::string("abort"));
        QVERIFY2(r.timings.generated_tokens <= 5,
                 qPrintable(QString::number(r.timings.generated_tokens)));
        QVERIFY(r.timings.generated_tokens >= 4);
        // Aborting before anything runs returns at once.
        GenerateParams now = greedy(100);
        now.should_abort = [] { return true; };
        Reply r2 = s.ask("Again?", {}, now);
        QCOMPARE(r2.timings.generated_tokens, 0);
        QCOMPARE(rc::to_string(r2.stop_reason), std::string("abort"));
    }

    void tooLongConversationIsRefusedAndNothingIsLost() {
        Session s(model_);
        s.ask("Hi.", {image_}, greedy(2));
        std::string long_text;
        for (int i = 0; i < 600; ++i) long_text += "red ";
        QVERIFY_THROWS_EXCEPTION(Error, s.ask(long_text, {}, greedy(2)));
        QCOMPARE(s.messages().size(), size_t(2));
        Reply r = s.ask("Still there?", {}, greedy(2));
        QCOMPARE(r.timings.generated_tokens, 2);
    }

    void badImagesAreRefused() {
        Session s(model_);
        QVERIFY_THROWS_EXCEPTION(Error, s.ask("What?", {cv::Mat()}, greedy(1)));
        cv::Mat gray(20, 30, CV_8UC1, cv::Scalar(100));
        Reply r = s.ask("What?", {gray}, greedy(1));  // gray converts, does not fail
        QCOMPARE(r.timings.generated_tokens, 1);
    }

    void utf8PrefixHoldsBackPartialCharacters() {
        QCOMPARE(utf8_complete_prefix("abc"), size_t(3));
        QCOMPARE(utf8_complete_prefix("a\xC3"), size_t(1));
        QCOMPARE(utf8_complete_prefix("a\xC3\xA9"), size_t(3));
        QCOMPARE(utf8_complete_prefix("\xE2\x82"), size_t(0));
        QCOMPARE(utf8_complete_prefix("\xE2\x82\xAC"), size_t(3));
        QCOMPARE(utf8_complete_prefix("x\xF0\x9F\x98"), size_t(1));
        QCOMPARE(utf8_complete_prefix(""), size_t(0));
    }
};

QTEST_APPLESS_MAIN(TestSession)
#include "test_session.moc"
