// regionchat-screenshots: drives the real window through its main states and saves a PNG of
// each (for README and for looking at the UI as a user sees it). Run under Xvfb or offscreen:
//   regionchat-screenshots OUT_DIR [--model DIR] [--regionvlm DIR]
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QTimer>
#include <QtTest/QTest>

#include "MainWindow.h"
#include "bench/BenchmarkDock.h"
#include "canvas/CanvasView.h"
#include "chat/ChatPanel.h"
#include "document/AddRegionCommand.h"
#include "inference/InferenceController.h"
#include "inference/InferenceWorker.h"
#include "inference/ConnectServerDialog.h"
#include "inference/ModelManagerDialog.h"
#include "regionchat/backend.h"
#include "regionchat/engine.h"
#ifdef REGIONCHAT_HAS_REMOTE
#include <thread>

#include "regionchat/server.h"
#endif
#include "tools/ToolManager.h"

namespace {

// Spins the event loop until `done` or `ms` pass.
bool waitFor(const std::function<bool()>& done, int ms) {
    QElapsedTimer t;
    t.start();
    while (!done() && t.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 20);
    return done();
}

void shoot(rcui::MainWindow& w, const QString& path) {
    w.chat()->renderNow();  // the chat re-renders on a short timer; show the final text
    waitFor([] { return false; }, 150);
    w.grab().save(path);
    qInfo("wrote %s", qPrintable(path));
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName("RegionChat-screenshots");
    const QStringList args = app.arguments();
    if (args.size() < 2) {
        qCritical("usage: regionchat-screenshots OUT_DIR [--model DIR] [--regionvlm DIR] "
                  "[--colva DIR MMVM_ROOT]");
        return 2;
    }
    const QString out = args[1];
    QDir().mkpath(out);
    rcui::MainWindowOptions o;
    const int m = args.indexOf("--model");
    if (m > 0 && m + 1 < args.size()) o.modelDir = args[m + 1];
    o.recoveryPath = out + "/recovery.regionchat";
    o.askBeforeRestoring = false;
    o.restoreSam = false;  // the same shots on every machine
    rcui::MainWindow w(o);
    w.resize(1400, 860);
    w.show();
    if (!waitFor([&] { return w.inference()->hasModel(); }, 120000)) {
        qCritical("the model did not load: %s", qPrintable(w.lastError()));
        return 1;
    }
    shoot(w, out + "/1-empty.png");

    bool loaded = false;
    QObject::connect(&w, &rcui::MainWindow::imageLoaded, [&](bool ok) { loaded = ok; });
    w.openImage(QStringLiteral(REGIONCHAT_SAMPLES_DIR "/scene_1000000000.png"));
    if (!waitFor([&] { return loaded; }, 20000)) return 1;
    auto* doc = w.document();
    auto addBox = [&](QRectF box) {
        rcui::Region r;
        r.id = doc->nextRegionId();
        r.box = box;
        r.colour = rcui::regionColour(r.id);
        doc->undoStack()->push(new rcui::AddRegionCommand(doc, r));
    };
    addBox(QRectF(QPointF(154, 175), QPointF(221, 242)));  // the red circle
    addBox(QRectF(QPointF(243, 355), QPointF(358, 465)));  // the blue triangle
    w.canvas()->fitToWindow();
    shoot(w, out + "/2-regions.png");

    int answers = 0;
    QObject::connect(&w, &rcui::MainWindow::answerFinished, [&] { ++answers; });
    w.ask("What is in the region <region 1>?");
    waitFor([&] { return answers >= 1; }, 60000);
    w.ask("Where is the green star?");
    waitFor([&] { return answers >= 2; }, 60000);
    shoot(w, out + "/3-grounding.png");

    w.chat()->setDualFocus(true);
    w.ask("What shape is the red object?");
    waitFor([&] { return answers >= 3; }, 120000);
    shoot(w, out + "/4-focus.png");

    w.setPresentationMode(true);
    waitFor([] { return false; }, 600);  // full screen takes effect asynchronously
    shoot(w, out + "/5-presentation.png");
    w.setPresentationMode(false);
    waitFor([] { return false; }, 600);

    // The Benchmark dock on the sample grounding set, one case run.
    rcui::BenchmarkDock* bench = w.benchmark();
    bench->show();
    bench->raise();
    if (!bench->openBenchmark(QStringLiteral(REGIONCHAT_SAMPLES_DIR "/benchmark"))) {
        qCritical("benchmark: %s", qPrintable(bench->lastMessage()));
        return 1;
    }
    bool ran = false;
    QObject::connect(bench, &rcui::BenchmarkDock::runFinished, [&] { ran = true; });
    bench->openCase(1);
    bench->runCase(1);
    waitFor([&] { return ran; }, 60000);
    shoot(w, out + "/6-benchmark.png");

    // DualFocus' MMBench sample set: a case answered by the pipeline (the Focus dock fills).
    if (!bench->openBenchmark(QStringLiteral(REGIONCHAT_SAMPLES_DIR "/benchmarks/mmbench"))) {
        qCritical("benchmark: %s", qPrintable(bench->lastMessage()));
        return 1;
    }
    ran = false;
    bench->openCase(0);
    bench->runCase(0);
    waitFor([&] { return ran; }, 120000);
    shoot(w, out + "/6b-benchmark-dualfocus.png");
    doc->setModified(false);

    // Model > Open Model… on the model shown (the embedded one by default).
    rcui::ModelManagerDialog manager(
        o.modelDir.isEmpty() ? rcui::InferenceWorker::embeddedModelDir() : o.modelDir, "cpu");
    manager.show();
    waitFor([] { return false; }, 300);
    const QString managerShot = out + "/7-model-manager.png";
    manager.grab().save(managerShot);
    qInfo("wrote %s", qPrintable(managerShot));
    // The same with --dtype int8 chosen: the plan shows the smaller weights.
    for (QComboBox* combo : manager.findChildren<QComboBox*>()) {
        const int int8 = combo->findData(QStringLiteral("int8"));
        if (int8 >= 0) combo->setCurrentIndex(int8);
    }
    waitFor([] { return false; }, 300);
    const QString int8Shot = out + "/7a-model-manager-int8.png";
    manager.grab().save(int8Shot);
    qInfo("wrote %s", qPrintable(int8Shot));
    manager.close();

#ifdef REGIONCHAT_HAS_REMOTE
    // Model > Connect to Server… tested against regionchat's own server on loopback.
    {
        rc::LoadParams lp;
        lp.model_dir = o.modelDir.isEmpty() ? rcui::InferenceWorker::embeddedModelDir().toStdString()
                                            : o.modelDir.toStdString();
        lp.device = rc::Device("cpu");
        auto served = rc::Model::load(lp);
        rc::ServerOptions so;
        so.port = 0;
        so.model_id = "shapes-tiny";
        rc::ChatServer server(rc::make_local_backend(served), so);
        const int port = server.bind();
        std::thread serving([&] { server.run(); });
        rcui::ConnectServerDialog connect;
        rcui::RemoteServer rs;
        rs.url = QStringLiteral("http://127.0.0.1:%1").arg(port);
        connect.setServer(rs);
        connect.show();
        bool tested = false;
        QObject::connect(&connect, &rcui::ConnectServerDialog::testFinished, [&] { tested = true; });
        connect.testConnection();
        waitFor([&] { return tested; }, 60000);
        waitFor([] { return false; }, 200);
        const QString connectShot = out + "/7b-connect-server.png";
        connect.grab().save(connectShot);
        qInfo("wrote %s", qPrintable(connectShot));
        connect.close();
        server.stop();
        serving.join();
    }
#endif

    // Regions > Propose Regions on the first sample scene, the Pick tool hovering the green
    // star with the red circle already picked.
    doc->setModified(false);
    loaded = false;
    w.openImage(QStringLiteral(REGIONCHAT_SAMPLES_DIR "/scene_1000000000.png"));
    if (!waitFor([&] { return loaded; }, 20000)) return 1;
    bool proposed = false;
    QObject::connect(&w, &rcui::MainWindow::proposalsFinished, [&](bool ok) { proposed = ok; });
    w.proposeRegions(QStringLiteral("classic"));
    if (!waitFor([&] { return proposed; }, 60000)) {
        qCritical("proposals: %s", qPrintable(w.lastError()));
        return 1;
    }
    w.chat()->raise();
    w.tools()->setActiveTool(QStringLiteral("Pick"));
    w.canvas()->fitToWindow();
    waitFor([] { return false; }, 200);
    QWidget* viewport = w.canvas()->viewport();
    QTest::mouseClick(viewport, Qt::LeftButton, {}, w.canvas()->mapFromScene(QPointF(187, 208)));
    QTest::mouseMove(viewport, w.canvas()->mapFromScene(QPointF(120, 360)));
    waitFor([] { return false; }, 300);
    shoot(w, out + "/8-proposals.png");
    doc->setModified(false);

    // --regionvlm DIR: a RegionVLM folder answers; a scribble and a box as point prompts, then
    // Regions > Which Region Is This… over classic proposals.
    const int rv = args.indexOf("--regionvlm");
    if (rv > 0 && rv + 1 < args.size()) {
        rcui::MainWindowOptions o2 = o;
        o2.modelDir = args[rv + 1];
        o2.recoveryPath = out + "/recovery-regionvlm.regionchat";
        rcui::MainWindow v(o2);
        v.resize(1400, 860);
        v.show();
        if (!waitFor([&] { return v.inference()->hasModel() &&
                                  v.inference()->model().dir == args[rv + 1]; }, 120000)) {
            qCritical("the RegionVLM model did not load: %s", qPrintable(v.lastError()));
            return 1;
        }
        bool vloaded = false;
        QObject::connect(&v, &rcui::MainWindow::imageLoaded, [&](bool ok) { vloaded = ok; });
        v.openImage(QStringLiteral(REGIONCHAT_SAMPLES_DIR "/scene_1000000000.png"));
        if (!waitFor([&] { return vloaded; }, 20000)) return 1;
        v.canvas()->fitToWindow();
        waitFor([] { return false; }, 200);
        // A scribble over the blue triangle, drawn with the mouse as a user would.
        v.tools()->setActiveTool(QStringLiteral("Scribble"));
        QWidget* vp = v.canvas()->viewport();
        const QPointF stroke[] = {{262, 440}, {280, 410}, {300, 380}, {318, 400}, {330, 430},
                                  {312, 445}, {290, 446}};
        QTest::mousePress(vp, Qt::LeftButton, {}, v.canvas()->mapFromScene(stroke[0]));
        for (const QPointF& p : stroke) QTest::mouseMove(vp, v.canvas()->mapFromScene(p));
        QTest::mouseRelease(vp, Qt::LeftButton, {}, v.canvas()->mapFromScene(stroke[6]));
        auto* vdoc = v.document();
        rcui::Region box;
        box.id = vdoc->nextRegionId();
        box.box = QRectF(QPointF(154, 175), QPointF(221, 242));
        box.colour = rcui::regionColour(box.id);
        vdoc->undoStack()->push(new rcui::AddRegionCommand(vdoc, box));
        int vanswers = 0;
        QObject::connect(&v, &rcui::MainWindow::answerFinished, [&] { ++vanswers; });
        v.ask("<region 1>");
        waitFor([&] { return vanswers >= 1; }, 120000);
        v.ask("Is <region 2> next to <region 1>?");
        waitFor([&] { return vanswers >= 2; }, 120000);
        shoot(v, out + "/9-scribble-regionvlm.png");
        bool vproposed = false;
        QObject::connect(&v, &rcui::MainWindow::proposalsFinished, [&](bool ok) { vproposed = ok; });
        v.proposeRegions(QStringLiteral("classic"));
        if (!waitFor([&] { return vproposed; }, 60000)) return 1;
        bool ranked = false;
        QObject::connect(&v, &rcui::MainWindow::rankingFinished,
                         [&](const QList<rcui::RankedProposal>& r) { ranked = !r.isEmpty(); });
        v.whichRegion(QStringLiteral("the blue triangle"));
        if (!waitFor([&] { return ranked; }, 300000)) {
            qCritical("which region: %s", qPrintable(v.lastError()));
            return 1;
        }
        waitFor([] { return false; }, 300);
        shoot(v, out + "/10-which-region.png");
        vdoc->setModified(false);
    }

    // --colva DIR MMVM_ROOT: a CoLVA folder answers an MMVM case in the Benchmark dock, as
    // the kit asks it (two frames, one region token per numbered object).
    const int cv = args.indexOf("--colva");
    if (cv > 0 && cv + 2 < args.size()) {
        rcui::MainWindowOptions o3 = o;
        o3.modelDir = args[cv + 1];
        o3.recoveryPath = out + "/recovery-colva.regionchat";
        rcui::MainWindow c(o3);
        c.resize(1400, 860);
        c.show();
        if (!waitFor([&] { return c.inference()->hasModel() &&
                                  c.inference()->model().dir == args[cv + 1]; }, 120000)) {
            qCritical("the CoLVA model did not load: %s", qPrintable(c.lastError()));
            return 1;
        }
        rcui::BenchmarkDock* cb = c.benchmark();
        cb->show();
        cb->raise();
        if (!cb->openBenchmark(args[cv + 2])) {
            qCritical("benchmark: %s", qPrintable(cb->lastMessage()));
            return 1;
        }
        bool cran = false;
        QObject::connect(cb, &rcui::BenchmarkDock::runFinished, [&] { cran = true; });
        cb->openCase(1);
        cb->runCase(1);
        if (!waitFor([&] { return cran; }, 300000)) {
            qCritical("the CoLVA case did not finish: %s", qPrintable(cb->lastMessage()));
            return 1;
        }
        waitFor([] { return false; }, 300);
        shoot(c, out + "/11-colva-mmvm.png");

        // The same question built by hand: File > Open Image Pair… with the case's raw frames,
        // a box on each, asked in the chat.
        const QString caseDir = args[cv + 2] + "/match_bench/case_001";
        bool pairLoaded = false;
        QObject::connect(&c, &rcui::MainWindow::imageLoaded, [&](bool ok) { pairLoaded = ok; });
        c.openImagePair(caseDir + "/FRAME00_ORI.jpg", caseDir + "/FRAME01_ORI.jpg");
        if (!waitFor([&] { return pairLoaded; }, 20000)) return 1;
        auto* cdoc = c.document();
        auto addPairBox = [&](QRectF box) {
            rcui::Region r;
            r.id = cdoc->nextRegionId();
            r.box = box;
            r.colour = rcui::regionColour(r.id);
            cdoc->undoStack()->push(new rcui::AddRegionCommand(cdoc, r));
        };
        addPairBox(QRectF(QPointF(8, 8), QPointF(48, 40)));
        const int s = cdoc->pair().split;
        addPairBox(QRectF(QPointF(s + 10, 12), QPointF(s + 50, 50)));
        c.chat()->show();
        c.chat()->raise();
        c.canvas()->fitToWindow();
        int canswers = 0;
        QObject::connect(&c, &rcui::MainWindow::answerFinished, [&] { ++canswers; });
        c.ask("Objects in Image-1: <query object><region 1>\nObjects in Image-2: <object-2><region 2>.\n"
              "Is object 2 the query object?");
        waitFor([&] { return canswers >= 1; }, 120000);
        shoot(c, out + "/12-colva-image-pair.png");
        cdoc->setModified(false);
    }
    return 0;
}
