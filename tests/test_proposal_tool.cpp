// Region proposals in the app: masks on regions (outline, session round trip), the pick tool
// turning a hovered proposal into an undoable mask region, the worker running the classic
// generator with progress and cancellation, and visual prompts drawn MMVM-style.
#include <QElapsedTimer>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

#include "MainWindow.h"
#include "canvas/CanvasView.h"
#include "canvas/MaskItem.h"
#include "chat/PromptComposer.h"
#include "support/compose_prompt.h"
#include "document/AddRegionCommand.h"
#include "document/ImageDocument.h"
#include "document/SessionFile.h"
#include "inference/InferenceController.h"
#include "inference/InferenceWorker.h"
#include "regionchat/region_format.h"
#include "regionchat/synth.h"
#include "support/tiny_model.h"
#include "tools/PointTool.h"
#include "tools/ProposalPickTool.h"
#include "tools/ToolManager.h"

using namespace rcui;

using rcui::testing::composePrompt;

namespace {

// A grey image with a filled disc: its mask is exactly the disc's pixels.
QImage discMask(const QSize& size, const QPointF& centre, double radius) {
    QImage mask(size, QImage::Format_Grayscale8);
    for (int y = 0; y < size.height(); ++y)
        for (int x = 0; x < size.width(); ++x) {
            const double dx = x + 0.5 - centre.x(), dy = y + 0.5 - centre.y();
            mask.scanLine(y)[x] = dx * dx + dy * dy <= radius * radius ? 255 : 0;
        }
    return mask;
}

bool waitFor(const std::function<bool()>& done, int ms) {
    QElapsedTimer t;
    t.start();
    while (!done() && t.elapsed() < ms) QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    return done();
}

QString samTiny() {
    return qEnvironmentVariable("REGIONCHAT_SOURCE_DIR") + "/tests/reference/sam-tiny";
}

// The SAM runtime may not be built into core yet; its load then says so.
QImage sceneImage(uint64_t seed) {
    return toQImage(rc::synth::generate_scene(seed).image);
}

ProposalMask proposalOf(const QImage& mask, float score) {
    ProposalMask p;
    p.mask = mask;
    p.box = maskBoundingRect(mask);
    p.score = score;
    p.source = QStringLiteral("test");
    return p;
}

}  // namespace

class TestProposalTool : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        // Settings (visual prompts, the SAM folder) go to a test location, cleared first.
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void cleanupTestCase() { QSettings().clear(); }

    void maskHelpers() {
        const QImage mask = discMask(QSize(100, 80), QPointF(40, 30), 10);
        const QRectF box = maskBoundingRect(mask);
        QCOMPARE(box, QRectF(30, 20, 20, 20));
        QVERIFY(maskContains(mask, QPointF(40, 30)));
        QVERIFY(!maskContains(mask, QPointF(31, 21)));  // the disc's corner is outside
        QVERIFY(!maskContains(mask, QPointF(-1, 5)));
        // The outline encloses exactly the mask's pixels.
        const QPainterPath outline = maskOutline(mask);
        QCOMPARE(outline.boundingRect(), box);
        QVERIFY(outline.contains(QPointF(40.5, 30.5)));
        QVERIFY(!outline.contains(QPointF(30.5, 20.5)));
        QImage empty(10, 10, QImage::Format_Grayscale8);
        empty.fill(0);
        QVERIFY(maskBoundingRect(empty).isEmpty());
    }

    void pickToolMakesAnUndoableMaskRegion() {
        ImageDocument doc;
        QImage image(400, 300, QImage::Format_RGB32);
        image.fill(QColor(200, 200, 200));
        doc.setImage(image, QString());
        CanvasView view(&doc);
        ToolManager tools(&doc, &view);
        view.resize(800, 600);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        view.fitToWindow();

        // A big disc with a small disc inside it: the smaller proposal under the cursor wins.
        const QImage big = discMask(image.size(), QPointF(150, 150), 80);
        const QImage small = discMask(image.size(), QPointF(150, 150), 20);
        doc.setProposals({proposalOf(big, 0.9f), proposalOf(small, 0.8f)});
        QCOMPARE(view.proposalItems().size(), 2);
        QVERIFY(!view.proposalItems()[0]->isVisible());  // hidden until the pick tool is on

        auto* pick = qobject_cast<ProposalPickTool*>(tools.tool("Pick"));
        QVERIFY(pick);
        QSignalSpy wanted(pick, &ProposalPickTool::proposalsWanted);
        QVERIFY(tools.setActiveTool("Pick"));
        QCOMPARE(wanted.count(), 0);  // proposals exist: nothing to ask for
        QVERIFY(view.proposalItems()[0]->isVisible());

        QTest::mouseMove(view.viewport(), view.mapFromScene(QPointF(150, 150)));
        QTRY_COMPARE(view.hoveredProposal(), 1);
        QVERIFY(view.proposalItems()[1]->isHighlighted());
        QTest::mouseMove(view.viewport(), view.mapFromScene(QPointF(100, 150)));
        QTRY_COMPARE(view.hoveredProposal(), 0);
        QVERIFY(!view.proposalItems()[1]->isHighlighted());

        QTest::mouseClick(view.viewport(), Qt::LeftButton, {},
                          view.mapFromScene(QPointF(100, 150)));
        QCOMPARE(doc.regions().size(), 1);
        const Region r = doc.regions().first();
        QVERIFY(r.hasMask());
        QCOMPARE(r.box, maskBoundingRect(big));
        QCOMPARE(r.mask, big);
        QCOMPARE(doc.selectedRegion(), r.id);

        // A click where no proposal is makes nothing.
        QTest::mouseClick(view.viewport(), Qt::LeftButton, {}, view.mapFromScene(QPointF(380, 20)));
        QCOMPARE(doc.regions().size(), 1);

        doc.undoStack()->undo();
        QVERIFY(doc.regions().isEmpty());
        doc.undoStack()->redo();
        QCOMPARE(doc.regions().first().mask, big);

        // Leaving the tool hides the proposals; a new image clears them.
        QVERIFY(tools.setActiveTool("Box"));
        QVERIFY(!view.proposalItems()[0]->isVisible());
        doc.setImage(image, QString());
        QVERIFY(doc.proposals().isEmpty());
        QVERIFY(view.proposalItems().isEmpty());
        QVERIFY(tools.setActiveTool("Pick"));
        QCOMPARE(wanted.count(), 1);  // no proposals for this image: the window is asked
    }

    void sessionKeepsMasks() {
        ImageDocument doc;
        QImage image(120, 90, QImage::Format_RGB32);
        image.fill(Qt::white);
        doc.setImage(image, QString());
        Region r;
        r.id = doc.nextRegionId();
        r.mask = discMask(image.size(), QPointF(60, 40), 15);
        r.box = maskBoundingRect(r.mask);
        r.colour = regionColour(r.id);
        doc.undoStack()->push(new AddRegionCommand(&doc, r));

        const QByteArray json = sessionToJson(sessionFromDocument(doc, {}));
        SessionData back;
        QString error;
        QVERIFY2(sessionFromJson(json, &back, &error), qPrintable(error));
        QCOMPARE(back.regions.size(), 1);
        QCOMPARE(back.regions.first().mask, r.mask);
        QCOMPARE(back.regions.first().box, r.box);

        // A mask of another size than the image is refused with a message.
        QByteArray broken = json;
        broken.replace("\"width\": 120", "\"width\": 121");
        broken.replace("\"width\":120", "\"width\":121");
        QVERIFY(!sessionFromJson(broken, &back, &error));
        QVERIFY2(error.contains("mask"), qPrintable(error));
    }

    void workerProposesAndCancels() {
        rc::synth::SceneOptions options;
        const rc::synth::Scene scene = rc::synth::generate_scene(1000000003ULL, options);
        const QImage image = toQImage(scene.image);
        InferenceController controller;
        QSignalSpy progress(&controller, &InferenceController::proposalProgress);
        QSignalSpy ready(&controller, &InferenceController::proposalsReady);
        QSignalSpy failed(&controller, &InferenceController::proposalsFailed);

        controller.generateProposals(image, QStringLiteral("classic"));
        QVERIFY(controller.isProposing());
        QVERIFY(ready.wait(60000));
        QVERIFY(!controller.isProposing());
        QVERIFY(progress.count() >= 2);
        const auto proposals = ready.first().first().value<QList<ProposalMask>>();
        QVERIFY(!proposals.isEmpty());
        // Every shape of the scene is among the proposals (IoU of boxes >= 0.5).
        for (const auto& o : scene.objects) {
            const QRectF want(QPointF(o.box.x0, o.box.y0), QPointF(o.box.x1, o.box.y1));
            bool found = false;
            for (const auto& p : proposals) {
                QCOMPARE(p.mask.size(), image.size());
                const QRectF inter = p.box.intersected(want);
                const double i = inter.width() * inter.height();
                const double u = p.box.width() * p.box.height() + want.width() * want.height() - i;
                found = found || (u > 0 && i / u >= 0.5);
            }
            QVERIFY2(found, "a shape of the scene has no proposal");
        }

        // Cancelled at once: it ends with "cancelled" right away, and whatever the worker
        // still sends for it is dropped.
        ready.clear();
        controller.generateProposals(image, QStringLiteral("classic"));
        controller.cancelProposals();
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.first().first().toString(), QStringLiteral("cancelled"));
        QVERIFY(!controller.isProposing());
        QTest::qWait(3000);  // longer than a whole run above
        QCOMPARE(ready.count(), 0);
        QCOMPARE(failed.count(), 1);

        // Cancelled while it runs (at its first progress report): the generator stops and
        // the worker reports "cancelled", not proposals.
        {
            auto answers = std::make_shared<std::atomic<quint64>>(0);
            auto proposalThreshold = std::make_shared<std::atomic<quint64>>(0);
            auto hover = std::make_shared<std::atomic<quint64>>(0);
            InferenceWorker worker(answers);  // on this thread: signals arrive directly
            worker.setSideControls(proposalThreshold, hover);
            QSignalSpy workerReady(&worker, &InferenceWorker::proposalsReady);
            QSignalSpy workerFailed(&worker, &InferenceWorker::proposalsFailed);
            int reports = 0;
            connect(&worker, &InferenceWorker::proposalProgress, this, [&](quint64 id, double) {
                ++reports;
                proposalThreshold->store(id + 1);
            });
            worker.generateProposals(5, image, QStringLiteral("classic"));
            QCOMPARE(workerReady.count(), 0);
            QCOMPARE(workerFailed.count(), 1);
            QCOMPARE(workerFailed.first().at(1).toString(), QStringLiteral("cancelled"));
            QCOMPARE(reports, 1);
        }

        // SAM without a SAM folder: a clear message.
        failed.clear();
        controller.generateProposals(image, QStringLiteral("sam"));
        QVERIFY(failed.wait(10000));
        QVERIFY2(failed.first().first().toString().contains("SAM"),
                 qPrintable(failed.first().first().toString()));
    }

    void visualPromptsDrawNumberedContours() {
        ImageDocument doc;
        QImage image(200, 150, QImage::Format_RGB32);
        image.fill(QColor(240, 240, 240));
        doc.setImage(image, QString());
        Region a;
        a.id = doc.nextRegionId();
        a.mask = discMask(image.size(), QPointF(60, 70), 30);
        a.box = maskBoundingRect(a.mask);
        a.colour = regionColour(a.id);
        doc.undoStack()->push(new AddRegionCommand(&doc, a));
        Region b;
        b.id = doc.nextRegionId();
        b.box = QRectF(130, 40, 50, 60);
        b.colour = regionColour(b.id);
        doc.undoStack()->push(new AddRegionCommand(&doc, b));

        auto format = rc::make_region_format("dualfocus", true);
        QList<int> ids;
        QString error;
        const QString prompt =
            composePrompt("Compare <region 1> and <region 2>.", doc, *format, &error, &ids);
        QCOMPARE(prompt, QStringLiteral("Compare region 1 and region 2."));
        QCOMPARE(ids, (QList<int>{1, 2}));
        // Without visual prompts the same question carries boxes.
        QVERIFY(composePrompt("Compare <region 1> and <region 2>.", doc, *format, &error)
                    .contains('['));

        const QImage drawn = drawVisualPrompts(doc, ids).convertToFormat(QImage::Format_RGB32);
        QCOMPARE(drawn.size(), image.size());
        // The disc's contour (its leftmost pixels at x = 30) and the box's left edge (x = 130)
        // are drawn in each region's own colour; the background far from both is untouched.
        auto colourAt = [&](int x, int y) { return drawn.pixelColor(x, y); };
        QCOMPARE(colourAt(30, 70), a.colour);
        QCOMPARE(colourAt(130, 70), b.colour);
        QCOMPARE(colourAt(60, 41), a.colour);  // the disc's top
        QCOMPARE(colourAt(100, 140), image.pixelColor(100, 140));
        QCOMPARE(colourAt(5, 5), image.pixelColor(5, 5));
        // Each id is written in white on a filled box of the region's colour at its centroid.
        auto labelAt = [&](const QPoint& centre, const QColor& colour) {
            int white = 0, fill = 0;
            for (int y = centre.y() - 12; y <= centre.y() + 12; ++y)
                for (int x = centre.x() - 12; x <= centre.x() + 12; ++x) {
                    const QColor c = colourAt(x, y);
                    white += c == QColor(Qt::white);
                    fill += c == colour;
                }
            return white > 3 && fill > 10;
        };
        QVERIFY(labelAt(QPoint(60, 70), a.colour));
        QVERIFY(labelAt(QPoint(155, 70), b.colour));
    }

    void windowSendsVisualPromptsAndRemembersTheSwitch() {
        QTemporaryDir tmp;
        const QString model = tmp.path() + "/tiny";
        rc::testing::write_tiny_model(model.toStdString(), rc::testing::tiny_config());
        MainWindowOptions o;
        o.modelDir = model;
        o.device = "cpu";
        o.recoveryPath = tmp.path() + "/recovery.regionchat";
        o.askBeforeRestoring = false;
        o.restoreSam = false;
        auto w = std::make_unique<MainWindow>(o);
        QVERIFY(!w->visualPrompts());
        const QString scene = tmp.path() + "/scene.png";
        QVERIFY(sceneImage(1000000000ULL).save(scene));
        QSignalSpy loaded(w.get(), &MainWindow::imageLoaded);
        w->openImage(scene);
        QVERIFY(loaded.wait(20000));
        QVERIFY(waitFor([&] { return w->inference()->hasModel(); }, 60000));
        Region r;
        r.id = w->document()->nextRegionId();
        r.box = QRectF(20, 30, 60, 50);
        r.colour = regionColour(r.id);
        w->document()->undoStack()->push(new AddRegionCommand(w->document(), r));

        QSignalSpy done(w.get(), &MainWindow::answerFinished);
        w->ask("What is in <region 1>?");
        QVERIFY(done.wait(60000));
        QVERIFY(w->document()->chat()[0].prompt.contains('['));  // box text

        w->setVisualPrompts(true);
        QVERIFY(QSettings().value("visualPrompts").toBool());
        w->ask("What is in <region 1>?");
        QVERIFY(done.wait(60000));
        QCOMPARE(w->document()->chat()[2].prompt, QStringLiteral("What is in region 1?"));
        w->document()->setModified(false);
        w.reset();

        // A new window starts with the switch as it was left.
        auto again = std::make_unique<MainWindow>(o);
        QVERIFY(again->visualPrompts());
        again->setVisualPrompts(false);
        QVERIFY(!QSettings().value("visualPrompts").toBool());
    }

    void windowProposesWithProgressAndEscCancels() {
        QTemporaryDir tmp;
        MainWindowOptions o;
        o.modelDir = tmp.path() + "/no-model";  // the window works without one
        o.recoveryPath = tmp.path() + "/recovery.regionchat";
        o.askBeforeRestoring = false;
        o.restoreSam = false;
        MainWindow w(o);
        const QString scene = tmp.path() + "/scene.png";
        QVERIFY(sceneImage(1000000001ULL).save(scene));
        QSignalSpy loaded(&w, &MainWindow::imageLoaded);
        w.openImage(scene);
        QVERIFY(loaded.wait(20000));
        w.show();
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w));

        QSignalSpy finished(&w, &MainWindow::proposalsFinished);
        w.proposeRegions(QStringLiteral("classic"));
        QVERIFY(w.inference()->isProposing());
        QTest::keyClick(&w, Qt::Key_Escape);
        QVERIFY(finished.count() == 1 || finished.wait(10000));
        QCOMPARE(finished.first().first().toBool(), false);
        QVERIFY(w.document()->proposals().isEmpty());

        // Choosing the Pick tool on an image without proposals runs the generator.
        finished.clear();
        QVERIFY(w.tools()->setActiveTool(QStringLiteral("Pick")));
        QVERIFY(finished.wait(60000));
        QVERIFY(finished.first().first().toBool());
        QVERIFY(!w.document()->proposals().isEmpty());
        QVERIFY(w.canvas()->proposalsVisible());

        // SAM proposals without SAM: a message, nothing runs.
        finished.clear();
        w.proposeRegions(QStringLiteral("sam"));
        QCOMPARE(finished.count(), 1);
        QVERIFY2(w.lastError().contains("SAM"), qPrintable(w.lastError()));

        // A folder that is no SAM: an error message, no crash, not remembered.
        QSignalSpy sam(&w, &MainWindow::samFinished);
        w.loadSam(tmp.path());
        QVERIFY(sam.wait(20000));
        QCOMPARE(sam.first().first().toBool(), false);
        QVERIFY2(w.lastError().contains(tmp.path()), qPrintable(w.lastError()));
        QVERIFY(QSettings().value("samFolder").toString().isEmpty());
        w.document()->setModified(false);
    }

    // "Which region is this?" with a RegionVLM (the tiny fixture): the proposals are ranked by
    // caption loss on the worker, the best three get "#k loss" tags, the best is highlighted;
    // without proposals or without a point-prompt model it says why.
    void whichRegionTagsTheBestProposals() {
        QTemporaryDir tmp;
        MainWindowOptions o;
        o.modelDir = qEnvironmentVariable("REGIONCHAT_SOURCE_DIR") + "/tests/reference/regionvlm/model";
        o.recoveryPath = tmp.path() + "/recovery.regionchat";
        o.askBeforeRestoring = false;
        o.restoreSam = false;
        MainWindow w(o);
        QSignalSpy ready(w.inference(), &InferenceController::modelReady);
        QVERIFY(!w.inference()->model().dir.isEmpty() || ready.wait(60000));
        const QString scene = tmp.path() + "/scene.png";
        QVERIFY(sceneImage(1000000000ULL).save(scene));
        QSignalSpy loaded(&w, &MainWindow::imageLoaded);
        w.openImage(scene);
        QVERIFY(loaded.wait(20000));
        QSignalSpy ranked(&w, &MainWindow::rankingFinished);
        w.whichRegion(QStringLiteral("a red circle"));  // no proposals yet
        QCOMPARE(ranked.count(), 0);
        QVERIFY2(w.lastError().contains(QStringLiteral("propose")), qPrintable(w.lastError()));

        const QSize size = w.document()->image().size();
        QList<ProposalMask> proposals;
        for (const QRect& r : {QRect(20, 20, 200, 150), QRect(250, 200, 180, 160),
                               QRect(60, 260, 160, 120), QRect(5, 5, 20, 20)}) {
            ProposalMask p;
            p.mask = QImage(size, QImage::Format_Grayscale8);
            p.mask.fill(0);
            for (int y = r.top(); y <= r.bottom(); ++y)
                for (int x = r.left(); x <= r.right(); ++x) p.mask.scanLine(y)[x] = 255;
            p.box = QRectF(r.left(), r.top(), r.width(), r.height());
            p.area = r.width() * r.height();
            p.source = QStringLiteral("test");
            proposals.append(p);
        }
        w.document()->setProposals(proposals);
        w.whichRegion(QStringLiteral("a red circle"));
        QVERIFY(ranked.wait(60000));
        const auto ranks = ranked.first().first().value<QList<RankedProposal>>();
        QCOMPARE(ranks.size(), 4);  // every proposal (the app does not apply eval_RIS.py's 4%)
        for (int k = 1; k < ranks.size(); ++k) QVERIFY(ranks[k - 1].loss <= ranks[k].loss);
        const auto& items = w.canvas()->proposalItems();
        QCOMPARE(items.size(), 4);
        QVERIFY(items[ranks[0].proposal]->label().startsWith(QStringLiteral("#1 ")));
        QVERIFY(items[ranks[2].proposal]->label().startsWith(QStringLiteral("#3 ")));
        QVERIFY(items[ranks[3].proposal]->label().isEmpty());  // tags on the best three only
        QCOMPARE(w.canvas()->hoveredProposal(), ranks[0].proposal);
        QVERIFY(w.canvas()->proposalsVisible());
        w.document()->setModified(false);
    }

    void workerComputesOnlyTheNewestHover() {
        auto cancel = std::make_shared<std::atomic<quint64>>(0);
        auto proposals = std::make_shared<std::atomic<quint64>>(0);
        auto hover = std::make_shared<std::atomic<quint64>>(0);
        InferenceWorker worker(cancel);  // on this thread: every call runs at once
        worker.setSideControls(proposals, hover);
        QSignalSpy loaded(&worker, &InferenceWorker::samLoaded);
        QSignalSpy loadFailed(&worker, &InferenceWorker::samFailed);
        QSignalSpy progress(&worker, &InferenceWorker::samLoadProgress);
        worker.loadSam(1, samTiny());
        if (loaded.isEmpty()) {
            const QString why =
                loadFailed.isEmpty() ? QString("no answer") : loadFailed.first().at(1).toString();
            QFAIL(qPrintable("sam-tiny did not load: " + why));
        }
        QVERIFY(progress.count() >= 2);

        QSignalSpy masks(&worker, &InferenceWorker::samMaskReady);
        const QImage image = sceneImage(1000000000ULL);
        SamRequest r;
        r.image = image;
        r.positive = {QPointF(187, 208)};
        r.hover = true;
        hover->store(12);  // the cursor has moved on: requests 10 and 11 are stale
        for (quint64 id : {10, 11, 12}) {
            r.id = id;
            worker.samMask(r);
        }
        QCOMPARE(masks.count(), 1);
        QCOMPARE(masks.first().first().toULongLong(), 12ULL);
        const QImage mask = masks.first().at(3).value<QImage>();
        if (!mask.isNull()) {
            QCOMPARE(mask.size(), image.size());
            QCOMPARE(mask.format(), QImage::Format_Grayscale8);
        }

        // A point region's request (not a hover) always runs, with all its points.
        r.id = 13;
        r.hover = false;
        r.regionId = 4;
        r.negative = {QPointF(20, 20)};
        worker.samMask(r);
        QCOMPARE(masks.count(), 2);
        QCOMPARE(masks.last().at(1).toInt(), 4);
    }

    void samThroughTheControllerAndTheWindow() {
        {
            InferenceController controller;
            QSignalSpy ready(&controller, &InferenceController::samReady);
            QSignalSpy failed(&controller, &InferenceController::samLoadFailed);
            controller.loadSam(samTiny());
            QVERIFY(waitFor([&] { return !ready.isEmpty() || !failed.isEmpty(); }, 60000));
            if (!failed.isEmpty()) {
                const QString why = failed.first().first().toString();
                QFAIL(qPrintable("sam-tiny did not load: " + why));
            }
            QVERIFY(controller.hasSam());
            const QImage image = sceneImage(1000000000ULL);

            // A burst of hover requests: only the newest one is answered.
            QSignalSpy hover(&controller, &InferenceController::samHoverMask);
            for (int i = 0; i < 20; ++i)
                controller.requestSamHover(image, QPointF(100 + 4 * i, 200));
            QVERIFY(hover.wait(60000));
            QTest::qWait(200);
            QCOMPARE(hover.count(), 1);

            QSignalSpy region(&controller, &InferenceController::samRegionMask);
            controller.requestSamRegion(image, 3, {QPointF(187, 208)}, {QPointF(10, 10)});
            QVERIFY(region.wait(60000));
            const auto request = region.first().first().value<SamRequest>();
            QCOMPARE(request.regionId, 3);
            QCOMPARE(request.negative.size(), 1);

            QSignalSpy proposals(&controller, &InferenceController::proposalsReady);
            QSignalSpy proposalProgress(&controller, &InferenceController::proposalProgress);
            controller.generateProposals(image, QStringLiteral("sam"));
            QVERIFY(proposals.wait(120000));
            QVERIFY(proposalProgress.count() >= 1);
            for (const auto& p : proposals.first().first().value<QList<ProposalMask>>()) {
                QCOMPARE(p.mask.size(), image.size());
                QCOMPARE(p.source, QStringLiteral("sam"));
            }
        }

        // The window: Load SAM turns the point tool's SAM mode on and remembers the folder.
        QTemporaryDir tmp;
        MainWindowOptions o;
        o.modelDir = tmp.path() + "/no-model";
        o.recoveryPath = tmp.path() + "/recovery.regionchat";
        o.askBeforeRestoring = false;
        o.restoreSam = false;
        MainWindow w(o);
        const QString scene = tmp.path() + "/scene.png";
        QVERIFY(sceneImage(1000000000ULL).save(scene));
        QSignalSpy loaded(&w, &MainWindow::imageLoaded);
        w.openImage(scene);
        QVERIFY(loaded.wait(20000));
        QSignalSpy sam(&w, &MainWindow::samFinished);
        w.loadSam(samTiny());
        QVERIFY(sam.wait(60000));
        QVERIFY2(sam.first().first().toBool(), qPrintable(w.lastError()));
        QCOMPARE(QSettings().value("samFolder").toString(), samTiny());
        auto* point = qobject_cast<PointTool*>(w.tools()->tool(QStringLiteral("Point")));
        QVERIFY(point && point->isSamEnabled());
        QVERIFY(w.tools()->setActiveTool(QStringLiteral("Point")));
        w.resize(1200, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.canvas()->fitToWindow();
        // Moving the point tool over the image previews SAM's mask under the cursor.
        QVERIFY(!w.canvas()->hasPreviewMask());
        QTest::mouseMove(w.canvas()->viewport(), w.canvas()->mapFromScene(QPointF(150, 200)));
        QTest::mouseMove(w.canvas()->viewport(), w.canvas()->mapFromScene(QPointF(187, 208)));
        QTRY_VERIFY_WITH_TIMEOUT(w.canvas()->hasPreviewMask(), 60000);
        QSignalSpy regionMask(w.inference(), &InferenceController::samRegionMask);
        QTest::mouseClick(w.canvas()->viewport(), Qt::LeftButton, {},
                          w.canvas()->mapFromScene(QPointF(187, 208)));
        QCOMPARE(w.document()->regions().size(), 1);
        QVERIFY(regionMask.wait(60000));
        const QImage mask = regionMask.first().at(1).value<QImage>();
        const Region r = w.document()->regions().first();
        // SAM's mask (sam-tiny's is random but never empty) became the region's, its box the
        // mask's bounding rect; one undo step takes the mask back off.
        QVERIFY(!mask.isNull() && !maskBoundingRect(mask).isEmpty());
        QVERIFY(r.hasMask());
        QCOMPARE(r.mask, mask);
        QCOMPARE(r.box, maskBoundingRect(mask));
        w.document()->undoStack()->undo();
        QVERIFY(!w.document()->regions().first().hasMask());
        w.document()->setModified(false);

        // The next start loads the remembered folder by itself.
        MainWindowOptions next = o;
        next.restoreSam = true;
        next.recoveryPath = tmp.path() + "/recovery-2.regionchat";
        MainWindow again(next);
        QSignalSpy restored(&again, &MainWindow::samFinished);
        QVERIFY(restored.wait(60000));
        QVERIFY(restored.first().first().toBool());
        QVERIFY(again.inference()->hasSam());
        QSettings().remove("samFolder");
    }
};

QTEST_MAIN(TestProposalTool)
#include "test_proposal_tool.moc"
