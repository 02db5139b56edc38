// The committed embedded model, end to end through the same loader and runtime as real
// checkpoints: fixed held-out scenes are answered correctly, and `regionchat-cli batch` on a
// small generated set reaches the model card's targets within a margin.
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

#include <nlohmann/json.hpp>

#include "regionchat/dual_focus.h"
#include "regionchat/engine.h"
#include "regionchat/image_io.h"
#include "regionchat/synth.h"

using nlohmann::json;

namespace {

QString sourceDir() {
    return qEnvironmentVariable("REGIONCHAT_SOURCE_DIR");
}
std::string modelDir() {
    return (sourceDir() + "/resources/models/shapes-tiny").toStdString();
}

// The margin under the model card's targets a small sample may fall (sampling noise of
// ~100 questions is about +-3 points).
constexpr double kMargin = 0.06;

}  // namespace

class TestEmbeddedModel : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<rc::Model> model_;
    QTemporaryDir tmp_;

    QString run(const QStringList& args) {
        QProcess p;
        p.start(qEnvironmentVariable("REGIONCHAT_CLI"), args);
        if (!p.waitForFinished(600000) || p.exitCode() != 0)
            return "FAILED: " + QString::fromUtf8(p.readAllStandardError());
        return QString::fromUtf8(p.readAllStandardOutput());
    }

private slots:
    void initTestCase() {
        // The embedded model ships in the repository: without it this is a broken checkout.
        QVERIFY2(QFile::exists(QString::fromStdString(modelDir()) + "/config.json"),
                 "resources/models/shapes-tiny/config.json is missing from the checkout");
        rc::LoadParams p;
        p.model_dir = modelDir();
        p.device = "cpu";
        model_ = rc::Model::load(p);
        QVERIFY(tmp_.isValid());
    }

    void modelFitsTheBudget() {
        QVERIFY(QFileInfo(QString::fromStdString(modelDir()) + "/model.safetensors").size() <=
                25 << 20);
        QCOMPARE(model_->config().chat_template, std::string("vicuna_v1"));
        QCOMPARE(model_->config().region_format, std::string("dualfocus"));
    }

    void fixedScenesAreDescribedCorrectly() {
        int right = 0, asked = 0, well_formed = 0;
        QStringList wrong;
        QSet<QString> vocabulary;
        for (int c = 0; c < rc::synth::kColourCount; ++c)
            for (int k = 0; k < rc::synth::kShapeCount; ++k)
                vocabulary << QString("a %1 %2").arg(rc::synth::colour_name(rc::synth::Colour(c)),
                                                     rc::synth::shape_name(rc::synth::Shape(k)));
        for (uint64_t seed = 1'500'000'000; seed < 1'500'000'006; ++seed) {
            const auto scene = rc::synth::generate_scene(seed);
            const rc::ImageSize size{scene.image.cols, scene.image.rows};
            for (const auto& o : scene.objects) {
                rc::Session s(model_);
                const std::string q =
                    "What is in the region " + model_->region_format().encode(o.box, size) + "?";
                const std::string expected = std::string("a ") + rc::synth::colour_name(o.colour) +
                                             " " + rc::synth::shape_name(o.shape);
                const std::string got = s.ask(q, {scene.image}).text;
                ++asked;
                well_formed += vocabulary.contains(QString::fromStdString(got));
                if (got == expected)
                    ++right;
                else
                    wrong << QString::fromStdString(expected + " -> " + got);
            }
        }
        qInfo("region description on fixed scenes: %d/%d right, %d well formed", right, asked,
              well_formed);
        // Any trained model answers in the task's vocabulary ("a {colour} {shape}").
        QCOMPARE(well_formed, asked);
        QVERIFY2(right >= asked - 1, qPrintable(wrong.join("; ")));
    }

    // The DualFocus branch with a model that draws boxes: the box pass finds one, the crop is
    // cut as the reference cuts it, both answers are scored and the lower NLL wins.
    void dualFocusBranchAndChoiceRule() {
        const cv::Mat image = rc::load_image(
            (sourceDir() + "/resources/samples/scene_1000000000.png").toStdString());
        const rc::DualFocusResult open =
            rc::run_dual_focus(model_, image, "What shape is the red object?");
        QCOMPARE(open.pipeline, rc::DualFocusPipeline::OpenEnded);
        QVERIFY2(open.has_box, open.box_answer.c_str());
        QVERIFY(!open.crop.empty());
        QVERIFY((open.crop_rect & cv::Rect(0, 0, image.cols, image.rows)) == open.crop_rect);
        QVERIFY(open.scored);
        QCOMPARE(open.decided_by, std::string("perplexity"));
        QCOMPARE(open.micro_won, open.micro_nll < open.macro_nll);
        QCOMPARE(open.answer, open.micro_won ? open.micro_answer : open.macro_answer);
        QCOMPARE(open.answer, std::string("circle"));

        const rc::DualFocusResult mc = rc::run_dual_focus(
            model_, image, "What shape is the red object?\nA. star\nB. circle\nC. triangle");
        QCOMPARE(mc.pipeline, rc::DualFocusPipeline::MultipleChoice);
        QVERIFY(mc.has_box);
        qInfo("multiple choice: macro '%s' -> '%s', micro '%s' -> '%s', %s",
              mc.macro_answer.c_str(), mc.macro_letter.c_str(), mc.micro_answer.c_str(),
              mc.micro_letter.c_str(), mc.decided_by.c_str());
        if (mc.macro_valid && mc.micro_valid) {
            QVERIFY(mc.scored);
            QCOMPARE(mc.micro_won, mc.micro_nll < mc.macro_nll);
        } else if (mc.macro_valid != mc.micro_valid) {
            QVERIFY(!mc.scored);
            QCOMPARE(mc.answer, mc.micro_valid ? mc.micro_answer : mc.macro_answer);
        } else {
            QCOMPARE(mc.decided_by, std::string("no valid option"));
            QCOMPARE(mc.answer, mc.macro_answer);
        }
    }

    // The model card's seven accuracy targets, gated: `eval-synth --count 60` on the card's
    // fixed held-out seeds (greedy decoding, so the run is deterministic) must meet every
    // target and give the accuracies and question counts the card publishes.
    void modelCardTargetsHold() {
        const QString out = run({"eval-synth", "--count", "60", "--json"});
        QVERIFY2(!out.startsWith("FAILED"), qPrintable(out));
        const int brace = out.indexOf("\n{");
        QVERIFY(brace >= 0);
        const auto j = nlohmann::json::parse(out.mid(brace).toStdString(), nullptr, false);
        QVERIFY(j.is_object() && j.contains("tasks"));
        QCOMPARE(j["seed"].get<int64_t>(), int64_t(1'000'000'000));
        QFile card(QString::fromStdString(modelDir()) + "/MODEL_CARD.md");
        QVERIFY(card.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(card.readAll());
        const char* targets[] = {"region_description", "region_colour", "region_shape", "grounding",
                                 "existence", "counting", "dual_focus_box"};
        for (const char* task : targets) {
            const auto& t = j["tasks"][task];
            const double acc = t["accuracy"].get<double>(), target = t["target"].get<double>();
            QVERIFY2(target >= 0.85, task);
            QVERIFY2(acc >= target, qPrintable(QString("%1: %2 < target %3").arg(task).arg(acc).arg(target)));
            // The card's table row: "| task | questions | accuracy | target met |".
            const QString row = QStringLiteral("| %1 | %2 | %3 | %4 met |")
                                    .arg(task)
                                    .arg(t["questions"].get<int>())
                                    .arg(acc, 0, 'f', 3)
                                    .arg(target, 0, 'f', 2);
            QVERIFY2(text.contains(row), qPrintable("MODEL_CARD.md does not say " + row));
        }
        QVERIFY(j["all_targets_met"].get<bool>());
    }

    void batchOnGeneratedScenes() {
        const QString dir = tmp_.path() + "/synth";
        QVERIFY(!run({"export-synth", "--out", dir, "--seed", "1600000000", "--count", "30"})
                     .startsWith("FAILED"));
        // Region descriptions for every object, grounding for every unique pair.
        std::ofstream cases((dir + "/cases.jsonl").toStdString());
        std::ifstream scenes((dir + "/scenes.jsonl").toStdString());
        int n = 0;
        for (std::string line; std::getline(scenes, line);) {
            const json s = json::parse(line);
            for (const auto& o : s["objects"]) {
                cases << json{{"image", s["image"]},
                              {"question", "What is in the region <region>?"},
                              {"boxes", {o["box"]}},
                              {"task", "region"},
                              {"expected", "a " + o["colour"].get<std::string>() + " " +
                                               o["shape"].get<std::string>()}}
                             .dump()
                      << "\n";
                ++n;
            }
        }
        std::ifstream grounding((dir + "/grounding.jsonl").toStdString());
        for (std::string line; std::getline(grounding, line);) {
            const json g = json::parse(line);
            std::string phrase = g["expression"].get<std::string>();  // "the red circle"
            cases << json{{"image", g["image"]},
                          {"question", "Where is " + phrase + "?"},
                          {"task", "grounding"},
                          {"gt_box", g["box"]}}
                         .dump()
                  << "\n";
            ++n;
        }
        cases.close();
        QVERIFY(n > 60);
        const QString out = run({"batch", "--model", QString::fromStdString(modelDir()), "--input",
                                 dir + "/cases.jsonl", "--output", dir + "/results.jsonl"});
        QVERIFY2(!out.startsWith("FAILED"), qPrintable(out));
        std::ifstream results((dir + "/results.jsonl").toStdString());
        int region_ok = 0, region_n = 0, ground_ok = 0, ground_n = 0, boxed = 0;
        for (std::string line; std::getline(results, line);) {
            const json r = json::parse(line);
            if (r["task"] == "region") {
                ++region_n;
                region_ok += r["prediction"] == r["expected"];
            } else {
                ++ground_n;
                if (r["pred_boxes"].empty()) continue;
                ++boxed;
                const auto& p = r["pred_boxes"][0];
                const auto& g = r["gt_box"];
                const rc::Box pb{p[0], p[1], p[2], p[3]}, gb{g[0], g[1], g[2], g[3]};
                ground_ok += rc::iou(pb, gb) >= 0.5;
            }
        }
        QCOMPARE(region_n + ground_n, n);
        const double region_acc = double(region_ok) / region_n,
                     ground_acc = double(ground_ok) / ground_n;
        qInfo("batch: region description %.3f (%d), grounding Acc@0.5 %.3f (%d)", region_acc,
              region_n, ground_acc, ground_n);
        // Every grounding answer is a box (in the image: batch clips parsed boxes to it).
        QCOMPARE(boxed, ground_n);
        QVERIFY2(region_acc >= 0.95 - kMargin, qPrintable(QString::number(region_acc)));
        QVERIFY2(ground_acc >= 0.90 - kMargin, qPrintable(QString::number(ground_acc)));
    }
};

QTEST_GUILESS_MAIN(TestEmbeddedModel)
#include "test_embedded_model.moc"
