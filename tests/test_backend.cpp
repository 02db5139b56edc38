// The family registry and the chat-backend seam: recognising folders, names across families,
// device/precision/stop-reason enums, region references written in core, visual prompts, the
// local backend against the Session it wraps, and DualFocus' choice rule through a backend.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <set>

#include <opencv2/imgproc.hpp>

#include "engine/prompt.h"
#include "model/names.h"
#include "regionchat/backend.h"
#include "regionchat/dual_focus.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/point_prompt.h"
#include "support/tiny_model.h"
#include "support/tiny_pink.h"

using namespace rc;
namespace fs = std::filesystem;

namespace {

QString error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

// A scripted backend: answers by turn, scores by answer text, counts what it was asked.
class FakeBackend : public ChatBackend {
public:
    std::vector<std::string> answers;  // one per ask, in order (shared across fresh() copies)
    std::shared_ptr<size_t> next = std::make_shared<size_t>(0);
    std::map<std::string, double> nll;
    bool can_score = true;
    std::shared_ptr<std::vector<std::string>> asked = std::make_shared<std::vector<std::string>>();
    size_t messages = 0;

    BackendInfo info() const override {
        BackendInfo i;
        i.name = "fake";
        i.region_format = "dualfocus";
        i.capabilities.answer_scoring = can_score;
        return i;
    }
    std::unique_ptr<ChatBackend> fresh() const override {
        auto f = std::make_unique<FakeBackend>(*this);
        f->messages = 0;
        return f;
    }
    Reply ask(const ChatRequest& r, const GenerateParams&) override {
        asked->push_back(r.text);
        Reply reply;
        reply.text = *next < answers.size() ? answers[(*next)++] : "";
        reply.stop_reason = StopReason::Eos;
        messages += 2;
        return reply;
    }
    double score(const ChatRequest& r, const std::string& answer) override {
        if (!can_score) throw Error("cannot score");
        asked->push_back("score:" + r.text);
        return nll.at(answer);
    }
    double score_one_turn(const std::string& human, const std::vector<cv::Mat>&,
                          const std::string& answer) override {
        if (!can_score) throw Error("cannot score");
        asked->push_back("score:" + human);
        return nll.at(answer);
    }
    void add_exchange(const ChatRequest& r, const std::string& answer) override {
        asked->push_back("history:" + r.text + " -> " + answer);
        messages += 2;
    }
    void truncate(size_t n) override { messages = std::min(messages, n); }
    void reset() override { messages = 0; }
    size_t message_count() const override { return messages; }
    std::vector<ParsedBox> parse_boxes(const std::string& a, ImageSize s) const override {
        return make_region_format("dualfocus")->parse(a, s);
    }
    std::string render_question(const ChatRequest& r) const override { return r.text; }
};

RegionInput box_region(int id, Box b) {
    RegionInput r;
    r.id = id;
    r.box = b;
    return r;
}

}  // namespace

class TestBackend : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    std::string dir_;
    std::shared_ptr<Model> model_;
    cv::Mat image_ = testing::test_image(48, 40, 5);

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        dir_ = tmp_.path().toStdString() + "/tiny";
        testing::write_tiny_model(dir_, testing::tiny_config());
        model_ = Model::load(testing::load_params(dir_, "cpu"));
    }

    void enumsParseAndPrint() {
        QCOMPARE(to_string(Device("cuda:2")), std::string("cuda:2"));
        QCOMPARE(Device("cuda").kind, DeviceKind::Cuda);
        QCOMPARE(Device("cpu").kind, DeviceKind::Cpu);
        QCOMPARE(Device("").kind, DeviceKind::Auto);
        QVERIFY(error_of([] { Device("gpu"); }).contains("unknown device 'gpu'"));
        QVERIFY(error_of([] { Device("cuda:x"); }).contains("bad device"));
        QVERIFY(error_of([] { Device("cuda:-1"); }).contains("bad device"));
        QCOMPARE(parse_precision("bfloat16"), Precision::BF16);
        QCOMPARE(to_string(parse_precision("fp16")), std::string("fp16"));
        QVERIFY(error_of([] { parse_precision("int4"); }).contains("unknown dtype 'int4'"));
        QCOMPARE(to_string(StopReason::Abort), std::string("abort"));
        QCOMPARE(to_string(Family::Pink), std::string("pink"));
        QCOMPARE(model_->info().family, Family::Llava);
        QCOMPARE(model_->info().layout_description,
                 std::string("Hugging Face llava (safetensors)"));
    }

    void registryRecognisesFolders() {
        QCOMPARE(plan_model(testing::load_params(dir_, "cpu")).family, Family::Llava);
        const std::string pink = tmp_.path().toStdString() + "/pink";
        const auto tp = testing::write_tiny_pink(pink);
        QCOMPARE(plan_model(testing::load_params(tp.model_dir, "cpu")).family, Family::Pink);
        const ModelPlan plan = plan_model(testing::load_params(tp.model_dir, "cpu"));
        QCOMPARE(plan.family, Family::Pink);
        QVERIFY(plan.layout_description.find("saved_parameters.pth") != std::string::npos);

        const std::string other = tmp_.path().toStdString() + "/other";
        fs::create_directories(other);
        std::ofstream(other + "/config.json") << R"({"model_type": "blip_2"})";
        const QString e = error_of([&] { plan_model(testing::load_params(other, "cpu")); });
        QVERIFY2(e.contains("model_type 'blip_2' is not supported") && e.contains("llava, pink"),
                 qPrintable(e));
        QVERIFY(
            error_of([&] { Model::load(testing::load_params(other, "cpu")); }).contains("blip_2"));
    }

    void namesSpanFamilies() {
        const auto formats = known_region_formats();
        for (const char* n : {"dualfocus", "pixels", "pink"})
            QVERIFY2(std::find(formats.begin(), formats.end(), n) != formats.end(), n);
        QVERIFY(make_region_format("pink", true) != nullptr);
        QVERIFY(make_builtin_region_format("pink") == nullptr);  // only the family knows it
        QVERIFY(make_chat_template("pink") != nullptr);
        QVERIFY(make_builtin_chat_template("pink") == nullptr);
        QCOMPARE(make_chat_template("pink")->name(), std::string("pink"));
    }

    void perImageTokenCounts() {
        const std::vector<ChatMessage> msgs = {{ChatMessage::Role::User, "<image>\nA <image> B"}};
        const PromptSequence seq =
            build_prompt_sequence(model_->chat_template(), model_->tokenizer(), msgs, {3, 5});
        QCOMPARE(seq.images.size(), size_t(2));
        QCOMPARE(seq.images[0].length, int64_t(3));
        QCOMPARE(seq.images[1].length, int64_t(5));
        QCOMPARE(std::count(seq.keys.begin(), seq.keys.end(), -1), 3l);
        QCOMPARE(std::count(seq.keys.begin(), seq.keys.end(), -2), 5l);
    }

    // Answer marks as asked: All marks every assistant message, Last the last one only (the
    // same positions All gives it), None nothing; the keys are the same every way.
    void answerMarksAsAsked() {
        const std::vector<ChatMessage> msgs = {{ChatMessage::Role::User, "<image>\nWhat is red?"},
                                               {ChatMessage::Role::Assistant, "the circle"},
                                               {ChatMessage::Role::User, "And blue?"},
                                               {ChatMessage::Role::Assistant, "the square"}};
        auto build = [&](AnswerMarks m) {
            return build_prompt_sequence(model_->chat_template(), model_->tokenizer(), msgs, {4}, m);
        };
        const PromptSequence all = build(AnswerMarks::All), last = build(AnswerMarks::Last),
                             none = build(AnswerMarks::None);
        QCOMPARE(last.keys, all.keys);
        QCOMPARE(none.keys, all.keys);
        // Runs of marked positions: All has two (one per answer), Last the second of them.
        std::vector<std::pair<size_t, size_t>> runs;
        for (size_t i = 0; i < all.is_answer.size(); ++i)
            if (all.is_answer[i] && (i == 0 || !all.is_answer[i - 1])) runs.push_back({i, i});
            else if (all.is_answer[i]) runs.back().second = i;
        QCOMPARE(runs.size(), size_t(2));
        for (size_t i = 0; i < all.is_answer.size(); ++i) {
            QCOMPARE(int(none.is_answer[i]), 0);
            QCOMPARE(int(last.is_answer[i]), i >= runs[1].first ? int(all.is_answer[i]) : 0);
        }
    }

    void regionReferencesAreWrittenInCore() {
        const auto fmt = make_region_format("dualfocus");
        const ImageSize size{200, 100};
        const std::vector<RegionInput> regions = {box_region(1, {20, 10, 100, 50}),
                                                  box_region(2, {0, 0, 200, 100})};
        QCOMPARE(encode_region_references("What is < Region  2 > next to <region 1>?", regions,
                                          size, *fmt, RegionMode::Text),
                 std::string("What is [0.00, 0.00, 1.00, 1.00] next to [0.10, 0.10, 0.50, 0.50]?"));
        // Plain <region> takes the regions in order; "<region1>" (no space) is left alone.
        QCOMPARE(
            encode_region_references("<region> and <region> but <region1>", regions, size, *fmt,
                                     RegionMode::Text),
            std::string("[0.10, 0.10, 0.50, 0.50] and [0.00, 0.00, 1.00, 1.00] but <region1>"));
        QCOMPARE(encode_region_references("Compare <region 2> and <region 1>.", regions, size, *fmt,
                                          RegionMode::VisualPrompt),
                 std::string("Compare region 2 and region 1."));
        QVERIFY(error_of([&] {
                    encode_region_references("<region 7>", regions, size, *fmt, RegionMode::Text);
                }).contains("no region 7"));
        QVERIFY(error_of([&] {
                    encode_region_references("<region><region><region>", regions, size, *fmt,
                                             RegionMode::Text);
                }).contains("more <region> references"));
        QCOMPARE(region_reference_ids("<region 3>, <region 1> and <region 3>"),
                 (std::vector<int>{3, 1}));
        // Pink's format through the same call: the family's own text.
        QCOMPARE(encode_region_references("<region 1>", regions, size,
                                          *make_region_format("pink", false), RegionMode::Text),
                 std::string("<loc>[0.100,0.100,0.500,0.500]</loc>"));
    }

    void groundingLabelsInCore() {
        QCOMPARE(grounding_label("Where is the red circle?", "[0.1, 0.2, 0.3, 0.4]"),
                 std::string("the red circle"));
        QCOMPARE(grounding_label("What is that?", "It is <loc>[0.1,0.2,0.3,0.4]</loc>"),
                 std::string("It is"));
        QCOMPARE(grounding_label("Findings?", "Nothing (1, 2, 3, 4)"), std::string("Nothing"));
        QCOMPARE(grounding_label("What?", "[0.10, 0.20, 0.30, 0.40]"), std::string("box"));
        // Garbage in: long, unbalanced model output is handled linearly and never throws.
        const std::string junk(200000, '[');
        QCOMPARE(grounding_label("x", junk + "]"), junk + "]");
    }

    // RegionVLM's point prompts from every region kind, on a landscape and a portrait image:
    // "[x y]" with int(x / W * 100); clicks as clicked; box and mask pixels sampled (seeded,
    // distinct, inside); a scribble resampled in stroke order (LN_datasets' select_point).
    void pointPromptsFromEveryRegionKind() {
        const ImageSize land{640, 480}, port{300, 700};
        // Clicks: exact golden strings (the formula, truncation, the far edge clamped to 99).
        RegionInput clicks;
        clicks.points = {{320, 240}, {0, 0}, {639.9, 479}, {101, 7}};
        QCOMPARE(point_prompt_string(region_prompt_points(clicks, land, 1), land),
                 std::string("[50 50] [0 0] [99 99] [15 1]"));
        QCOMPARE(point_prompt_string(region_prompt_points(clicks, port, 1), port),
                 std::string("[99 34] [0 0] [99 68] [33 1]"));
        clicks.points.resize(12, Point{150, 350});
        QCOMPARE(region_prompt_points(clicks, port, 1).size(), size_t(10));  // the first ten
        // Box: 10 distinct pixels inside, reproducible from the seed, another seed differs.
        for (const ImageSize size : {land, port}) {
            RegionInput box;
            box.box = {40, 60, 140, 110};
            const auto a = region_prompt_points(box, size, 7), b = region_prompt_points(box, size, 7);
            const auto c = region_prompt_points(box, size, 8);
            QCOMPARE(a.size(), size_t(10));
            QCOMPARE(point_prompt_string(a, size), point_prompt_string(b, size));
            QVERIFY(point_prompt_string(a, size) != point_prompt_string(c, size));
            std::set<std::pair<int, int>> seen;
            for (const Point& p : a) {
                QVERIFY(p.x >= 40 && p.x < 140 && p.y >= 60 && p.y < 110);
                seen.insert({int(p.x), int(p.y)});
            }
            QCOMPARE(seen.size(), size_t(10));
        }
        // Mask: only its pixels; a 3-pixel mask gives 3 points; an empty one none.
        cv::Mat mask(480, 640, CV_8UC1, cv::Scalar(0));
        cv::circle(mask, {500, 100}, 30, cv::Scalar(255), -1);
        RegionInput m;
        m.box = {0, 0, 640, 480};  // the mask decides, not the box
        m.mask = mask;
        for (const Point& p : region_prompt_points(m, land, 3))
            QVERIFY(mask.at<uint8_t>(int(p.y), int(p.x)) != 0);
        mask.setTo(0);
        mask.at<uint8_t>(5, 5) = mask.at<uint8_t>(5, 9) = mask.at<uint8_t>(400, 600) = 255;
        QCOMPARE(region_prompt_points(m, land, 3).size(), size_t(3));
        mask.setTo(0);
        QVERIFY(region_prompt_points(m, land, 3).empty());
        // Scribble: fewer points than 10 are repeated at select_point's indices
        // int((len-1)/(k-1)*(j-1)), then kept in stroke order.
        RegionInput sc;
        sc.scribble = true;
        sc.points = {{0, 0}, {64, 48}, {128, 96}, {192, 144}};
        QCOMPARE(point_prompt_string(region_prompt_points(sc, land, 1), land),
                 std::string("[0 0] [0 0] [0 0] [10 10] [10 10] [10 10] [20 20] [20 20] [20 20] [30 30]"));
        sc.points.clear();
        for (int i = 0; i < 200; ++i) sc.points.push_back({double(i * 3), double(i * 2)});
        const auto r = region_prompt_points(sc, land, 4);
        QCOMPARE(r.size(), size_t(10));
        for (size_t i = 1; i < r.size(); ++i) QVERIFY(r[i].x > r[i - 1].x);  // stroke order
        QVERIFY(point_prompt_string(r, land) != point_prompt_string(region_prompt_points(sc, land, 5), land));
        // Through encode_region_references: <points N>...</points> with seed + N.
        RegionInput box;
        box.id = 2;
        box.box = {40, 60, 140, 110};
        const std::string t = encode_region_references("what is <region 2>?", {box}, land,
                                                       *make_builtin_region_format("pixels"),
                                                       RegionMode::Points, 5);
        QCOMPARE(t, "what is <points 2>" + point_prompt_string(region_prompt_points(box, land, 7), land) +
                        "</points>?");
    }

    void visualPromptsDrawRegions() {
        cv::Mat white(100, 120, CV_8UC3, cv::Scalar(255, 255, 255));
        RegionInput r = box_region(4, {10, 10, 90, 80});
        r.colour_b = 0;
        r.colour_g = 0;
        r.colour_r = 255;
        const cv::Mat drawn = draw_visual_prompts(white, {r});
        QCOMPARE(drawn.size(), white.size());
        QCOMPARE(drawn.at<cv::Vec3b>(10, 50), cv::Vec3b(0, 0, 255));      // the top edge, red
        QCOMPARE(white.at<cv::Vec3b>(10, 50), cv::Vec3b(255, 255, 255));  // input untouched
        // A mask region: its contour, not its box.
        RegionInput m = box_region(5, {0, 0, 120, 100});
        m.mask = cv::Mat::zeros(100, 120, CV_8U);
        cv::circle(m.mask, {60, 50}, 20, cv::Scalar(255), cv::FILLED);
        const cv::Mat masked = draw_visual_prompts(white, {m});
        QCOMPARE(masked.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
        QVERIFY(masked.at<cv::Vec3b>(50, 40) != cv::Vec3b(255, 255, 255));
    }

    void localBackendIsTheSession() {
        auto backend = make_local_backend(model_);
        QCOMPARE(backend->info().region_format, std::string("dualfocus"));
        QVERIFY(backend->info().capabilities.answer_scoring);
        ChatRequest req;
        req.text = "What is in <region 1>?";
        req.images = {image_};
        req.regions = {box_region(1, {4.8, 8, 24, 24})};
        QCOMPARE(backend->render_question(req),
                 std::string("What is in [0.10, 0.20, 0.50, 0.60]?"));
        GenerateParams g;
        g.max_new_tokens = 8;
        const Reply a = backend->ask(req, g);
        Session s(model_);
        const Reply b = s.ask("What is in [0.10, 0.20, 0.50, 0.60]?", {image_}, g);
        QCOMPARE(a.text, b.text);
        QCOMPARE(backend->message_count(), size_t(2));
        QCOMPARE(backend->score(req, "a circle"),
                 s.answer_nll("What is in [0.10, 0.20, 0.50, 0.60]?", {image_}, "a circle"));
        QCOMPARE(backend->fresh()->message_count(), size_t(0));
        backend->truncate(0);
        QCOMPARE(backend->message_count(), size_t(0));

        // Visual prompts: the image the model sees is the drawn one, the text says "region 1".
        auto vb = make_local_backend(model_);
        req.region_mode = RegionMode::VisualPrompt;
        QCOMPARE(vb->render_question(req), std::string("What is in region 1?"));
        const Reply v = vb->ask(req, g);
        Session vs(model_);
        const Reply w =
            vs.ask("What is in region 1?", {draw_visual_prompts(image_, req.regions)}, g);
        QCOMPARE(v.text, w.text);
        QVERIFY(error_of([&] {
                    ChatRequest bad = req;
                    bad.text = "<region 9>";
                    vb->ask(bad, g);
                }).contains("no region 9"));
    }

    void dualFocusChoiceRuleThroughABackend() {
        FakeBackend fake;
        fake.answers = {"macro answer", "[0.25, 0.25, 0.75, 0.75]", "micro answer"};
        fake.nll = {{"macro answer", 2.0}, {"micro answer", 1.0}};
        ChatRequest req;
        req.text = "What colour is it?";
        req.images = {image_};
        DualFocusResult r = run_dual_focus(fake, req);
        QVERIFY(r.has_box && r.scored && r.micro_won);
        QCOMPARE(r.answer, std::string("micro answer"));
        QCOMPARE(r.macro_nll, 2.0);
        QCOMPARE(r.crop.empty(), false);
        // The lower NLL wins either way round.
        *fake.next = 0;
        fake.nll = {{"macro answer", 0.5}, {"micro answer", 1.0}};
        r = run_dual_focus(fake, req);
        QVERIFY(r.scored && !r.micro_won);
        QCOMPARE(r.answer, std::string("macro answer"));
        // A backend that cannot score: no score pass, the micro answer is shown with both kept.
        *fake.next = 0;
        fake.can_score = false;
        fake.asked->clear();
        r = run_dual_focus(fake, req);
        QVERIFY(!r.scored && r.has_box);
        QCOMPARE(r.answer, std::string("micro answer"));
        QCOMPARE(r.macro_answer, std::string("macro answer"));
        for (const auto& q : *fake.asked) QVERIFY(q.rfind("score:", 0) != 0);
        // No box in the box pass: the macro answer stands.
        *fake.next = 0;
        fake.answers = {"macro answer", "no box here", "unused"};
        r = run_dual_focus(fake, req);
        QVERIFY(!r.has_box);
        QCOMPARE(r.answer, std::string("macro answer"));
    }

    // MMBench's script: the micro pass runs after a history whose box turn is worded unlike the
    // one the box was asked with, and both candidates are scored after its human turn.
    void dualFocusMmBenchCarriesItsOwnHistory() {
        FakeBackend fake;
        fake.answers = {"A", "[0.1, 0.1, 0.6, 0.6]", "B."};
        fake.nll = {{"left", 1.0}, {"right", 0.5}};
        ChatRequest req;
        req.images = {image_};
        DualFocusParams params;
        params.question = mmbench_dual_focus_question("Which side?", "", {"left", "right"});
        req.text = params.question->full;
        const DualFocusResult r = run_dual_focus(fake, req, params);
        QCOMPARE(r.script, DualFocusScript::MmBench);
        QCOMPARE(r.micro_answer, std::string("B"));  // .strip('\n').strip('.')
        QVERIFY(r.macro_valid && r.micro_valid && r.scored && r.micro_won);
        QCOMPARE(r.answer, std::string("B"));
        const std::vector<std::string> want = {
            params.question->full,
            dual_focus_box_turn(*params.question),
            "history:" + dual_focus_box_history(*params.question) + " -> [0.1, 0.1, 0.6, 0.6]",
            dual_focus_micro_prompt(params.question->full),
            "score:" + dual_focus_score_human(*params.question, "[0.1, 0.1, 0.6, 0.6]"),
            "score:" + dual_focus_score_human(*params.question, "[0.1, 0.1, 0.6, 0.6]")};
        QCOMPARE(*fake.asked, want);
    }
};

QTEST_GUILESS_MAIN(TestBackend)
#include "test_backend.moc"
