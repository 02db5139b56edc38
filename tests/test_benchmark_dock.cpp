// The Benchmark dock as a user drives it (offscreen): open a set, open a case on the canvas with
// its ground truth drawn, run all on the worker, filter by result, export, and bad folders.
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "MainWindow.h"
#include "bench/BenchmarkDock.h"
#include "support/tiny_model.h"

using namespace rcui;
namespace fs = std::filesystem;

class TestBenchmarkDock : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    QString model_;

    std::unique_ptr<MainWindow> window() {
        MainWindowOptions o;
        o.modelDir = model_;
        o.device = "cpu";
        o.recoveryPath = tmp_.path() + "/recovery-" +
                         QString::number(QRandomGenerator::global()->generate()) + ".regionchat";
        o.askBeforeRestoring = false;
        return std::make_unique<MainWindow>(o);
    }

    // MME: 2 images x 2 questions, plus one line whose image is missing.
    // Cases open in the background: waits until the window shows case `row`.
    static bool openCase(BenchmarkDock* dock, int row) {
        QSignalSpy opened(dock, &BenchmarkDock::caseOpened);
        dock->openCase(row);
        return opened.wait(20000);
    }

    QString writeMme() {
        const fs::path root = (tmp_.path() + "/mme").toStdString();
        fs::create_directories(root / "Data_json");
        fs::create_directories(root / "images" / "existence");
        cv::imwrite((root / "images/existence/a.png").string(), rc::testing::test_image(90, 60, 1));
        cv::imwrite((root / "images/existence/b.png").string(), rc::testing::test_image(70, 70, 2));
        std::ofstream f(root / "Data_json/existence.txt");
        f << "a.png\tIs there a red circle in the image?\tYes\n"
             "a.png\tIs there a blue star in the image?\tNo\n"
             "b.png\tIs there a green square in the image?\tYes\n"
             "b.png\tIs there a red star in the image?\tNo\n"
             "gone.png\tIs there a dog?\tNo\n";
        return QString::fromStdString(root.string());
    }

    QString writeGrounding() {
        const fs::path root = (tmp_.path() + "/grounding").toStdString();
        fs::create_directories(root);
        cv::imwrite((root / "s.png").string(), rc::testing::test_image(100, 80, 3));
        std::ofstream f(root / "set.jsonl");
        f << R"({"image": "s.png", "expression": "the red circle", "box": [10, 12, 40, 50]})"
             "\n"
             R"({"image": "s.png", "expression": "the blue star", "box": [50, 20, 90, 70]})"
             "\n";
        return QString::fromStdString(root.string());
    }

    // MMVM: one case whose two frames differ in size (the candidate frame half as tall).
    QString writeMmvm() {
        const fs::path root = (tmp_.path() + "/mmvm").toStdString();
        const fs::path c = root / "match_bench/case_0001";
        fs::create_directories(c);
        cv::imwrite((c / "FRAME00.jpg").string(), rc::testing::test_image(100, 80, 4));
        cv::imwrite((c / "FRAME01_CAND.jpg").string(), rc::testing::test_image(60, 40, 5));
        std::ofstream f(root / "mllm_match_eval_full.tsv");
        f << "index\tquestion\tanswer\timage_path\tmatch_type\tchoices\n"
             "0\tWhich candidate is the same object?\tB\t['match_bench/case_0001/FRAME00.jpg', "
             "'match_bench/case_0001/FRAME01_CAND.jpg']\t[1]\t\"A. 1\nB. 2\"\n";
        return QString::fromStdString(root.string());
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        model_ = tmp_.path() + "/model";
        rc::testing::write_tiny_model(model_.toStdString(), rc::testing::tiny_config());
    }

    void opensRunsFiltersAndExports() {
        auto w = window();
        BenchmarkDock* dock = w->benchmark();
        QVERIFY(dock);
        QVERIFY2(dock->openBenchmark(writeMme()), qPrintable(dock->lastMessage()));
        QCOMPARE(dock->format(), QString("mme"));
        QCOMPARE(dock->caseCount(), 4);
        QVERIFY2(dock->lastMessage().contains("1 cases skipped") ||
                     dock->lastMessage().contains("1 case skipped"),
                 qPrintable(dock->lastMessage()));

        // Opening a case puts its image and question in the window.
        QVERIFY(openCase(dock, 2));
        QCOMPARE(w->document()->image().size(), QSize(70, 70));
        QCOMPARE(w->document()->chat().size(), 2);
        QVERIFY(w->document()->chat()[0].text.contains("green square"));
        QVERIFY(w->document()->chat()[1].text.contains("Yes"));  // ground truth, not run yet

        QSignalSpy finished(dock, &BenchmarkDock::runFinished);
        dock->runAll();
        QVERIFY(dock->isRunning());
        QVERIFY(finished.wait(120000));
        QCOMPARE(dock->resultCount(), 4);
        QVERIFY2(dock->scoreText().contains("4 of 4"), qPrintable(dock->scoreText()));
        dock->setFilter(1);
        const int right = dock->visibleCount();
        dock->setFilter(2);
        const int wrong = dock->visibleCount();
        QCOMPARE(right + wrong, 4);
        dock->setFilter(3);
        QCOMPARE(dock->visibleCount(), 0);
        dock->setFilter(0);
        QCOMPARE(dock->visibleCount(), 4);

        const QString csv = tmp_.path() + "/results.csv";
        QVERIFY(dock->exportCsv(csv));
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).trimmed().split('\n');
        QCOMPARE(lines.size(), 5);
        QCOMPARE(lines[1].count(",right,") + lines[1].count(",wrong,"), 1);
        const QString json = tmp_.path() + "/results.json";
        QVERIFY(dock->exportJson(json));
        QFile j(json);
        QVERIFY(j.open(QIODevice::ReadOnly));
        const QJsonObject doc = QJsonDocument::fromJson(j.readAll()).object();
        QCOMPARE(doc["cases"].toArray().size(), 4);
        int correct = 0;
        for (const auto& c : doc["cases"].toArray()) correct += c.toObject()["correct"].toBool();
        QCOMPARE(correct, right);
    }

    void groundingCaseShowsTruthBox() {
        auto w = window();
        BenchmarkDock* dock = w->benchmark();
        QVERIFY(dock->openBenchmark(writeGrounding()));
        QCOMPARE(dock->format(), QString("grounding"));
        QVERIFY(openCase(dock, 1));
        const auto boxes = w->document()->groundingBoxes();
        QCOMPARE(boxes.size(), 1);
        QCOMPARE(boxes[0].label, QString("ground truth"));
        QCOMPARE(boxes[0].box, QRectF(QPointF(50, 20), QPointF(90, 70)));

        QSignalSpy finished(dock, &BenchmarkDock::runFinished);
        dock->runCase(1);
        QVERIFY(finished.wait(60000));
        QCOMPARE(dock->resultCount(), 1);
        QVERIFY(dock->scoreText().contains("Acc@0.5"));
    }

    // An MMVM case shows the query frame and the candidate frame side by side at one height,
    // with the choices in the question.
    void mmvmCaseShowsBothFramesSideBySide() {
        auto w = window();
        BenchmarkDock* dock = w->benchmark();
        QVERIFY(dock->openBenchmark(writeMmvm()));
        QCOMPARE(dock->format(), QString("mmvm"));
        QCOMPARE(dock->caseCount(), 1);
        QVERIFY(openCase(dock, 0));
        const QImage shown = w->document()->image();
        QCOMPARE(shown.height(), 80);
        QCOMPARE(shown.width(), 100 + 120);  // 60x40 scaled to height 80
        // Left half is the query frame, right half the candidate frame, pixel for pixel.
        const QImage query(tmp_.path() + "/mmvm/match_bench/case_0001/FRAME00.jpg");
        QCOMPARE(shown.copy(0, 0, 100, 80).convertToFormat(QImage::Format_RGB32),
                 query.convertToFormat(QImage::Format_RGB32));
        const QString q = w->document()->chat().first().text;
        QVERIFY2(q.contains("Which candidate") && q.contains("B. 2"), qPrintable(q));
    }

    void cancelStopsARun() {
        auto w = window();
        BenchmarkDock* dock = w->benchmark();
        QVERIFY(dock->openBenchmark(writeMme()));
        dock->runAll();
        QVERIFY(dock->isRunning());
        dock->cancel();
        QVERIFY(!dock->isRunning());
        QTest::qWait(500);
        QVERIFY(dock->resultCount() < 4);
    }

    void badFoldersGiveAMessage() {
        auto w = window();
        BenchmarkDock* dock = w->benchmark();
        QVERIFY(!dock->openBenchmark(tmp_.path() + "/nothing-here"));
        QVERIFY(!dock->lastMessage().isEmpty());
        const QString empty = tmp_.path() + "/empty";
        QDir().mkpath(empty + "/Data_json");
        QVERIFY(!dock->openBenchmark(empty));
        QVERIFY2(dock->lastMessage().contains("No mme cases"), qPrintable(dock->lastMessage()));
        QCOMPARE(dock->caseCount(), 0);
    }
};

QTEST_MAIN(TestBenchmarkDock)
#include "test_benchmark_dock.moc"
