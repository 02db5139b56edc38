#include "MainWindow.h"

#include "bench/BenchmarkDock.h"
#include "inference/ModelManagerDialog.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QSaveFile>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QToolBar>
#include <QtConcurrent/QtConcurrentRun>

#include "canvas/CanvasView.h"
#include "canvas/RegionListWidget.h"
#include "chat/ChatPanel.h"
#include "chat/PromptComposer.h"
#include "document/AddRegionCommand.h"
#include "document/ChangeRegionCommand.h"
#include "document/RemoveRegionCommand.h"
#include "focus/FocusPanel.h"
#include "inference/ImageConversion.h"
#include "inference/InferenceController.h"
#include "regionchat/image_io.h"
#include "regionchat/region_format.h"
#include "tools/PointTool.h"
#include "tools/ProposalPickTool.h"
#include "tools/ToolManager.h"

namespace rcui {

namespace {

struct LoadedImage {
    QImage image;
    QString hash;
    QString error;
};

// Runs on a pool thread: the GUI thread never decodes an image. The size in the header is
// checked before decoding (core's image_io), so a 30000x30000 header is refused, not allocated.
LoadedImage loadImageFile(const QString& path) {
    LoadedImage out;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        out.error = QObject::tr("Cannot open %1: %2").arg(path, f.errorString());
        return out;
    }
    if (f.size() > (1ll << 30)) {
        out.error = QObject::tr("%1 is larger than 1 GiB.").arg(path);
        return out;
    }
    const QByteArray bytes = f.readAll();
    out.hash =
        QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
    try {
        out.image = toQImage(
            rc::decode_image(bytes.toStdString(), QFileInfo(path).fileName().toStdString()));
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

QString defaultRecoveryPath() {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    QDir().mkpath(dir);
    return dir + "/recovery.regionchat";
}

}  // namespace

MainWindow::MainWindow(const MainWindowOptions& options, QWidget* parent)
    : QMainWindow(parent), options_(options) {
    recoveryPath_ = options.recoveryPath.isEmpty() ? defaultRecoveryPath() : options.recoveryPath;
    setAcceptDrops(true);
    resize(1280, 820);

    canvas_ = new CanvasView(&doc_, this);
    setCentralWidget(canvas_);
    tools_ = new ToolManager(&doc_, canvas_, this);
    inference_ = new InferenceController(this);

    buildActions();
    buildDocks();
    buildMenus();
    buildStatusBar();
    connectInference();
    connectProposals();

    connect(&doc_, &ImageDocument::modifiedChanged, this, &MainWindow::refreshTitle);
    connect(&doc_, &ImageDocument::imageChanged, this, &MainWindow::refreshTitle);
    autosaveTimer_.setInterval(30000);
    connect(&autosaveTimer_, &QTimer::timeout, this, &MainWindow::autosave);
    autosaveTimer_.start();
    refreshTitle();

    inference_->loadModel(options_.modelDir, options_.device);
    setVisualPrompts(QSettings().value("visualPrompts", false).toBool());
    // The SAM folder chosen last time comes back (a failure only shows in the status bar).
    if (options_.restoreSam) {
        const QString sam = QSettings().value("samFolder").toString();
        if (!sam.isEmpty() && QFileInfo::exists(sam + "/config.json")) loadSam(sam);
    }
}

MainWindow::~MainWindow() = default;

void MainWindow::buildActions() {
    auto* undo = doc_.undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    auto* redo = doc_.undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    docActions_ = {undo, redo};
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open Image…"), QKeySequence::Open, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open Image"), QString(),
            tr("Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"));
        if (!path.isEmpty()) openImage(path);
    });
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    refreshRecentMenu();
    QMenu* samples = file->addMenu(tr("&Samples"));
    const QDir sampleDir(QStringLiteral(REGIONCHAT_SAMPLES_DIR));
    for (const QString& name : sampleDir.entryList({"*.png", "*.jpg"}, QDir::Files, QDir::Name)) {
        const QString path = sampleDir.filePath(name);
        samples->addAction(name, this, [this, path] { openImage(path); });
    }
    if (sampleDir.exists(QStringLiteral("benchmark"))) {
        samples->addSeparator();
        const QString benchDir = sampleDir.filePath(QStringLiteral("benchmark"));
        samples->addAction(tr("Benchmark: shapes grounding"), this, [this, benchDir] {
            bench_->show();
            bench_->raise();
            if (!bench_->openBenchmark(benchDir))
                showError(tr("Cannot open the benchmark"), bench_->lastMessage());
        });
    }
    samples->setEnabled(!samples->isEmpty());
    file->addAction(tr("Open &Benchmark…"), QKeySequence(tr("Ctrl+B")), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(
            this, tr("Open a benchmark folder (MME, MMVM or grounding .jsonl)"));
        if (dir.isEmpty()) return;
        bench_->show();
        bench_->raise();
        if (!bench_->openBenchmark(dir))
            showError(tr("Cannot open the benchmark"), bench_->lastMessage());
    });
    file->addSeparator();
    file->addAction(tr("Open &Session…"), QKeySequence(tr("Ctrl+Shift+O")), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open Session"), QString(),
                                                          tr("RegionChat sessions (*.regionchat)"));
        if (!path.isEmpty()) openSession(path);
    });
    file->addAction(tr("&Save Session"), QKeySequence::Save, this, [this] {
        QString path = sessionPath_;
        if (path.isEmpty())
            path = QFileDialog::getSaveFileName(this, tr("Save Session"), QString(),
                                                tr("RegionChat sessions (*.regionchat)"));
        if (!path.isEmpty()) saveSession(path);
    });
    file->addAction(tr("Save Session &As…"), QKeySequence::SaveAs, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save Session"), QString(),
                                                          tr("RegionChat sessions (*.regionchat)"));
        if (!path.isEmpty()) saveSession(path);
    });
    file->addSeparator();
    file->addAction(tr("&Export Conversation…"), QKeySequence(tr("Ctrl+E")), this,
                    &MainWindow::exportConversationAs);
    file->addAction(tr("&Copy Annotated Image"), QKeySequence(tr("Ctrl+Shift+C")), this,
                    &MainWindow::copyAnnotatedImage);
    file->addSeparator();
    file->addAction(tr("Open &Model…"), QKeySequence(tr("Ctrl+Shift+M")), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"));
        if (dir.isEmpty()) return;
        ModelManagerDialog dialog(dir, options_.device, this);
        if (dialog.exec() != QDialog::Accepted || !dialog.canLoad()) return;
        options_.modelDir = dir;
        options_.device = dialog.device();
        inference_->loadModel(dir, dialog.device(), dialog.dtype());
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addActions(docActions_);
    edit->addSeparator();
    edit->addAction(tr("&Delete Region"), QKeySequence::Delete, this, [this] {
        if (doc_.selectedRegion() > 0)
            doc_.undoStack()->push(new RemoveRegionCommand(&doc_, doc_.selectedRegion()));
    });
    edit->addAction(tr("&New Conversation"), QKeySequence(tr("Ctrl+N")), this, [this] {
        inference_->stop();
        doc_.clearChat();
        inference_->resetConversation();
        conversationStarted_ = false;
    });

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Zoom &In"), QKeySequence::ZoomIn, canvas_, &CanvasView::zoomIn);
    view->addAction(tr("Zoom &Out"), QKeySequence::ZoomOut, canvas_, &CanvasView::zoomOut);
    view->addAction(tr("&Fit to Window"), QKeySequence(tr("Ctrl+0")), canvas_,
                    &CanvasView::fitToWindow);
    view->addAction(tr("&Actual Size (100%)"), QKeySequence(tr("Ctrl+1")), canvas_,
                    &CanvasView::actualSize);
    view->addSeparator();
    presentationAction_ = view->addAction(tr("&Presentation Mode"), QKeySequence(Qt::Key_F11), this,
                                          [this](bool on) { setPresentationMode(on); });
    presentationAction_->setCheckable(true);
    view->addSeparator();
    for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());

    QMenu* regions = menuBar()->addMenu(tr("&Regions"));
    regions->addAction(tr("&Propose Regions (Classic)"), QKeySequence(tr("Ctrl+Shift+R")), this,
                       [this] { proposeRegions(QStringLiteral("classic")); });
    regions->addAction(tr("Propose Regions with &SAM"), QKeySequence(tr("Ctrl+Alt+R")), this,
                       [this] { proposeRegions(QStringLiteral("sam")); });
    regions->addAction(tr("&Clear Proposals"), this, [this] { doc_.setProposals({}); });
    cancelProposalsAction_ =
        regions->addAction(tr("Cancel Proposals"), QKeySequence(Qt::Key_Escape), inference_,
                           &InferenceController::cancelProposals);
    cancelProposalsAction_->setEnabled(false);
    regions->addSeparator();
    regions->addAction(tr("&Load SAM…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(
            this, tr("Open a Segment Anything Folder (config.json + model.safetensors)"),
            QSettings().value("samFolder").toString());
        if (!dir.isEmpty()) loadSam(dir);
    });
    regions->addSeparator();
    visualPromptsAction_ =
        regions->addAction(tr("&Visual Prompts"), this, [this](bool on) { setVisualPrompts(on); });
    visualPromptsAction_->setCheckable(true);
    visualPromptsAction_->setToolTip(
        tr("Send regions drawn on the image (numbered contours, as "
           "in MMVM) instead of as box coordinates"));

    QMenu* toolsMenu = menuBar()->addMenu(tr("&Tools"));
    toolsMenu->addActions(tools_->actions());
    QToolBar* bar = addToolBar(tr("Tools"));
    bar->setObjectName("tools");
    bar->addActions(tools_->actions());
    bar->addSeparator();
    bar->addActions(docActions_);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About RegionChat"), this, [this] {
        QMessageBox::about(this, tr("About RegionChat"),
                           tr("<b>RegionChat</b><br>Talk with a region-aware vision-language model "
                              "about parts of an image."
                              "<br><br>Box: drag (B). Point: click, shift-click for a negative "
                              "point (P). Pan: drag, or "
                              "middle-drag / space+drag with any tool (H). Wheel zooms."));
    });
}

void MainWindow::buildDocks() {
    auto dock = [this](const QString& title, const char* name, QWidget* w,
                       Qt::DockWidgetArea area) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(area, d);
        return d;
    };
    chat_ = new ChatPanel(&doc_, this);  // a dock of its own
    addDockWidget(Qt::RightDockWidgetArea, chat_);
    regionList_ = new RegionListWidget(&doc_, this);
    dock(tr("Regions"), "regions", regionList_, Qt::LeftDockWidgetArea);
    focus_ = new FocusPanel(&doc_, this);
    auto* focusDock = dock(tr("Focus"), "focus", focus_, Qt::LeftDockWidgetArea);
    Q_UNUSED(focusDock);
    bench_ = new BenchmarkDock(inference_, this);
    addDockWidget(Qt::RightDockWidgetArea, bench_);
    tabifyDockWidget(chat_, bench_);
    chat_->raise();
    connect(bench_, &BenchmarkDock::caseOpened, this, &MainWindow::showBenchCase);

    connect(chat_, &ChatPanel::sendRequested, this, &MainWindow::ask);
    connect(chat_, &ChatPanel::stopRequested, inference_, &InferenceController::stop);
    connect(chat_, &ChatPanel::boxClicked, this, &MainWindow::zoomToBox);
    connect(chat_, &ChatPanel::makeRegionRequested, this, &MainWindow::makeRegionFromBox);
    connect(regionList_, &RegionListWidget::zoomToRegion, canvas_, &CanvasView::zoomToRect);
}

void MainWindow::buildStatusBar() {
    modelLabel_ = new QLabel(tr("Loading model…"), this);
    loadBar_ = new QProgressBar(this);
    loadBar_->setMaximumWidth(180);
    loadBar_->setTextVisible(true);
    speedLabel_ = new QLabel(this);
    proposalBar_ = new QProgressBar(this);
    proposalBar_->setMaximumWidth(160);
    proposalBar_->setRange(0, 100);
    proposalBar_->setFormat(tr("proposals %p%"));
    proposalBar_->setVisible(false);
    samLabel_ = new QLabel(this);
    samLabel_->setVisible(false);
    statusBar()->addPermanentWidget(speedLabel_);
    statusBar()->addPermanentWidget(proposalBar_);
    statusBar()->addPermanentWidget(samLabel_);
    statusBar()->addPermanentWidget(loadBar_);
    statusBar()->addPermanentWidget(modelLabel_);
    connect(tools_, &ToolManager::statusMessage, this,
            [this](const QString& m) { statusBar()->showMessage(m, 5000); });
}

void MainWindow::connectInference() {
    connect(inference_, &InferenceController::loadProgress, this,
            [this](qint64 done, qint64 total) {
                loadBar_->setVisible(true);
                loadBar_->setRange(0, int(std::max<qint64>(total, 1)));
                loadBar_->setValue(int(done));
            });
    connect(inference_, &InferenceController::modelReady, this, [this](const ModelSummary& m) {
        loadBar_->setVisible(false);
        modelLabel_->setText(tr("%1 · %2 · %3 · %4M params")
                                 .arg(m.name, m.device, m.dtype)
                                 .arg(m.parameters / 1e6, 0, 'f', 1));
        modelLabel_->setToolTip(m.dir);
        conversationStarted_ = false;
        if (!pendingQuestion_.isEmpty()) ask(std::exchange(pendingQuestion_, QString()));
    });
    connect(inference_, &InferenceController::modelFailed, this, [this](const QString& msg) {
        loadBar_->setVisible(false);
        modelLabel_->setText(tr("No model"));
        showError(tr("The model could not be loaded"), msg);
    });
    connect(inference_, &InferenceController::busyChanged, chat_, &ChatPanel::setBusy);
    connect(inference_, &InferenceController::stage, this, [this](const QString& s) {
        statusBar()->showMessage(tr("Dual focus: %1 pass…").arg(s));
        // Each pass streams its own answer; show the current pass only.
        if (streamingEntry_ >= 0 && streamingEntry_ < doc_.chat().size()) {
            ChatEntry e = doc_.chat()[streamingEntry_];
            e.text.clear();
            doc_.updateEntry(streamingEntry_, e);
        }
    });
    connect(inference_, &InferenceController::token, this, [this](const QString& piece) {
        if (streamingEntry_ < 0 || streamingEntry_ >= doc_.chat().size()) return;
        ChatEntry e = doc_.chat()[streamingEntry_];
        e.text += piece;
        doc_.updateEntry(streamingEntry_, e);
    });
    connect(inference_, &InferenceController::answered, this, [this](const AnswerResult& r) {
        if (streamingEntry_ < 0 || streamingEntry_ >= doc_.chat().size()) return;
        ChatEntry e = doc_.chat()[streamingEntry_];
        const QString question =
            streamingEntry_ > 0 ? doc_.chat()[streamingEntry_ - 1].text : QString();
        e.text = r.text;
        e.streaming = false;
        e.stopped = r.stopped;
        e.tokensPerSecond = r.timings.tokensPerSecond;
        e.boxes.clear();
        for (const QRectF& b : r.boxes) e.boxes.append({b, groundingLabel(question, r.text)});
        e.focus = r.focus;
        doc_.updateEntry(streamingEntry_, e);
        if (r.focus.valid) doc_.setLastFocus(r.focus, r.crop);
        speedLabel_->setText(r.timings.tokensPerSecond > 0
                                 ? tr("%1 tokens/s · %2 ms")
                                       .arg(r.timings.tokensPerSecond, 0, 'f', 1)
                                       .arg(r.timings.totalMs, 0, 'f', 0)
                                 : tr("answered in %1 ms").arg(r.timings.totalMs, 0, 'f', 0));
        streamingEntry_ = -1;
        statusBar()->clearMessage();
        autosave();
        emit answerFinished();
    });
    connect(inference_, &InferenceController::failed, this, [this](const QString& msg) {
        if (streamingEntry_ >= 0 && streamingEntry_ < doc_.chat().size()) {
            ChatEntry e = doc_.chat()[streamingEntry_];
            e.streaming = false;
            e.error = msg;
            doc_.updateEntry(streamingEntry_, e);
        }
        streamingEntry_ = -1;
        lastError_ = msg;
        emit answerFinished();
    });
}

void MainWindow::connectProposals() {
    connect(inference_, &InferenceController::proposalProgress, this, [this](double f) {
        proposalBar_->setFormat(tr("proposals %p%"));
        proposalBar_->setVisible(true);
        proposalBar_->setValue(int(std::lround(100 * f)));
    });
    connect(inference_, &InferenceController::proposalsReady, this,
            [this](const QList<ProposalMask>& proposals, double ms) {
                proposalBar_->setVisible(false);
                cancelProposalsAction_->setEnabled(false);
                // The image changes cancel runs; masks of another size are never shown.
                QList<ProposalMask> fitting;
                for (const auto& p : proposals)
                    if (p.mask.size() == doc_.image().size()) fitting.append(p);
                doc_.setProposals(fitting);
                statusBar()->showMessage(
                    tr("%n proposal(s) in %1 ms; the Pick tool (K) makes one a region.", nullptr,
                       int(fitting.size()))
                        .arg(ms, 0, 'f', 0),
                    8000);
                emit proposalsFinished(true);
            });
    connect(inference_, &InferenceController::proposalsFailed, this, [this](const QString& msg) {
        proposalBar_->setVisible(false);
        cancelProposalsAction_->setEnabled(false);
        if (msg == QLatin1String("cancelled"))
            statusBar()->showMessage(tr("Proposals cancelled."), 5000);
        else
            showError(tr("No proposals"), msg);
        emit proposalsFinished(false);
    });
    connect(inference_, &InferenceController::samLoadProgress, this,
            [this](qint64 done, qint64 total) {
                proposalBar_->setFormat(tr("SAM %p%"));
                proposalBar_->setVisible(true);
                proposalBar_->setValue(int(total > 0 ? 100 * done / total : 0));
            });
    connect(inference_, &InferenceController::samReady, this, [this](const QString& what) {
        QSettings().setValue("samFolder", samFolder_);
        proposalBar_->setVisible(false);
        samLabel_->setText(tr("SAM"));
        samLabel_->setToolTip(what);
        samLabel_->setVisible(true);
        statusBar()->showMessage(what, 8000);
        if (auto* point = qobject_cast<PointTool*>(tools_->tool(QStringLiteral("Point"))))
            point->setSamEnabled(true);
        emit samFinished(true);
    });
    connect(inference_, &InferenceController::samLoadFailed, this, [this](const QString& msg) {
        proposalBar_->setVisible(false);
        samLabel_->setVisible(false);
        if (auto* point = qobject_cast<PointTool*>(tools_->tool(QStringLiteral("Point"))))
            point->setSamEnabled(false);
        showError(tr("SAM could not be loaded"),
                  tr("SAM could not be loaded from %1: %2").arg(samFolder_, msg));
        emit samFinished(false);
    });
    connect(inference_, &InferenceController::samFailed, this,
            [this](const QString& msg) { statusBar()->showMessage(tr("SAM: %1").arg(msg), 8000); });
    connect(inference_, &InferenceController::samHoverMask, this, [this](const QImage& mask) {
        auto* point = qobject_cast<PointTool*>(tools_->tool(QStringLiteral("Point")));
        if (point && tools_->activeTool() == point)
            canvas_->setPreviewMask(mask, regionColour(int(doc_.regions().size()) + 1));
    });
    connect(inference_, &InferenceController::samRegionMask, this,
            [this](const SamRequest& request, const QImage& mask) {
                const Region* r = doc_.region(request.regionId);
                // The points changed (or the region went) while SAM ran: a newer request
                // is on its way, or nothing is needed.
                if (!r || r->positive != request.positive || r->negative != request.negative ||
                    mask.isNull() || mask.size() != doc_.image().size())
                    return;
                Region after = *r;
                after.mask = mask;
                after.box = maskBoundingRect(mask);
                if (after.box.isEmpty()) return;
                auto* command = new ChangeRegionCommand(&doc_, *r, after);
                command->setText(tr("SAM mask for region %1").arg(r->id));
                doc_.undoStack()->push(command);
            });
    connect(canvas_, &CanvasView::mouseLeft, inference_, &InferenceController::cancelSamHover);
    auto* point = qobject_cast<PointTool*>(tools_->tool(QStringLiteral("Point")));
    if (point) {
        connect(point, &PointTool::hoverLeft, inference_, &InferenceController::cancelSamHover);
        connect(point, &PointTool::hoverMaskWanted, this,
                [this](const QPointF& pos) { inference_->requestSamHover(doc_.image(), pos); });
        connect(point, &PointTool::regionMaskWanted, this, [this](int id) {
            if (const Region* r = doc_.region(id))
                inference_->requestSamRegion(doc_.image(), id, r->positive, r->negative);
        });
    }
    if (auto* pick = qobject_cast<ProposalPickTool*>(tools_->tool(QStringLiteral("Pick"))))
        connect(pick, &ProposalPickTool::proposalsWanted, this, [this] {
            // Classic unless SAM is loaded and was the last generator chosen.
            proposeRegions(preferSam_ && inference_->hasSam() ? QStringLiteral("sam")
                                                              : QStringLiteral("classic"));
        });
}

void MainWindow::proposeRegions(const QString& generator) {
    if (!doc_.hasImage()) {
        showError(tr("No image"), tr("Open an image first."));
        emit proposalsFinished(false);
        return;
    }
    if (generator == QLatin1String("sam") && !inference_->hasSam()) {
        showError(tr("No SAM loaded"),
                  tr("Load a Segment Anything folder first (Regions > Load SAM…), or use the "
                     "classic generator (Ctrl+Shift+R)."));
        emit proposalsFinished(false);
        return;
    }
    preferSam_ = generator == QLatin1String("sam");
    proposalBar_->setFormat(tr("proposals %p%"));
    proposalBar_->setValue(0);
    proposalBar_->setVisible(true);
    cancelProposalsAction_->setEnabled(true);
    statusBar()->showMessage(tr("Finding regions (%1)… Esc cancels.").arg(generator));
    inference_->generateProposals(doc_.image(), generator);
}

void MainWindow::loadSam(const QString& dir) {
    samFolder_ = dir;  // remembered once it has loaded
    statusBar()->showMessage(tr("Loading SAM from %1…").arg(dir));
    inference_->loadSam(dir);
}

void MainWindow::setVisualPrompts(bool on) {
    visualPrompts_ = on;
    if (visualPromptsAction_) visualPromptsAction_->setChecked(on);
    QSettings().setValue("visualPrompts", on);
}

void MainWindow::ask(const QString& question) {
    if (question.trimmed().isEmpty()) return;
    if (!doc_.hasImage()) {
        showError(tr("No image"),
                  tr("Open an image first (File > Open Image, or drop one on the window)."));
        return;
    }
    if (!inference_->hasModel()) {
        pendingQuestion_ = question;
        statusBar()->showMessage(
            tr("The model is still loading; the question will be asked when it is ready."));
        return;
    }
    const ModelSummary& m = inference_->model();
    auto format = rc::make_region_format(m.regionFormat.toStdString(), m.padToSquare);
    QString error;
    QList<int> drawn;
    const QString prompt =
        format ? composePrompt(question, doc_, *format, &error, visualPrompts_ ? &drawn : nullptr)
               : QString();
    if (prompt.isEmpty()) {
        chat_->input()->setPlainText(question);  // the panel cleared it; give it back
        showError(tr("Cannot ask that"),
                  error.isEmpty() ? tr("The model's region format is unknown.") : error);
        return;
    }
    if (streamingEntry_ >= 0 && streamingEntry_ < doc_.chat().size()) {
        // A new question while one runs: the old one is cancelled and marked so.
        ChatEntry old = doc_.chat()[streamingEntry_];
        old.streaming = false;
        old.stopped = true;
        doc_.updateEntry(streamingEntry_, old);
    }
    ChatEntry user;
    user.role = ChatEntry::Role::User;
    user.text = question;
    user.prompt = prompt;
    doc_.appendEntry(user);
    ChatEntry answer;
    answer.role = ChatEntry::Role::Assistant;
    answer.streaming = true;
    doc_.appendEntry(answer);
    streamingEntry_ = doc_.chat().size() - 1;

    AskRequest req;
    req.prompt = prompt;
    req.image = doc_.image();
    req.imageKey = imageKey_;
    req.newConversation = !conversationStarted_;
    if (!drawn.isEmpty()) {
        // Visual prompts: the regions are drawn on the image this question sends. The same
        // drawing keeps its key (and the conversation about it); another one is a new image.
        QStringList signature{QString::number(imageKey_)};
        for (int id : drawn) {
            const Region* r = doc_.region(id);
            const QRectF b = r->box;
            signature << QStringLiteral("%1:%2,%3,%4,%5:%6:%7")
                             .arg(id)
                             .arg(b.left())
                             .arg(b.top())
                             .arg(b.width())
                             .arg(b.height())
                             .arg(r->hasMask() ? r->mask.cacheKey() : 0)
                             .arg(r->colour.name());
        }
        const QString key = signature.join(QLatin1Char(';'));
        if (key != visualSignature_) {
            visualSignature_ = key;
            ++visualImageKey_;
        }
        req.image = drawVisualPrompts(doc_, drawn);
        req.imageKey = -visualImageKey_;
    }
    req.dualFocus = chat_->dualFocus();
    req.subject = question;
    conversationStarted_ = true;
    inference_->ask(req);
}

void MainWindow::openImage(const QString& path) {
    const int generation = ++loadingImage_;
    statusBar()->showMessage(tr("Opening %1…").arg(QFileInfo(path).fileName()));
    auto* watcher = new QFutureWatcher<LoadedImage>(this);
    connect(watcher, &QFutureWatcher<LoadedImage>::finished, this,
            [this, watcher, path, generation] {
                watcher->deleteLater();
                if (generation != loadingImage_) return;  // a newer open won
                const LoadedImage r = watcher->result();
                statusBar()->clearMessage();
                if (!r.error.isEmpty()) {
                    showError(tr("Cannot open the image"), r.error);
                    emit imageLoaded(false);
                    return;
                }
                if (!maybeSave()) {
                    emit imageLoaded(false);
                    return;
                }
                setImage(r.image, path, r.hash);
                sessionPath_.clear();
                addRecent(path);
                emit imageLoaded(true);
            });
    watcher->setFuture(QtConcurrent::run(loadImageFile, path));
}

void MainWindow::showBenchCase(const BenchCaseView& view) {
    if (view.image.isNull()) {
        statusBar()->showMessage(tr("%1: the image cannot be read").arg(view.title), 8000);
        return;
    }
    // A chat answer streaming into the old image stops; a benchmark run goes on.
    if (streamingEntry_ >= 0) inference_->stop();
    inference_->cancelProposals();
    streamingEntry_ = -1;
    doc_.setImage(view.image, view.title);
    ++imageKey_;
    conversationStarted_ = false;
    ChatEntry question;
    question.role = ChatEntry::Role::User;
    question.text = view.question;
    question.prompt = view.question;
    doc_.appendEntry(question);
    ChatEntry answer;
    answer.role = ChatEntry::Role::Assistant;
    answer.text =
        view.hasResult ? view.prediction : tr("(not run yet) Ground truth: %1").arg(view.truth);
    if (view.hasResult)
        answer.text += tr("\n— %1; ground truth: %2")
                           .arg(view.correct ? tr("right") : tr("wrong"), view.truth);
    for (const QRectF& b : view.truthBoxes) answer.boxes.append({b, tr("ground truth")});
    for (const QRectF& b : view.predictedBoxes) answer.boxes.append({b, tr("prediction")});
    doc_.appendEntry(answer);
    doc_.setModified(false);
    canvas_->fitToWindow();
}

void MainWindow::setImage(const QImage& image, const QString& path, const QString& hash) {
    inference_->stop();
    inference_->cancelProposals();  // they were for the old image
    streamingEntry_ = -1;
    doc_.setImage(image, path);
    doc_.setImageHash(hash);
    ++imageKey_;
    conversationStarted_ = false;
    canvas_->fitToWindow();
}

bool MainWindow::openSession(const QString& path) {
    SessionData d;
    QString error;
    if (!readSessionFile(path, &d, &error)) {
        showError(tr("Cannot open the session"),
                  tr("%1: %2").arg(QFileInfo(path).fileName(), error));
        return false;
    }
    const LoadedImage img = loadImageFile(d.imagePath);
    if (!img.error.isEmpty()) {
        showError(tr("Cannot open the session"),
                  tr("Its image cannot be opened: %1").arg(img.error));
        return false;
    }
    if (!maybeSave()) return false;
    setImage(img.image, d.imagePath, img.hash);
    if (!d.imageHash.isEmpty() && d.imageHash != img.hash)
        statusBar()->showMessage(tr("Note: %1 changed since the session was saved.")
                                     .arg(QFileInfo(d.imagePath).fileName()),
                                 8000);
    for (int i = 0; i < d.regions.size(); ++i) doc_.insertRegion(i, d.regions[i]);
    for (const auto& e : d.chat) doc_.appendEntry(e);
    chat_->setDualFocus(d.settings.dualFocus);
    // The restored conversation is shown; the model starts a new one from the next question.
    doc_.setModified(false);
    sessionPath_ = path;
    refreshTitle();
    return true;
}

bool MainWindow::saveSession(const QString& path) {
    QString error;
    if (!writeSessionFile(path, sessionFromDocument(doc_, settings()), &error)) {
        showError(tr("Cannot save the session"), tr("%1: %2").arg(path, error));
        return false;
    }
    sessionPath_ = path;
    doc_.undoStack()->setClean();
    doc_.setModified(false);
    QFile::remove(recoveryPath_);
    refreshTitle();
    statusBar()->showMessage(tr("Saved %1").arg(QFileInfo(path).fileName()), 4000);
    return true;
}

SessionSettings MainWindow::settings() const {
    SessionSettings s;
    s.modelDir = options_.modelDir;
    s.dualFocus = chat_->dualFocus();
    return s;
}

void MainWindow::autosave() {
    if (!doc_.hasImage() || !doc_.isModified()) return;
    QString error;
    if (!writeSessionFile(recoveryPath_, sessionFromDocument(doc_, settings()), &error))
        statusBar()->showMessage(tr("Autosave failed: %1").arg(error), 5000);
}

void MainWindow::offerRecovery() {
    if (!QFile::exists(recoveryPath_)) return;
    const QDateTime when = QFileInfo(recoveryPath_).lastModified();
    if (options_.askBeforeRestoring &&
        QMessageBox::question(
            this, tr("Restore the last session?"),
            tr("RegionChat did not close cleanly. Restore the session autosaved at %1?")
                .arg(QLocale().toString(when, QLocale::ShortFormat))) != QMessageBox::Yes) {
        QFile::remove(recoveryPath_);
        return;
    }
    if (openSession(recoveryPath_)) {
        sessionPath_.clear();
        doc_.setModified(true);  // restored work is not saved anywhere yet
        refreshTitle();
    }
}

bool MainWindow::maybeSave() {
    if (!doc_.isModified() || !doc_.hasImage() || !isVisible() || !options_.askBeforeRestoring)
        return true;
    const auto answer =
        QMessageBox::question(this, tr("Save the session?"),
                              tr("The conversation about %1 has unsaved changes.")
                                  .arg(QFileInfo(doc_.imagePath()).fileName()),
                              QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
    if (answer == QMessageBox::Cancel) return false;
    if (answer == QMessageBox::Save) {
        QString path = sessionPath_;
        if (path.isEmpty())
            path = QFileDialog::getSaveFileName(this, tr("Save Session"), QString(),
                                                tr("RegionChat sessions (*.regionchat)"));
        return !path.isEmpty() && saveSession(path);
    }
    return true;
}

void MainWindow::exportConversationAs() {
    if (!doc_.hasImage()) return;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Conversation"), QString(),
                                                      tr("Markdown (*.md)"));
    if (!path.isEmpty()) exportConversation(path.endsWith(".md") ? path : path + ".md");
}

bool MainWindow::exportConversation(const QString& path) {
    if (!doc_.hasImage()) return false;
    const QString png = path.chopped(3) + ".png";
    if (!canvas_->renderAnnotated().save(png)) {
        showError(tr("Cannot export"), tr("Cannot write %1").arg(png));
        return false;
    }
    QString md = tr("# RegionChat — %1\n\n![%1](%2)\n\n")
                     .arg(QFileInfo(doc_.imagePath()).fileName(), QFileInfo(png).fileName());
    auto pixels = [](const QRectF& b) {
        return QStringLiteral("[%1, %2, %3, %4] px")
            .arg(b.left(), 0, 'f', 0)
            .arg(b.top(), 0, 'f', 0)
            .arg(b.right(), 0, 'f', 0)
            .arg(b.bottom(), 0, 'f', 0);
    };
    for (const auto& r : doc_.regions()) md += tr("- Region %1: %2\n").arg(r.id).arg(pixels(r.box));
    md += "\n";
    for (const auto& e : doc_.chat()) {
        if (e.role == ChatEntry::Role::User) {
            md += tr("**You:** %1\n\n").arg(e.text);
        } else {
            md += tr("**RegionChat:** %1%2\n\n")
                      .arg(e.text, e.stopped ? tr(" *(stopped)*") : QString());
            for (const auto& b : e.boxes) md += tr("- box “%1”: %2\n").arg(b.label, pixels(b.box));
            if (!e.boxes.isEmpty()) md += "\n";
        }
    }
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(md.toUtf8()) < 0 || !f.commit()) {
        showError(tr("Cannot export"), tr("Cannot write %1").arg(path));
        return false;
    }
    statusBar()->showMessage(
        tr("Exported %1 and %2").arg(QFileInfo(path).fileName(), QFileInfo(png).fileName()), 5000);
    return true;
}

void MainWindow::copyAnnotatedImage() {
    if (!doc_.hasImage()) return;
    QApplication::clipboard()->setImage(canvas_->renderAnnotated());
    statusBar()->showMessage(tr("Annotated image copied"), 3000);
}

void MainWindow::setPresentationMode(bool on) {
    if (presentationAction_->isChecked() != on) presentationAction_->setChecked(on);
    canvas_->setPresentationMode(on);
    chat_->setPresentationMode(on);
    focus_->setPresentationMode(on);
    if (on)
        showFullScreen();
    else
        showNormal();
}

void MainWindow::makeRegionFromBox(int index) {
    const auto boxes = doc_.groundingBoxes();
    if (index < 0 || index >= boxes.size()) return;
    Region r;
    r.id = doc_.nextRegionId();
    r.kind = Region::Kind::Box;
    r.box = boxes[index].box;
    r.colour = regionColour(r.id);
    doc_.undoStack()->push(new AddRegionCommand(&doc_, r));
    doc_.setSelectedRegion(r.id);
}

void MainWindow::zoomToBox(int index) {
    const auto boxes = doc_.groundingBoxes();
    if (index < 0 || index >= boxes.size()) return;
    doc_.setHighlightedBox(index);
    canvas_->zoomToRect(boxes[index].box);
}

void MainWindow::showError(const QString& title, const QString& message) {
    lastError_ = message;
    statusBar()->showMessage(message, 10000);
    if (isVisible() && options_.askBeforeRestoring) QMessageBox::warning(this, title, message);
}

void MainWindow::addRecent(const QString& path) {
    QSettings s;
    QStringList recent = s.value("recentFiles").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 10) recent.removeLast();
    s.setValue("recentFiles", recent);
    refreshRecentMenu();
}

void MainWindow::refreshRecentMenu() {
    recentMenu_->clear();
    for (const QString& p : QSettings().value("recentFiles").toStringList())
        recentMenu_->addAction(QFileInfo(p).fileName(), this, [this, p] { openImage(p); })
            ->setToolTip(p);
    recentMenu_->setEnabled(!recentMenu_->isEmpty());
}

void MainWindow::refreshTitle() {
    const QString name = doc_.hasImage() ? QFileInfo(doc_.imagePath()).fileName() : tr("no image");
    setWindowTitle(tr("RegionChat — %1%2").arg(name, doc_.isModified() ? "*" : ""));
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (!maybeSave()) {
        event->ignore();
        return;
    }
    QFile::remove(recoveryPath_);  // a clean close leaves nothing to recover
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.first().isLocalFile()) return;
    const QString path = urls.first().toLocalFile();
    if (path.endsWith(".regionchat"))
        openSession(path);
    else
        openImage(path);
}

}  // namespace rcui
