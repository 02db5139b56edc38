// The window as a user drives it: bad inputs lose nothing, sessions round-trip, answers with
// boxes become overlays, and (with the embedded model) real questions get right answers.
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "MainWindow.h"
#include "canvas/CanvasView.h"
#include "chat/ChatPanel.h"
#include "document/AddRegionCommand.h"
#include "document/SessionFile.h"
#include "document/ChangeRegionCommand.h"
#include "inference/InferenceController.h"
#include "inference/InferenceWorker.h"
#include "regionchat/backend.h"
#include "regionchat/region_format.h"
#include "support/tiny_model.h"

using namespace rcui;

namespace {

bool waitFor(const std::function<bool()>& done, int ms) {
    QElapsedTimer t;
    t.start();
    while (!done() && t.elapsed() < ms) QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    return done();
}

QString embeddedModel() {
    return qEnvironmentVariable("REGIONCHAT_SOURCE_DIR") + "/resources/models/shapes-tiny";
}

QString sample() {
    return qEnvironmentVariable("REGIONCHAT_SOURCE_DIR") +
           "/resources/samples/scene_1000000000.png";
}

double iou(const QRectF& a, const QRectF& b) {
    const QRectF i = a.intersected(b);
    const double inter = i.width() * i.height();
    const double uni = a.width() * a.height() + b.width() * b.height() - inter;
    return uni > 0 ? inter / uni : 0;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    QString tinyModel_;

    std::unique_ptr<MainWindow> window(const QString& model) {
        MainWindowOptions o;
        o.modelDir = model;
        o.device = "cpu";
        o.recoveryPath = tmp_.path() + "/recovery-" +
                         QString::number(QRandomGenerator::global()->generate()) + ".regionchat";
        o.askBeforeRestoring = false;  // no modal dialogs in tests
        return std::make_unique<MainWindow>(o);
    }

    bool open(MainWindow& w, const QString& path) {
        QSignalSpy spy(&w, &MainWindow::imageLoaded);
        w.openImage(path);
        if (!spy.wait(20000)) return false;
        return spy.first().first().toBool();
    }

    // Sessions open in the background: true when one opened.
    bool openSession(MainWindow& w, const QString& path) {
        QSignalSpy spy(&w, &MainWindow::sessionLoaded);
        w.openSession(path);
        if (!spy.wait(20000)) return false;
        return spy.first().first().toBool();
    }

    void addBox(MainWindow& w, const QRectF& box) {
        Region r;
        r.id = w.document()->nextRegionId();
        r.box = box;
        r.colour = regionColour(r.id);
        w.document()->undoStack()->push(new AddRegionCommand(w.document(), r));
    }

private slots:
    void initTestCase() {
        // Settings the window writes (visual prompts, recent files) go to a test location and
        // start empty: no test sees another's, nor the user's.
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        QVERIFY(tmp_.isValid());
        tinyModel_ = tmp_.path() + "/tiny";
        rc::testing::write_tiny_model(tinyModel_.toStdString(), rc::testing::tiny_config());
        QVERIFY(cv::imwrite((tmp_.path() + "/scene.png").toStdString(),
                            rc::testing::test_image(120, 90, 4)));
    }

    void badImagesGiveAMessageAndLoseNothing() {
        auto w = window(tinyModel_);
        QVERIFY(open(*w, tmp_.path() + "/scene.png"));
        addBox(*w, QRectF(10, 10, 30, 30));
        const QImage before = w->document()->image();

        std::ofstream(tmp_.filePath("text.png").toStdString()) << "not an image";
        QVERIFY(!open(*w, tmp_.filePath("text.png")));
        QVERIFY2(w->lastError().contains("not an image"), qPrintable(w->lastError()));

        QFile png(tmp_.path() + "/scene.png");
        QVERIFY(png.open(QIODevice::ReadOnly));
        QByteArray bytes = png.readAll();
        QFile cut(tmp_.filePath("cut.png"));
        QVERIFY(cut.open(QIODevice::WriteOnly));
        cut.write(bytes.left(bytes.size() / 2));
        cut.close();
        QVERIFY(!open(*w, tmp_.filePath("cut.png")));
        QVERIFY(w->lastError().contains("cut.png"));

        QByteArray huge = bytes;  // IHDR claims 30000 x 30000
        const char dims[8] = {0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30};
        huge.replace(16, 8, QByteArray(dims, 8));
        QFile h(tmp_.filePath("huge.png"));
        QVERIFY(h.open(QIODevice::WriteOnly));
        h.write(huge);
        h.close();
        QVERIFY(!open(*w, tmp_.filePath("huge.png")));
        QVERIFY2(w->lastError().contains("30000x30000"), qPrintable(w->lastError()));

        std::ofstream(tmp_.filePath("broken.regionchat").toStdString())
            << "{\"format\": \"regionchat-session\", \"version\": 1, \"regions\": [{\"id\": -3}";
        QVERIFY(!openSession(*w, tmp_.filePath("broken.regionchat")));
        QVERIFY(!w->lastError().isEmpty());

        // Nothing was lost: same image, same region.
        QCOMPARE(w->document()->image(), before);
        QCOMPARE(w->document()->regions().size(), 1);
    }

    void sessionSavesAndLoadsBackEqual() {
        auto w = window(tinyModel_);
        QVERIFY(open(*w, tmp_.path() + "/scene.png"));
        addBox(*w, QRectF(5, 6, 40, 30));
        Region p;
        p.id = w->document()->nextRegionId();
        p.kind = Region::Kind::Point;
        p.positive = {QPointF(50, 50)};
        p.negative = {QPointF(60, 55)};
        p.box = pointBox(QPointF(50, 50), w->document()->image().size());
        p.colour = regionColour(p.id);
        w->document()->undoStack()->push(new AddRegionCommand(w->document(), p));
        ChatEntry q;
        q.text = "Where is <region 1>?";
        q.prompt = "Where is [0.04, 0.07, 0.38, 0.40]?";
        w->document()->appendEntry(q);
        ChatEntry a;
        a.role = ChatEntry::Role::Assistant;
        a.text = "[0.10, 0.20, 0.30, 0.40]";
        a.boxes = {{QRectF(12, 18, 24, 18), "the thing"}};
        a.focus.valid = true;
        a.focus.macroAnswer = "red";
        a.focus.microAnswer = "blue";
        a.focus.microWon = true;
        a.focus.cropRect = QRectF(0, 0, 60, 60);
        w->document()->appendEntry(a);
        const QString path = tmp_.filePath("s.regionchat");
        QVERIFY(w->saveSession(path));
        QVERIFY(!w->document()->isModified());

        auto v = window(tinyModel_);
        QVERIFY(openSession(*v, path));
        QCOMPARE(v->document()->regions(), w->document()->regions());
        QCOMPARE(v->document()->chat(), w->document()->chat());
        QCOMPARE(v->document()->image(), w->document()->image());
        QCOMPARE(v->document()->imageHash(), fileSha256(tmp_.path() + "/scene.png"));
    }

    void autosaveIsRestoredAfterACrash() {
        const QString recovery = tmp_.filePath("crash.regionchat");
        {
            MainWindowOptions o;
            o.modelDir = tinyModel_;
            o.recoveryPath = recovery;
            o.askBeforeRestoring = false;
            MainWindow w(o);
            QVERIFY(open(w, tmp_.path() + "/scene.png"));
            addBox(w, QRectF(20, 20, 10, 10));
            ChatEntry q;
            q.text = "What is in <region 1>?";
            w.document()->appendEntry(q);
            ChatEntry a;
            a.role = ChatEntry::Role::Assistant;
            a.text = "A red circle.";
            w.document()->appendEntry(a);
            w.autosave();  // what the 30 s timer does
            // The window is destroyed without a close event: a crash leaves the file behind.
        }
        QVERIFY(QFile::exists(recovery));
        MainWindowOptions o;
        o.modelDir = tinyModel_;
        o.recoveryPath = recovery;
        o.askBeforeRestoring = false;
        MainWindow w(o);
        QSignalSpy restored(&w, &MainWindow::sessionLoaded);
        w.offerRecovery();
        QVERIFY(restored.wait(20000));
        QVERIFY(restored.first().first().toBool());
        QVERIFY(w.document()->isModified());  // restored work is not saved anywhere yet
        QCOMPARE(w.document()->regions().size(), 1);
        QCOMPARE(w.document()->regions().first().box, QRectF(20, 20, 10, 10));
        QCOMPARE(w.document()->chat().size(), 2);  // the conversation comes back with it
        QCOMPARE(w.document()->chat().last().text, QString("A red circle."));
    }

    // The autosave lifecycle: a 30 s timer runs; each answer autosaves the recovery file with
    // the chat; saving the session and a clean close remove it.
    void autosaveLifecycle() {
        const QString recovery = tmp_.filePath("lifecycle-recovery.regionchat");
        MainWindowOptions o;
        o.modelDir = tinyModel_;
        o.device = "cpu";
        o.recoveryPath = recovery;
        o.askBeforeRestoring = false;
        auto w = std::make_unique<MainWindow>(o);
        const auto* timer = w->findChild<QTimer*>("autosaveTimer");
        QVERIFY(timer);
        QCOMPARE(timer->interval(), 30000);
        QVERIFY(timer->isActive());
        QVERIFY(open(*w, tmp_.path() + "/scene.png"));
        QVERIFY(waitFor([&] { return w->inference()->hasModel(); }, 60000));
        w->autosave();
        QVERIFY(!QFile::exists(recovery));  // nothing changed yet: nothing to recover
        addBox(*w, QRectF(20, 20, 10, 10));
        QSignalSpy done(w.get(), &MainWindow::answerFinished);
        w->ask("What is in <region 1>?");
        QVERIFY(done.wait(60000));
        QVERIFY2(QFile::exists(recovery), "an answer did not autosave");
        SessionData saved;
        QString error;
        QVERIFY2(readSessionFile(recovery, &saved, &error), qPrintable(error));
        QCOMPARE(saved.chat.size(), 2);
        QCOMPARE(saved.chat.first().text, QString("What is in <region 1>?"));
        QCOMPARE(saved.regions.size(), 1);

        QVERIFY(w->saveSession(tmp_.filePath("lifecycle.regionchat")));
        QVERIFY2(!QFile::exists(recovery), "saving left the recovery file");
        addBox(*w, QRectF(40, 40, 10, 10));
        w->autosave();
        QVERIFY(QFile::exists(recovery));
        QVERIFY(w->close());  // a clean close (the tests answer no dialogs)
        QVERIFY2(!QFile::exists(recovery), "a clean close left the recovery file");
    }

    // A session whose image changed on disk since it was saved opens with a note that says so.
    void imageChangedSinceSaveIsNoted() {
        const QString image = tmp_.filePath("changing.png");
        QVERIFY(cv::imwrite(image.toStdString(), rc::testing::test_image(120, 90, 5)));
        auto w = window(tinyModel_);
        QVERIFY(open(*w, image));
        addBox(*w, QRectF(5, 5, 20, 20));
        const QString path = tmp_.filePath("changing.regionchat");
        QVERIFY(w->saveSession(path));
        {
            auto same = window(tinyModel_);
            QVERIFY(openSession(*same, path));
            QVERIFY(!same->statusBar()->currentMessage().contains("changed since"));
        }
        QVERIFY(cv::imwrite(image.toStdString(), rc::testing::test_image(120, 90, 6)));
        auto v = window(tinyModel_);
        QVERIFY(openSession(*v, path));
        const QString note = v->statusBar()->currentMessage();
        QVERIFY2(note.contains("changing.png changed since the session was saved"), qPrintable(note));
        QCOMPARE(v->document()->regions().size(), 1);  // opened, nothing lost
    }

    // Esc in the window (the chat input has the focus) stops the worker's answer within a token
    // or so, and the answer is kept, marked stopped.
    void escapeStopsTheAnswer() {
        const QString slow = tmp_.path() + "/slow";
        if (!QFile::exists(slow + "/config.json")) {
            rc::ModelConfig c = rc::testing::tiny_config();
            c.text.hidden_size = 384;
            c.text.intermediate_size = 1024;
            c.text.num_hidden_layers = 8;
            rc::testing::write_tiny_model(slow.toStdString(), c);
        }
        auto w = window(slow);
        w->show();
        w->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(w.get()));
        QVERIFY(open(*w, tmp_.path() + "/scene.png"));
        QVERIFY(waitFor([&] { return w->inference()->hasModel(); }, 60000));
        int tokens = 0;
        connect(w->inference(), &InferenceController::token, this, [&](const QString&) { ++tokens; });
        QSignalSpy done(w.get(), &MainWindow::answerFinished);
        auto* panel = w->findChild<ChatPanel*>();
        QVERIFY(panel);
        w->ask("Describe the image in great detail.");
        QVERIFY(waitFor([&] { return tokens >= 3; }, 60000));
        panel->input()->setFocus();
        QTest::keyClick(panel->input(), Qt::Key_Escape);
        QVERIFY(done.wait(60000));
        const ChatEntry last = w->document()->chat().last();
        QCOMPARE(last.role, ChatEntry::Role::Assistant);
        QVERIFY(last.stopped);
        QVERIFY2(tokens < 30, qPrintable(QString::number(tokens)));  // not run on to the limit
        QVERIFY(!w->inference()->isBusy());
    }

    // With visual prompts the question sends the image with the regions drawn on it; the same
    // drawing keeps its cache key (the conversation goes on), a moved region makes a new one.
    void visualPromptsSendTheDrawnImage() {
        auto w = window(tinyModel_);
        QVERIFY(open(*w, tmp_.path() + "/scene.png"));
        QVERIFY(waitFor([&] { return w->inference()->hasModel(); }, 60000));
        w->setVisualPrompts(true);
        addBox(*w, QRectF(20, 20, 40, 30));
        QSignalSpy done(w.get(), &MainWindow::answerFinished);
        auto askAndGet = [&](const QString& q) {
            done.clear();
            w->ask(q);
            if (!done.wait(60000)) return AskRequest();
            return w->inference()->lastRequest().value_or(AskRequest());
        };
        const AskRequest first = askAndGet("What is in <region 1>?");
        QVERIFY(first.visualPrompts);
        QCOMPARE(first.regions.size(), 1);
        const rc::ChatRequest chat = chatRequestFor(first, true);
        QCOMPARE(chat.region_mode, rc::RegionMode::VisualPrompt);
        const std::vector<cv::Mat> seen = rc::images_with_visual_prompts(chat);
        QCOMPARE(seen.size(), size_t(1));
        const cv::Mat plain = cv::imread((tmp_.path() + "/scene.png").toStdString());
        QCOMPARE(seen[0].size(), plain.size());
        // The drawing is on the region's outline, and nowhere far from it.
        cv::Mat diff;
        cv::absdiff(seen[0], plain, diff);
        cv::Mat changed;
        cv::cvtColor(diff, changed, cv::COLOR_BGR2GRAY);
        QVERIFY(cv::countNonZero(changed(cv::Rect(18, 18, 44, 34))) > 40);
        QCOMPARE(cv::countNonZero(changed(cv::Rect(90, 60, 30, 30))), 0);

        const AskRequest again = askAndGet("And its colour in <region 1>?");
        QCOMPARE(again.imageKey, first.imageKey);  // same drawing: same image, same conversation
        Region moved = *w->document()->region(1);
        const Region before = moved;
        moved.box.translate(30, 20);
        w->document()->undoStack()->push(new ChangeRegionCommand(w->document(), before, moved));
        const AskRequest after = askAndGet("What is in <region 1> now?");
        QVERIFY(after.imageKey != first.imageKey);
        const std::vector<cv::Mat> redrawn = rc::images_with_visual_prompts(chatRequestFor(after, true));
        cv::absdiff(redrawn[0], plain, diff);
        cv::cvtColor(diff, changed, cv::COLOR_BGR2GRAY);
        QVERIFY(cv::countNonZero(changed(cv::Rect(48, 38, 44, 34))) > 40);
        w->setVisualPrompts(false);  // the setting persists; later windows start without it
    }

    void cleanupTestCase() { QSettings().clear(); }

    void answerWithABoxMakesAGroundingOverlay() {
        auto w = window(tinyModel_);
        QVERIFY(open(*w, tmp_.path() + "/scene.png"));
        QVERIFY(waitFor([&] { return w->inference()->hasModel(); }, 60000));
        QSignalSpy done(w.get(), &MainWindow::answerFinished);
        w->ask("Where is the red circle?");
        QVERIFY(done.wait(60000));
        // Feed the answer path a result with a box, as the worker sends it.
        w->ask("Where is the blue square?");
        AnswerResult r;
        r.text = "[0.25, 0.50, 0.75, 1.00]";
        r.boxes = {QRectF(QPointF(30, 45), QPointF(90, 90))};
        r.stopReason = "eos";
        emit w->inference()->answered(r);
        const auto boxes = w->document()->groundingBoxes();
        QVERIFY(!boxes.isEmpty());
        QCOMPARE(boxes.last().box, r.boxes.first());
        QCOMPARE(boxes.last().label, QString("the blue square"));
        const QImage shot = w->canvas()->renderAnnotated();
        QCOMPARE(shot.size(), w->document()->image().size());
        QVERIFY(shot != w->document()->image().convertToFormat(shot.format()));
        w->document()->setModified(false);
    }

    void exportWritesMarkdownAndAnnotatedImage() {
        auto w = window(tinyModel_);
        QVERIFY(open(*w, tmp_.path() + "/scene.png"));
        addBox(*w, QRectF(10, 10, 30, 20));
        ChatEntry q;
        q.text = "Where is the red circle?";
        w->document()->appendEntry(q);
        ChatEntry a;
        a.role = ChatEntry::Role::Assistant;
        a.text = "[0.10, 0.20, 0.30, 0.40]";
        a.boxes = {{QRectF(12, 18, 24, 18), "the red circle"}};
        w->document()->appendEntry(a);
        const QString md = tmp_.filePath("talk.md");
        QVERIFY(w->exportConversation(md));
        QFile f(md);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(f.readAll());
        QVERIFY(text.contains("![scene.png](talk.png)"));
        QVERIFY(text.contains("**You:** Where is the red circle?"));
        QVERIFY(text.contains("- Region 1: [10, 10, 40, 30] px"));
        QVERIFY(text.contains("- box “the red circle”: [12, 18, 36, 36] px"));
        const QImage png(tmp_.filePath("talk.png"));
        QCOMPARE(png.size(), w->document()->image().size());
        QVERIFY(!w->exportConversation("/nonexistent-dir/x.md"));
        w->document()->setModified(false);
    }

    void embeddedModelAnswersTheSampleScene() {
        QVERIFY2(QFile::exists(embeddedModel() + "/config.json"),
                 "the embedded model is missing from the checkout");
        auto w = window(embeddedModel());
        QVERIFY(open(*w, sample()));
        QVERIFY(waitFor([&] { return w->inference()->hasModel(); }, 60000));
        addBox(*w, QRectF(QPointF(154, 175), QPointF(221, 242)));  // the red circle
        int updates = 0;
        connect(w->document(), &ImageDocument::entryChanged, this, [&] { ++updates; });
        QSignalSpy done(w.get(), &MainWindow::answerFinished);
        w->ask("What is in the region <region>?");
        QVERIFY(done.wait(60000));
        QVERIFY2(updates >= 3, "tokens did not stream");
        const QString answer = w->document()->chat().last().text;
        QVERIFY2(QRegularExpression(
                     "^a (red|green|blue|yellow|purple|orange) (circle|square|triangle|star)$")
                     .match(answer)
                     .hasMatch(),
                 qPrintable(answer));
        QCOMPARE(answer, QString("a red circle"));

        w->ask("Where is the green star?");
        QVERIFY(done.wait(60000));
        const auto boxes = w->document()->groundingBoxes();
        QVERIFY2(!boxes.isEmpty(), qPrintable(w->document()->chat().last().text));
        QCOMPARE(boxes.last().label, QString("the green star"));
        QVERIFY(iou(boxes.last().box, QRectF(QPointF(51, 271), QPointF(205, 422))) >= 0.5);

        w->chat()->setDualFocus(true);
        w->ask("What shape is the red object?");
        QVERIFY(done.wait(120000));
        const FocusInfo& f = w->document()->lastFocus();
        QVERIFY(f.valid);
        QVERIFY(!w->document()->lastFocusCrop().isNull());
        QVERIFY(!f.cropRect.isEmpty());
        QCOMPARE(w->document()->chat().last().text, f.microWon ? f.microAnswer : f.macroAnswer);
        w->document()->setModified(false);
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
