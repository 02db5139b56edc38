// The inference worker and controller: asynchronous loading with progress, streaming,
// cancellation within one token, latest-request-wins, a GUI thread that never blocks, and a
// prompt shutdown. Runs a tiny random model on the CPU (it never emits EOS).
#include <QDir>
#include <QElapsedTimer>
#include <QPainter>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>
#include <memory>

#include "inference/ImageConversion.h"
#include "inference/InferenceController.h"
#include "inference/InferenceWorker.h"
#include "support/tiny_model.h"

using namespace rcui;

class TestInference : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    QString modelDir_;
    QString slowDir_;  // wider and deeper: a few ms per token, so stalls and races would show
    QImage image_;

    AskRequest request(const QString& prompt, int maxTokens) const {
        AskRequest r;
        r.question = prompt;
        r.image = image_;
        r.imageKey = 1;
        r.maxNewTokens = maxTokens;
        return r;
    }

    std::unique_ptr<InferenceController> loadedController(const QString& dir = QString()) {
        auto c = std::make_unique<InferenceController>();
        QSignalSpy ready(c.get(), &InferenceController::modelReady);
        c->loadModel(dir.isEmpty() ? modelDir_ : dir, QStringLiteral("cpu"));
        if (!ready.wait(60000)) return nullptr;
        return c;
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        modelDir_ = tmp_.path() + QStringLiteral("/tiny");
        rc::testing::write_tiny_model(modelDir_.toStdString(), rc::testing::tiny_config());
        slowDir_ = tmp_.path() + QStringLiteral("/slow");
        rc::ModelConfig slow = rc::testing::tiny_config();
        slow.text.hidden_size = 384;
        slow.text.intermediate_size = 1024;
        slow.text.num_hidden_layers = 8;
        rc::testing::write_tiny_model(slowDir_.toStdString(), slow);
        image_ = QImage(48, 40, QImage::Format_RGB32);
        QPainter p(&image_);
        p.fillRect(image_.rect(), QColor(30, 60, 200));
        p.setBrush(QColor(230, 40, 40));
        p.drawEllipse(QRect(8, 6, 20, 20));
    }

    void imageConversionCopiesAnyFormat() {
        QImage argb(3, 2, QImage::Format_ARGB32);
        argb.fill(QColor(10, 20, 30));
        argb.setPixelColor(2, 1, QColor(200, 100, 50));
        for (QImage::Format f : {QImage::Format_ARGB32, QImage::Format_RGB888,
                                 QImage::Format_Grayscale8, QImage::Format_Indexed8}) {
            const QImage src = argb.convertToFormat(f);
            const cv::Mat m = toBgrMat(src);
            QCOMPARE(m.type(), CV_8UC3);
            QCOMPARE(m.cols, 3);
            QCOMPARE(m.rows, 2);
            const QColor want = src.pixelColor(2, 1);
            const cv::Vec3b got = m.at<cv::Vec3b>(1, 2);
            QCOMPARE(int(got[0]), want.blue());
            QCOMPARE(int(got[2]), want.red());
            QVERIFY(m.data != src.constBits());  // a deep copy
        }
        const QImage back = toQImage(toBgrMat(argb));
        QCOMPARE(back.pixelColor(2, 1), QColor(200, 100, 50));
        QVERIFY(toBgrMat(QImage()).empty());
    }

    void loadsAsynchronouslyWithProgress() {
        InferenceController c;
        QSignalSpy progress(&c, &InferenceController::loadProgress);
        QSignalSpy ready(&c, &InferenceController::modelReady);
        QSignalSpy failed(&c, &InferenceController::modelFailed);
        c.loadModel(modelDir_, QStringLiteral("cpu"));
        QCOMPARE(ready.count(), 0);  // nothing happened on this thread yet
        QVERIFY(c.isLoading());
        QVERIFY(ready.wait(60000));
        QCOMPARE(failed.count(), 0);
        QVERIFY(progress.count() >= 1);
        const QList<QVariant> last = progress.last();
        QVERIFY(last.at(1).toLongLong() > 0);
        QCOMPARE(last.at(0).toLongLong(), last.at(1).toLongLong());
        const auto summary = ready.first().at(0).value<ModelSummary>();
        QCOMPARE(summary.name, QStringLiteral("tiny"));
        QCOMPARE(summary.device, QStringLiteral("cpu"));
        QVERIFY(summary.parameters > 0);
        QVERIFY(!summary.regionFormat.isEmpty());
        QVERIFY(c.hasModel());
        QVERIFY(!c.isLoading());
        QCOMPARE(c.model().dir, summary.dir);
    }

    void badFolderFailsClearly_data() {
        QTest::addColumn<QString>("folder");
        QTest::addColumn<QString>("says");
        QTest::newRow("missing") << QStringLiteral("no-such-model")
                                 << QStringLiteral("does not exist");
        QTest::newRow("not a model") << QStringLiteral("empty") << QStringLiteral("no config.json");
    }

    void badFolderFailsClearly() {
        QFETCH(QString, folder);
        QFETCH(QString, says);
        const QString bad = tmp_.path() + QLatin1Char('/') + folder;
        if (folder == QLatin1String("empty")) QVERIFY(QDir().mkpath(bad));
        InferenceController c;
        QSignalSpy ready(&c, &InferenceController::modelReady);
        QSignalSpy failed(&c, &InferenceController::modelFailed);
        c.loadModel(bad, QStringLiteral("cpu"));
        QVERIFY(failed.wait(30000));
        const QString message = failed.first().at(0).toString();
        qInfo() << "bad folder:" << message;
        QVERIFY2(message.startsWith(QStringLiteral("Could not load the model in ") + bad),
                 qPrintable(message));
        QVERIFY2(message.contains(says), qPrintable(message));
        QCOMPARE(ready.count(), 0);
        QVERIFY(!c.hasModel());
        QVERIFY(!c.isLoading());
    }

    void streamsTokensThatMakeTheAnswer() {
        auto c = loadedController();
        QVERIFY(c);
        QString streamed;
        int pieces = 0;
        connect(c.get(), &InferenceController::token, this, [&](const QString& p) {
            streamed += p;
            ++pieces;
        });
        QSignalSpy answered(c.get(), &InferenceController::answered);
        QSignalSpy busy(c.get(), &InferenceController::busyChanged);
        c->ask(request(QStringLiteral("What is in the image?"), 24));
        QVERIFY(c->isBusy());
        QVERIFY(answered.wait(60000));
        QTest::qWait(50);
        QCOMPARE(answered.count(), 1);
        const auto r = answered.first().at(0).value<AnswerResult>();
        QVERIFY(!r.text.isEmpty());
        QCOMPARE(streamed, r.text);
        QVERIFY(pieces >= 2);
        QCOMPARE(r.stopReason, QStringLiteral("length"));
        QVERIFY(!r.stopped);
        QCOMPARE(r.timings.generatedTokens, 24);
        QVERIFY(r.timings.imageEncodeMs > 0);
        QCOMPARE(busy.count(), 2);  // true, then false
        QVERIFY(!c->isBusy());

        // Second turn: same image key, the image is not sent again and the first turn is reused.
        QSignalSpy second(c.get(), &InferenceController::answered);
        c->ask(request(QStringLiteral("And its colour?"), 6));
        QVERIFY(second.wait(60000));
        const auto r2 = second.first().at(0).value<AnswerResult>();
        QCOMPARE(r2.timings.imageEncodeMs, 0.0);
        QVERIFY(r2.timings.reusedTokens >= r.timings.promptTokens);
        QVERIFY(r2.timings.promptTokens > r.timings.promptTokens);

        // A new conversation starts over with the image.
        QSignalSpy third(c.get(), &InferenceController::answered);
        AskRequest fresh = request(QStringLiteral("What is in the image?"), 6);
        fresh.newConversation = true;
        c->ask(fresh);
        QVERIFY(third.wait(60000));
        QCOMPARE(third.first().at(0).value<AnswerResult>().timings.promptTokens,
                 r.timings.promptTokens);
    }

    void workerStopsWithinOneTokenOfTheFlag() {
        // Deterministic: the flag is raised from inside the 5th token's callback.
        auto cancel = std::make_shared<std::atomic<quint64>>(0);
        InferenceWorker w(cancel);
        QSignalSpy loaded(&w, &InferenceWorker::modelLoaded);
        w.loadModel(1, modelDir_, QStringLiteral("cpu"));
        QCOMPARE(loaded.count(), 1);
        int tokens = 0, afterStop = -1;
        connect(&w, &InferenceWorker::token, this, [&](quint64, const QString&) {
            ++tokens;
            if (afterStop >= 0) ++afterStop;
            if (tokens == 5) {
                cancel->store(3);
                afterStop = 0;
            }
        });
        QSignalSpy answered(&w, &InferenceWorker::answered);
        AskRequest r = request(QStringLiteral("Describe the image."), 200);
        r.id = 2;
        w.ask(r);
        QCOMPARE(answered.count(), 1);
        const auto result = answered.first().at(1).value<AnswerResult>();
        QVERIFY(result.stopped);
        QCOMPARE(result.stopReason, QStringLiteral("abort"));
        QVERIFY2(afterStop <= 1, qPrintable(QString::number(afterStop)));
        QVERIFY(result.timings.generatedTokens <= 6);
    }

    void stopEndsWithinOneToken() {
        auto c = loadedController(slowDir_);
        QVERIFY(c);
        int tokens = 0, afterStop = -1;
        QString streamed;
        connect(c.get(), &InferenceController::token, this, [&](const QString& p) {
            ++tokens;
            streamed += p;
            if (afterStop >= 0) ++afterStop;
            if (tokens == 5) {
                c->stop();
                afterStop = 0;
            }
        });
        QSignalSpy answered(c.get(), &InferenceController::answered);
        QElapsedTimer t;
        t.start();
        c->ask(request(QStringLiteral("Describe the image."), 200));
        QVERIFY(answered.wait(60000));
        qInfo() << "stopped after" << tokens << "tokens," << t.elapsed() << "ms";
        QTest::qWait(50);
        QCOMPARE(answered.count(), 1);
        const auto r = answered.first().at(0).value<AnswerResult>();
        QVERIFY(r.stopped);
        QCOMPARE(r.stopReason, QStringLiteral("abort"));
        QVERIFY2(afterStop <= 1, qPrintable(QString::number(afterStop)));
        // The worker itself stopped soon, not at the 200-token limit.
        QVERIFY2(r.timings.generatedTokens < 50,
                 qPrintable(QString::number(r.timings.generatedTokens)));
        QVERIFY(r.text.startsWith(streamed));
        QVERIFY(!c->isBusy());
    }

    void newAskDropsTheOldOne() {
        auto c = loadedController(slowDir_);
        QVERIFY(c);
        QString afterSecond;
        bool secondAsked = false;
        int tokens = 0;
        connect(c.get(), &InferenceController::token, this, [&](const QString& p) {
            ++tokens;
            if (secondAsked) afterSecond += p;
        });
        QSignalSpy answered(c.get(), &InferenceController::answered);
        QSignalSpy busy(c.get(), &InferenceController::busyChanged);
        const quint64 first = c->ask(request(QStringLiteral("Describe the image at length."), 200));
        QTRY_VERIFY_WITH_TIMEOUT(tokens >= 3, 60000);
        secondAsked = true;
        QElapsedTimer wall;
        wall.start();
        const quint64 second = c->ask(request(QStringLiteral("What colour is it?"), 12));
        QVERIFY(second > first);
        QCOMPARE(c->currentId(), second);
        QVERIFY(answered.wait(60000));
        const qint64 waited = wall.elapsed();
        QTest::qWait(200);  // time for any stale signal to show up
        QCOMPARE(answered.count(), 1);
        const auto r = answered.first().at(0).value<AnswerResult>();
        QVERIFY(!r.stopped);
        QCOMPARE(r.timings.generatedTokens, 12);
        QCOMPARE(afterSecond, r.text);  // no token of the first answer after the new ask
        QCOMPARE(busy.count(), 2);      // busy stayed on across the switch
        // The first request stopped at once instead of running on to its 200 tokens: the new
        // one waited in the queue for less than half of the ~197 tokens the first had left,
        // in token times measured in this run (a ratio, not a wall-clock limit).
        const double msPerToken = 1000.0 / std::max(1.0, r.timings.tokensPerSecond);
        const double queued = waited - r.timings.totalMs;
        qInfo() << "new ask queued" << queued << "ms;" << msPerToken << "ms per token";
        QVERIFY2(queued < 100 * msPerToken, qPrintable(QString::number(queued)));
    }

    void guiThreadNeverBlocks() {
        auto c = loadedController(slowDir_);
        QVERIFY(c);
        QElapsedTimer clock;
        qint64 last = 0, maxGap = 0;  // from the start: a blocking ask() shows as one long gap
        QTimer tick;
        tick.setInterval(5);
        connect(&tick, &QTimer::timeout, this, [&] {
            const qint64 now = clock.elapsed();
            if (last >= 0) maxGap = std::max(maxGap, now - last);
            last = now;
        });
        QSignalSpy answered(c.get(), &InferenceController::answered);
        int tokens = 0;
        connect(c.get(), &InferenceController::token, this, [&](const QString&) { ++tokens; });
        clock.start();
        tick.start();
        AskRequest r = request(QStringLiteral("Describe the image."), 150);
        r.newConversation = true;
        c->ask(r);
        QVERIFY(answered.wait(120000));
        tick.stop();
        const auto result = answered.first().at(0).value<AnswerResult>();
        qInfo() << "longest GUI stall during a" << result.timings.generatedTokens
                << "token answer:" << maxGap << "ms over" << clock.elapsed() << "ms ("
                << result.timings.tokensPerSecond << "tokens/s)";
        QCOMPARE(result.timings.generatedTokens, 150);
        QVERIFY(tokens > 0);
        // A blocking ask would be one gap as long as the whole answer; the GUI thread's longest
        // gap must be a small part of it (test_gui_stall, run alone, holds the 50 ms line).
        QVERIFY2(maxGap * 4 < clock.elapsed(),
                 qPrintable(QString("%1 ms of %2").arg(maxGap).arg(clock.elapsed())));
    }

    void destroyingWhileGeneratingReturnsPromptly() {
        auto c = loadedController(slowDir_);
        QVERIFY(c);
        int tokens = 0;
        connect(c.get(), &InferenceController::token, this, [&](const QString&) { ++tokens; });
        c->ask(request(QStringLiteral("Describe the image."), 200));
        QTRY_VERIFY_WITH_TIMEOUT(tokens >= 2, 60000);
        QElapsedTimer perToken;
        perToken.start();
        QTRY_VERIFY_WITH_TIMEOUT(tokens >= 6, 60000);
        const double msPerToken = std::max(1.0, perToken.nsecsElapsed() / 1e6 / (tokens - 2));
        QElapsedTimer t;
        t.start();
        c.reset();
        const double ms = t.nsecsElapsed() / 1e6;
        qInfo() << "destroyed while generating in" << ms << "ms;" << msPerToken << "ms per token";
        // Waiting for the answer to finish would take ~190 tokens' time; stopping takes a few.
        QVERIFY2(ms < 50 * msPerToken, qPrintable(QString::number(ms)));
    }

    void destroyingWhileLoadingReturnsPromptly() {
        // A whole load, timed in this run, against destroying a controller mid-load: the
        // loader stops between tensors, so the destructor never waits longer than a load.
        QElapsedTimer whole;
        whole.start();
        {
            InferenceController loaded;
            QSignalSpy ready(&loaded, &InferenceController::modelReady);
            loaded.loadModel(modelDir_, QStringLiteral("cpu"));
            QVERIFY(ready.wait(120000));
        }
        const double loadMs = whole.nsecsElapsed() / 1e6;
        auto c = std::make_unique<InferenceController>();
        c->loadModel(modelDir_, QStringLiteral("cpu"));
        QElapsedTimer t;
        t.start();
        c.reset();
        const double ms = t.nsecsElapsed() / 1e6;
        qInfo() << "destroyed while loading in" << ms << "ms; a whole load took" << loadMs << "ms";
        QVERIFY2(ms < 2 * loadMs + 250, qPrintable(QString::number(ms)));
    }

    void askDuringLoadWaitsForTheModel() {
        InferenceController c;
        QSignalSpy ready(&c, &InferenceController::modelReady);
        QSignalSpy answered(&c, &InferenceController::answered);
        QSignalSpy failed(&c, &InferenceController::failed);
        c.loadModel(modelDir_, QStringLiteral("cpu"));
        c.ask(request(QStringLiteral("What is it?"), 4));
        QVERIFY(answered.wait(60000));
        QCOMPARE(ready.count(), 1);
        QCOMPARE(failed.count(), 0);
        QVERIFY(!answered.first().at(0).value<AnswerResult>().stopped);
    }

    void askWithoutModelFails() {
        InferenceController c;
        QSignalSpy failed(&c, &InferenceController::failed);
        c.ask(request(QStringLiteral("What is it?"), 4));
        QVERIFY(failed.wait(10000));
        QVERIFY(failed.first().at(0).toString().contains(QStringLiteral("No model")));
        QVERIFY(!c.isBusy());
    }

    void dualFocusReportsStagesAndFocus() {
        auto c = loadedController();
        QVERIFY(c);
        QStringList stages;
        connect(c.get(), &InferenceController::stage, this, [&](const QString& s) { stages << s; });
        QSignalSpy answered(c.get(), &InferenceController::answered);
        AskRequest r = request(QStringLiteral("What colour is the circle?"), 8);
        r.dualFocus = true;
        c->ask(r);
        QVERIFY(answered.wait(120000));
        const auto result = answered.first().at(0).value<AnswerResult>();
        qInfo() << "dual focus stages" << stages << "box" << result.focus.box;
        QVERIFY(stages.size() >= 2);
        QCOMPARE(stages.mid(0, 2), QStringList({"macro", "box"}));
        QVERIFY(result.focus.valid);
        QVERIFY(!result.focus.macroAnswer.isEmpty());
        QVERIFY(result.text == result.focus.macroAnswer || result.text == result.focus.microAnswer);
        if (!result.focus.box.isEmpty()) {
            QVERIFY(!result.crop.isNull());
            QCOMPARE(result.crop.size(), result.focus.cropRect.size().toSize());
            QCOMPARE(stages.size(), 4);
        }
    }
};

QTEST_MAIN(TestInference)
#include "test_inference.moc"
