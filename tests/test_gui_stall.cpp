// The GUI thread never stalls while a large image opens: a 4000x3000 noise PNG is opened as an
// image, through a session and as a benchmark case, while a 5 ms timer on the GUI thread
// records the largest gap between its ticks; every gap must stay under 50 ms. Opens that a
// newer one overtook are dropped.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QTimer>
#include <QtTest>

#include <fstream>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "MainWindow.h"
#include "bench/BenchmarkDock.h"
#include "document/FileLoading.h"
#include "document/SessionFile.h"

using namespace rcui;

namespace {

constexpr double kMaxGapMs = 50;
const QSize kSize(4000, 3000);

// Ticks every 5 ms on the GUI thread; the largest gap between two ticks (or between the last
// tick and stop()) is how long the event loop stalled.
class StallMeter {
public:
    StallMeter() {
        timer_.setTimerType(Qt::PreciseTimer);
        timer_.setInterval(5);
        QObject::connect(&timer_, &QTimer::timeout, [this] { tick(); });
    }
    void start() {
        worst_ = 0;
        clock_.start();
        last_ = 0;
        timer_.start();
    }
    double stop() {
        tick();
        timer_.stop();
        return worst_ / 1e6;
    }

private:
    void tick() {
        const qint64 now = clock_.nsecsElapsed();
        worst_ = std::max(worst_, now - last_);
        last_ = now;
    }
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 last_ = 0, worst_ = 0;
};

// Runs the event loop until `done` (or the timeout), then a little longer so that the window
// paints what it now shows.
bool waitShown(const std::function<bool()>& done, int ms = 30000) {
    QElapsedTimer t;
    t.start();
    while (!done() && t.elapsed() < ms) QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    QTest::qWait(300);
    return done();
}

}  // namespace

class TestGuiStall : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    QString png_, small_, session_, bench_;
    std::unique_ptr<MainWindow> w_;
    StallMeter meter_;

    std::unique_ptr<MainWindow> window() {
        MainWindowOptions o;
        o.modelDir = tmp_.path() + "/no-model";  // no model: nothing else busy
        o.device = "cpu";
        o.recoveryPath = tmp_.path() + "/recovery.regionchat";
        o.askBeforeRestoring = false;
        o.restoreSam = false;
        auto w = std::make_unique<MainWindow>(o);
        w->resize(1280, 820);
        w->show();
        return w;
    }

    void verifyGap(double gapMs, const char* path) {
        qInfo("%s: largest GUI-thread gap %.1f ms", path, gapMs);
        QVERIFY2(gapMs < kMaxGapMs,
                 qPrintable(QString("%1: the GUI thread stalled %2 ms (limit %3 ms)")
                                .arg(path)
                                .arg(gapMs, 0, 'f', 1)
                                .arg(kMaxGapMs)));
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        cv::Mat noise(kSize.height(), kSize.width(), CV_8UC3);
        cv::randu(noise, 0, 256);
        png_ = tmp_.filePath("noise.png");
        QVERIFY(cv::imwrite(png_.toStdString(), noise, {cv::IMWRITE_PNG_COMPRESSION, 1}));
        small_ = tmp_.filePath("small.png");
        QVERIFY(cv::imwrite(small_.toStdString(), noise(cv::Rect(0, 0, 64, 48))));

        // A session about the noise image: a box region with a full-size mask and a chat.
        SessionData d;
        d.imagePath = png_;
        d.imageHash = fileSha256(png_);
        d.imageWidth = kSize.width();
        d.imageHeight = kSize.height();
        Region r;
        r.id = 1;
        r.box = QRectF(100, 200, 800, 600);
        r.colour = regionColour(1);
        r.mask = QImage(kSize, QImage::Format_Grayscale8);
        r.mask.fill(0);
        for (int y = 200; y < 800; ++y) memset(r.mask.scanLine(y) + 100, 255, 800);
        d.regions = {r};
        ChatEntry q;
        q.text = "What is in <region 1>?";
        ChatEntry a;
        a.role = ChatEntry::Role::Assistant;
        a.text = "noise";
        d.chat = {q, a};
        session_ = tmp_.filePath("noise.regionchat");
        QString error;
        QVERIFY2(writeSessionFile(session_, d, &error), qPrintable(error));

        // A grounding set whose one case is the noise image.
        bench_ = tmp_.filePath("grounding");
        QVERIFY(QDir().mkpath(bench_));
        QVERIFY(QFile::copy(png_, bench_ + "/noise.png"));
        std::ofstream(QString(bench_ + "/set.jsonl").toStdString())
            << R"({"image": "noise.png", "expression": "the noise", "box": [10, 12, 400, 500]})"
            << "\n";

        w_ = window();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
    }

    void cleanupTestCase() {
        if (w_) w_->document()->setModified(false);
        w_.reset();
    }

    // The meter is sensitive: decoding the image on the GUI thread shows as a long gap.
    void meterSeesADecodeOnTheGuiThread() {
        QString error = "not run";
        meter_.start();
        QTimer::singleShot(20, [&] { error = loadImageFile(png_).error; });
        QTest::qWait(60);
        const double gap = meter_.stop();
        QVERIFY2(error.isEmpty(), qPrintable(error));
        qInfo("decoding on the GUI thread: largest gap %.1f ms", gap);
        QVERIFY2(gap >= kMaxGapMs, qPrintable(QString("only %1 ms").arg(gap)));
    }

    void openImageDoesNotStall() {
        QSignalSpy loaded(w_.get(), &MainWindow::imageLoaded);
        meter_.start();
        w_->openImage(png_);
        QVERIFY(waitShown([&] { return !loaded.isEmpty(); }));
        verifyGap(meter_.stop(), "open image");
        QVERIFY2(loaded.first().first().toBool(), qPrintable(w_->lastError()));
        QCOMPARE(w_->document()->image().size(), kSize);
    }

    void openSessionDoesNotStall() {
        QSignalSpy loaded(w_.get(), &MainWindow::sessionLoaded);
        meter_.start();
        w_->openSession(session_);
        QVERIFY(waitShown([&] { return !loaded.isEmpty(); }));
        verifyGap(meter_.stop(), "open session");
        QVERIFY2(loaded.first().first().toBool(), qPrintable(w_->lastError()));
        QCOMPARE(w_->document()->image().size(), kSize);
        QCOMPARE(w_->document()->regions().size(), 1);
        QVERIFY(w_->document()->regions().first().hasMask());
        QCOMPARE(w_->document()->chat().size(), 2);
    }

    void openBenchmarkCaseDoesNotStall() {
        BenchmarkDock* dock = w_->benchmark();
        QSignalSpy opened(dock, &BenchmarkDock::caseOpened);
        meter_.start();
        QVERIFY2(dock->openBenchmark(bench_), qPrintable(dock->lastMessage()));  // opens case 0
        QVERIFY(waitShown([&] { return !opened.isEmpty(); }));
        verifyGap(meter_.stop(), "open benchmark case");
        QCOMPARE(w_->document()->image().size(), kSize);
        QCOMPARE(w_->document()->groundingBoxes().size(), 1);
    }

    // The newest open wins: an image or session that finishes after a newer open is dropped.
    void staleOpensAreDropped() {
        QSignalSpy images(w_.get(), &MainWindow::imageLoaded);
        QSignalSpy sessions(w_.get(), &MainWindow::sessionLoaded);
        w_->openImage(png_);
        w_->openSession(session_);
        w_->openImage(small_);
        QVERIFY(images.wait(20000));
        QVERIFY(QThreadPool::globalInstance()->waitForDone(60000));  // the large reads ended
        QTest::qWait(100);
        QCOMPARE(images.size(), 1);
        QVERIFY(images.first().first().toBool());
        QCOMPARE(sessions.size(), 0);
        QCOMPARE(w_->document()->image().size(), QSize(64, 48));
        QCOMPARE(w_->document()->regions().size(), 0);
    }
};

QTEST_MAIN(TestGuiStall)
#include "test_gui_stall.moc"
