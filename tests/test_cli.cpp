// regionchat-cli ask and batch, run as a user would (QProcess) on a tiny random model.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "support/tiny_model.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Run {
    int code = -1;
    QString out, err;
};

}  // namespace

class TestCli : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    QString cli_;
    std::string model_, image_;

    Run run(const QStringList& args) {
        QProcess p;
        p.start(cli_, args);
        if (!p.waitForFinished(300000)) {
            p.kill();
            return {};
        }
        return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2,
                QString::fromUtf8(p.readAllStandardOutput()),
                QString::fromUtf8(p.readAllStandardError())};
    }
    QString path(const char* name) { return tmp_.path() + "/" + name; }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        cli_ = qEnvironmentVariable("REGIONCHAT_CLI");
        QVERIFY2(QFileInfo::exists(cli_), "REGIONCHAT_CLI must name the built regionchat-cli");
        model_ = path("model").toStdString();
        rc::testing::write_tiny_model(model_, rc::testing::tiny_config());
        image_ = path("scene.png").toStdString();
        QVERIFY(cv::imwrite(image_, rc::testing::test_image(120, 80, 3)));
    }

    void askJsonHasAnswerBoxesAndTimings() {
        Run r = run({"ask", "--model", QString::fromStdString(model_), "--image",
                     QString::fromStdString(image_), "--box", "12,8,60,40", "--question",
                     "What is in the region <region>?", "--json", "--max-new-tokens", "6"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json j = json::parse(r.out.toStdString());
        QVERIFY(j["answer"].is_string());
        QVERIFY(!j["answer"].get<std::string>().empty());
        QVERIFY(j["boxes"].is_array());
        QCOMPARE(j["generated_tokens"].get<int>(), 6);
        // The box went into the prompt in the model's (DualFocus) format: 12/120, 8/80, 60/120,
        // 40/80.
        QCOMPARE(j["prompt"].get<std::string>(),
                 std::string("What is in the region [0.10, 0.10, 0.50, 0.50]?"));
        for (const char* k : {"load", "image_encode", "prefill", "first_token", "total"}) {
            QVERIFY2(j["timings_ms"][k].is_number(), k);
            QVERIFY2(j["timings_ms"][k].get<double>() >= 0, k);
        }
        QVERIFY(j["timings_ms"]["total"].get<double>() >= j["timings_ms"]["prefill"].get<double>());
        QVERIFY(j["tokens_per_s"].get<double>() > 0);
    }

    void askStreamsPlainText() {
        Run r = run({"ask", "--model", QString::fromStdString(model_), "--image",
                     QString::fromStdString(image_), "--question", "Describe the image.",
                     "--max-new-tokens", "5"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(r.out.endsWith('\n'));
        QVERIFY(r.out.trimmed().size() > 0);
        // The same question as JSON gives the same (greedy) answer.
        Run j = run({"ask", "--model", QString::fromStdString(model_), "--image",
                     QString::fromStdString(image_), "--question", "Describe the image.",
                     "--max-new-tokens", "5", "--json"});
        QCOMPARE(
            QString::fromStdString(json::parse(j.out.toStdString())["answer"].get<std::string>()),
            r.out.chopped(1));
    }

    void errorsAreOneClearLine() {
        const QString m = QString::fromStdString(model_);
        Run missing = run({"ask", "--model", m, "--image", path("nope.png"), "--question", "Hi?"});
        QCOMPARE(missing.code, 1);
        QVERIFY(missing.err.contains("nope.png"));
        QCOMPARE(missing.err.trimmed().count('\n'), 0);

        std::ofstream(path("fake.png").toStdString()) << "not a picture";
        Run fake = run({"ask", "--model", m, "--image", path("fake.png"), "--question", "Hi?"});
        QCOMPARE(fake.code, 1);
        QVERIFY2(fake.err.contains("not an image"), qPrintable(fake.err));

        Run badbox = run({"ask", "--model", m, "--image", QString::fromStdString(image_), "--box",
                          "1,2,3", "--question", "<region>?"});
        QCOMPARE(badbox.code, 2);
        QVERIFY(badbox.err.contains("--box"));

        Run count = run({"ask", "--model", m, "--image", QString::fromStdString(image_), "--box",
                         "1,2,30,40", "--question", "no placeholder"});
        QCOMPARE(count.code, 2);
        QVERIFY(count.err.contains("placeholder"));

        const std::string broken = path("broken").toStdString();
        rc::testing::write_tiny_model(broken, rc::testing::tiny_config());
        fs::remove(broken + "/tokenizer.model");
        Run notok = run({"ask", "--model", QString::fromStdString(broken), "--image",
                         QString::fromStdString(image_), "--question", "Hi?"});
        QCOMPARE(notok.code, 1);
        QVERIFY(notok.err.contains("tokenizer.model"));

        std::ofstream(broken + "/tokenizer.model") << "garbage";
        Run badtok = run({"ask", "--model", QString::fromStdString(broken), "--image",
                          QString::fromStdString(image_), "--question", "Hi?"});
        QCOMPARE(badtok.code, 1);
        QVERIFY(badtok.err.contains("tokenizer.model"));

        Run unknown = run({"frobnicate"});
        QCOMPARE(unknown.code, 2);
    }

    void batchKeepsFieldsAndSkipsBadLines() {
        fs::create_directories(path("cases/img").toStdString());
        QVERIFY(
            cv::imwrite(path("cases/img/a.png").toStdString(), rc::testing::test_image(64, 48, 1)));
        QVERIFY(
            cv::imwrite(path("cases/img/b.png").toStdString(), rc::testing::test_image(50, 90, 2)));
        std::ofstream in(path("cases/cases.jsonl").toStdString());
        in << R"({"id": 1, "image": "img/a.png", "question": "What is in the region <region>?", "boxes": [[4, 4, 30, 20]], "tag": "keep me"})"
              "\n";
        in << R"({"id": 2, "image": "img/missing.png", "question": "Hi?"})"
              "\n";
        in << "this is not json\n";
        in << "\n";
        in << R"({"id": 3, "image": "img/b.png", "question": "Where is <region> and <region>?", "boxes": [[1, 1, 20, 20], [10, 10, 40, 80]]})"
              "\n";
        in << R"({"id": 4, "image": "img/a.png", "question": "Count?", "boxes": [[1, 2, 3]]})"
              "\n";
        in << R"({"id": 5, "image": "img/b.png", "question": "What now?"})"
              "\n";
        in.close();
        Run r = run({"batch", "--model", QString::fromStdString(model_), "--input",
                     path("cases/cases.jsonl"), "--output", path("results.jsonl"),
                     "--max-new-tokens", "4"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains("cases.jsonl:2"), qPrintable(r.err));
        QVERIFY(r.err.contains("cases.jsonl:3"));
        QVERIFY(r.err.contains("cases.jsonl:6"));
        QVERIFY(r.err.contains("3 case(s) answered, 3 skipped"));
        std::ifstream out(path("results.jsonl").toStdString());
        std::vector<json> rows;
        for (std::string line; std::getline(out, line);) rows.push_back(json::parse(line));
        QCOMPARE(rows.size(), size_t(3));
        QCOMPARE(rows[0]["id"].get<int>(), 1);
        QCOMPARE(rows[0]["tag"].get<std::string>(), std::string("keep me"));
        QCOMPARE(rows[1]["id"].get<int>(), 3);
        QCOMPARE(rows[2]["id"].get<int>(), 5);
        for (const auto& row : rows) {
            QVERIFY(row["prediction"].is_string());
            QVERIFY(row["pred_boxes"].is_array());
            QVERIFY(row["ms"].get<double>() > 0);
            QVERIFY(row.contains("question"));
        }
    }

    // export-synth writes the MME and grounding layouts; bench runs them with one model load,
    // skips what is broken with a message, and writes per-case results and scores.
    void benchRunsExportedSyntheticSets() {
        const QString set = path("synth");
        Run e = run({"export-synth", "--seed", "1000000000", "--count", "5", "--out", set});
        QVERIFY2(e.code == 0, qPrintable(e.err));
        std::ifstream mme_in((set + "/mme/Data_json/existence.txt").toStdString());
        std::vector<std::string> lines;
        for (std::string line; std::getline(mme_in, line);) lines.push_back(line);
        QCOMPARE(lines.size(), size_t(10));  // every synthetic scene has objects: 2 per image
        for (size_t i = 0; i < lines.size(); ++i) {
            const std::string want = i % 2 ? "\tNo" : "\tYes";
            QVERIFY2(lines[i].size() > want.size() &&
                         lines[i].compare(lines[i].size() - want.size(), want.size(), want) == 0,
                     lines[i].c_str());
            QVERIFY(fs::exists((set + "/mme/images/existence/").toStdString() +
                               lines[i].substr(0, lines[i].find('\t'))));
        }
        {  // a malformed line and a missing image: counted, listed, the rest run
            std::ofstream app((set + "/mme/Data_json/existence.txt").toStdString(), std::ios::app);
            app << "only one column\n";
            app << "gone.png\tIs there a red star in the image?\tYes\n";
        }
        Run b = run({"bench", "--format", "mme", "--root", set + "/mme", "--model",
                     QString::fromStdString(model_), "--output", path("mme_out"), "--limit", "6",
                     "--max-new-tokens", "3"});
        QVERIFY2(b.code == 0, qPrintable(b.err));
        QVERIFY2(b.err.contains("2 cases skipped"), qPrintable(b.err));
        QVERIFY2(b.err.contains("6/6"), qPrintable(b.err));
        QVERIFY2(b.out.contains("| existence | perception | 6 |"), qPrintable(b.out));
        std::ifstream res((path("mme_out") + "/results.jsonl").toStdString());
        int rows = 0, correct = 0;
        for (std::string line; std::getline(res, line);) {
            const json j = json::parse(line);
            ++rows;
            correct += j["correct"].get<bool>();
            QVERIFY(j["prediction"].is_string());
        }
        QCOMPARE(rows, 6);
        const json scores =
            json::parse(std::ifstream((path("mme_out") + "/scores.json").toStdString()));
        QCOMPARE(scores["answered"].get<int>(), 6);
        QVERIFY(std::abs(scores["tasks"]["existence"]["acc"].get<double>() - correct / 6.0) < 1e-9);
        // The published per-task output file: image, question, gt, prediction.
        std::ifstream published((path("mme_out") + "/mme/existence.txt").toStdString());
        std::string first;
        QVERIFY(std::getline(published, first));
        QCOMPARE(std::count(first.begin(), first.end(), '\t'), 3L);

        Run g = run({"bench", "--format", "grounding", "--root", set + "/grounding.jsonl",
                     "--model", QString::fromStdString(model_), "--json", "--max-new-tokens", "3"});
        QVERIFY2(g.code == 0, qPrintable(g.err));
        const json gs = json::parse(g.out.toStdString());
        QVERIFY(gs["cases"].get<int>() >= 5);
        QVERIFY(gs["acc_at_05"].get<double>() >= 0 && gs["acc_at_05"].get<double>() <= 1);

        Run bad = run({"bench", "--format", "nope", "--root", set});
        QCOMPARE(bad.code, 2);
        Run missing = run({"bench", "--format", "mmvm", "--root", path("no_such_dir"), "--model",
                           QString::fromStdString(model_)});
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.err.contains("no_such_dir"), qPrintable(missing.err));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
