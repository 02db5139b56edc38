#include "MainWindow.h"

#include <QAction>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QToolBar>

#include "bench/BenchmarkDock.h"
#include "canvas/CanvasView.h"
#include "canvas/RegionListWidget.h"
#include "chat/ChatPanel.h"
#include "controllers/BenchmarkController.h"
#include "controllers/ConversationController.h"
#include "controllers/DocumentController.h"
#include "controllers/ProposalController.h"
#include "document/RemoveRegionCommand.h"
#include "focus/FocusPanel.h"
#include "inference/InferenceController.h"
#include "inference/ConnectServerDialog.h"
#include "inference/ModelManagerDialog.h"
#include "regionchat/data_paths.h"
#include "tools/ToolManager.h"

namespace rcui {

MainWindow::MainWindow(const MainWindowOptions& options, QWidget* parent)
    : QMainWindow(parent), options_(options) {
    setAcceptDrops(true);
    resize(1280, 820);

    canvas_ = new CanvasView(&doc_, this);
    setCentralWidget(canvas_);
    tools_ = new ToolManager(&doc_, canvas_, this);
    inference_ = new InferenceController(this);
    auto* undo = doc_.undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    auto* redo = doc_.undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    docActions_ = {undo, redo};

    buildDocks();
    buildControllers();
    buildMenus();
    buildStatusBar();
    connectModel();

    connect(&doc_, &ImageDocument::modifiedChanged, this, &MainWindow::refreshTitle);
    connect(&doc_, &ImageDocument::imageChanged, this, &MainWindow::refreshTitle);
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

void MainWindow::buildDocks() {
    chat_ = new ChatPanel(&doc_, this);  // a dock of its own
    addDockWidget(Qt::RightDockWidgetArea, chat_);
    auto dock = [this](const QString& title, const char* name, QWidget* w) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(Qt::LeftDockWidgetArea, d);
    };
    regionList_ = new RegionListWidget(&doc_, this);
    dock(tr("Regions"), "regions", regionList_);
    focus_ = new FocusPanel(&doc_, this);
    dock(tr("Focus"), "focus", focus_);
    bench_ = new BenchmarkDock(inference_, this);
    addDockWidget(Qt::RightDockWidgetArea, bench_);
    tabifyDockWidget(chat_, bench_);
    chat_->raise();
    connect(regionList_, &RegionListWidget::zoomToRegion, canvas_, &CanvasView::zoomToRect);
}

void MainWindow::buildControllers() {
    conversation_ = new ConversationController(&doc_, inference_, canvas_, chat_, this, this);
    documents_ = new DocumentController(&doc_, canvas_, chat_, this, this, options_.recoveryPath,
                                        options_.askBeforeRestoring);
    documents_->setModelDir(options_.modelDir);
    proposals_ = new ProposalController(&doc_, inference_, canvas_, tools_, this, this);
    benchmarks_ = new BenchmarkController(&doc_, bench_, canvas_, this, this);

    // A new image (opened or a benchmark case) starts a new conversation; the newest open wins.
    connect(documents_, &DocumentController::replacingImage, conversation_,
            [this] { conversation_->startOver(true); });
    connect(benchmarks_, &BenchmarkController::replacingImage, conversation_,
            [this] { conversation_->startOver(false); });
    connect(documents_, &DocumentController::opening, bench_, &BenchmarkDock::dropPendingCase);
    connect(bench_, &BenchmarkDock::caseLoading, documents_, &DocumentController::cancelOpen);
    connect(conversation_, &ConversationController::answerRecorded, documents_,
            &DocumentController::autosave);

    connect(documents_, &DocumentController::imageLoaded, this, &MainWindow::imageLoaded);
    connect(documents_, &DocumentController::sessionLoaded, this, &MainWindow::sessionLoaded);
    connect(conversation_, &ConversationController::answerFinished, this,
            &MainWindow::answerFinished);
    connect(proposals_, &ProposalController::proposalsFinished, this,
            &MainWindow::proposalsFinished);
    connect(proposals_, &ProposalController::samFinished, this, &MainWindow::samFinished);
    connect(proposals_, &ProposalController::rankingFinished, this, &MainWindow::rankingFinished);
}

void MainWindow::buildFileMenu() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open Image…"), QKeySequence::Open, documents_,
                    &DocumentController::chooseImage);
    file->addAction(tr("Open Image &Pair…"), QKeySequence(tr("Ctrl+Alt+O")), documents_,
                    &DocumentController::chooseImagePair);
    documents_->setRecentMenu(file->addMenu(tr("Open &Recent")));
    QMenu* samples = file->addMenu(tr("&Samples"));
    const QDir sampleDir(QString::fromStdString(rc::samples_dir()));
    for (const QString& name : sampleDir.entryList({"*.png", "*.jpg"}, QDir::Files, QDir::Name)) {
        const QString path = sampleDir.filePath(name);
        samples->addAction(name, this, [this, path] { openImage(path); });
    }
    if (sampleDir.exists(QStringLiteral("benchmark"))) {
        samples->addSeparator();
        const QString benchDir = sampleDir.filePath(QStringLiteral("benchmark"));
        samples->addAction(tr("Benchmark: shapes grounding"), this,
                           [this, benchDir] { benchmarks_->openBenchmark(benchDir); });
    }
    samples->setEnabled(!samples->isEmpty());
    file->addAction(tr("Open &Benchmark…"), QKeySequence(tr("Ctrl+B")), benchmarks_,
                    &BenchmarkController::chooseBenchmark);
    file->addSeparator();
    file->addAction(tr("Open &Session…"), QKeySequence(tr("Ctrl+Shift+O")), documents_,
                    &DocumentController::chooseSession);
    file->addAction(tr("&Save Session"), QKeySequence::Save, documents_, &DocumentController::save);
    file->addAction(tr("Save Session &As…"), QKeySequence::SaveAs, documents_,
                    &DocumentController::saveAs);
    file->addSeparator();
    file->addAction(tr("&Export Conversation…"), QKeySequence(tr("Ctrl+E")), conversation_,
                    &ConversationController::exportConversationAs);
    file->addAction(tr("&Copy Annotated Image"), QKeySequence(tr("Ctrl+Shift+C")), conversation_,
                    &ConversationController::copyAnnotatedImage);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
}

void MainWindow::buildMenus() {
    buildFileMenu();
    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addActions(docActions_);
    edit->addSeparator();
    edit->addAction(tr("&Delete Region"), QKeySequence::Delete, this, [this] {
        if (doc_.selectedRegion() > 0)
            doc_.undoStack()->push(new RemoveRegionCommand(&doc_, doc_.selectedRegion()));
    });
    edit->addAction(tr("&New Conversation"), QKeySequence(tr("Ctrl+N")), conversation_,
                    &ConversationController::newConversation);

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
    regions->addAction(tr("&Which Region Is This…"), QKeySequence(tr("Ctrl+Shift+W")), this,
                       &MainWindow::askWhichRegion);
    cancelProposalsAction_ =
        regions->addAction(tr("Cancel Proposals"), QKeySequence(Qt::Key_Escape), inference_,
                           &InferenceController::cancelProposals);
    cancelProposalsAction_->setEnabled(false);
    connect(proposals_, &ProposalController::runningChanged, cancelProposalsAction_,
            &QAction::setEnabled);
    regions->addSeparator();
    regions->addAction(tr("&Load SAM…"), proposals_, &ProposalController::chooseSamFolder);
    regions->addSeparator();
    visualPromptsAction_ =
        regions->addAction(tr("&Visual Prompts"), this, [this](bool on) { setVisualPrompts(on); });
    visualPromptsAction_->setCheckable(true);
    visualPromptsAction_->setToolTip(
        tr("Send regions drawn on the image (numbered contours, as "
           "in MMVM) instead of as box coordinates"));
    connect(conversation_, &ConversationController::visualPromptsChanged, visualPromptsAction_,
            &QAction::setChecked);

    // Where answers come from: a local model folder or an OpenAI-compatible server.
    QMenu* modelMenu = menuBar()->addMenu(tr("&Model"));
    modelMenu->addAction(tr("Open &Model…"), QKeySequence(tr("Ctrl+Shift+M")), this,
                         &MainWindow::openModel);
    modelMenu->addAction(tr("Connect to Se&rver…"), QKeySequence(tr("Ctrl+Shift+K")), this,
                         &MainWindow::connectToServer);
    modelMenu->addSeparator();
    modelMenu->addAction(tr("Point Prompt &Seed…"), this, [this] {
        bool ok = false;
        const int seed = QInputDialog::getInt(
            this, tr("Point Prompt Seed"),
            tr("Models that read regions as points (RegionVLM) sample 10 points inside masks and "
               "boxes. The same seed gives the same points, hence the same answer."),
            int(pointSeed_), 0, 2147483647, 1, &ok);
        if (!ok) return;
        pointSeed_ = quint32(seed);
        conversation_->setPointSeed(pointSeed_);
        statusBar()->showMessage(tr("Point prompt seed: %1").arg(seed), 5000);
    });

    QMenu* toolsMenu = menuBar()->addMenu(tr("&Tools"));
    toolsMenu->addActions(tools_->actions());
    QToolBar* bar = addToolBar(tr("Tools"));
    bar->setObjectName("tools");
    bar->addActions(tools_->actions());
    bar->addSeparator();
    bar->addActions(docActions_);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About RegionChat"), this, [this] {
        // Where things are, so that a user can find (or remove) them: the settings file and
        // the recovery folder follow the XDG base directories.
        const QString recovery =
            QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
        QMessageBox::about(
            this, tr("About RegionChat"),
            tr("<b>RegionChat %1</b><br>Talk with a region-aware vision-language model "
               "about parts of an image."
               "<br><br>Box: drag (B). Point: click, shift-click for a negative "
               "point (P). Pan: drag, or "
               "middle-drag / space+drag with any tool (H). Wheel zooms."
               "<br><br><small>Settings: %2<br>Recovery files: %3<br>Embedded model and "
               "samples: %4</small>")
                .arg(QString::fromLatin1(rc::version()), QSettings().fileName().toHtmlEscaped(),
                     recovery.toHtmlEscaped(),
                     QString::fromStdString(rc::data_dir()).toHtmlEscaped()));
    });
}

void MainWindow::buildStatusBar() {
    modelLabel_ = new QLabel(tr("Loading model…"), this);
    loadBar_ = new QProgressBar(this);
    loadBar_->setMaximumWidth(180);
    loadBar_->setTextVisible(true);
    speedLabel_ = new QLabel(this);
    statusBar()->addPermanentWidget(speedLabel_);
    statusBar()->addPermanentWidget(proposals_->progressBar());
    statusBar()->addPermanentWidget(proposals_->samLabel());
    statusBar()->addPermanentWidget(loadBar_);
    statusBar()->addPermanentWidget(modelLabel_);
    connect(tools_, &ToolManager::statusMessage, this,
            [this](const QString& m) { statusBar()->showMessage(m, 5000); });
    connect(conversation_, &ConversationController::speedMeasured, speedLabel_, &QLabel::setText);
}

void MainWindow::connectModel() {
    connect(inference_, &InferenceController::loadProgress, this,
            [this](qint64 done, qint64 total) {
                loadBar_->setVisible(true);
                loadBar_->setRange(0, int(std::max<qint64>(total, 1)));
                loadBar_->setValue(int(done));
            });
    connect(inference_, &InferenceController::modelReady, this, [this](const ModelSummary& m) {
        loadBar_->setVisible(false);
        if (m.parameters > 0)
            modelLabel_->setText(tr("%1 · %2 · %3 · %4M params")
                                     .arg(m.name, m.device, m.dtype)
                                     .arg(m.parameters / 1e6, 0, 'f', 1));
        else  // a server: which one answers
            modelLabel_->setText(tr("%1 · %2 regions").arg(m.backend, m.regionFormat));
        modelLabel_->setToolTip(m.dir);
    });
    connect(inference_, &InferenceController::modelFailed, this, [this](const QString& msg) {
        loadBar_->setVisible(false);
        modelLabel_->setText(tr("No model"));
        showError(tr("The model could not be loaded"), msg);
    });
}

void MainWindow::openModel() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"));
    if (dir.isEmpty()) return;
    ModelManagerDialog dialog(dir, options_.device, this);
    if (dialog.exec() != QDialog::Accepted || !dialog.canLoad()) return;
    options_.modelDir = dir;
    options_.device = dialog.device();
    documents_->setModelDir(dir);
    inference_->loadModel(dir, dialog.device(), dialog.dtype());
}

void MainWindow::whichRegion(const QString& phrase) {
    proposals_->whichRegion(phrase, pointSeed_);
}

void MainWindow::askWhichRegion() {
    if (doc_.image().isNull()) return;
    bool ok = false;
    const QString phrase = QInputDialog::getText(
        this, tr("Which Region Is This?"),
        tr("Describe the thing to find. Each proposal is scored by how well the model's caption "
           "of it matches (RegionVLM's referring rule: 5 point draws per proposal, the best "
           "counts; point seed %1).")
            .arg(pointSeed_),
        QLineEdit::Normal, QString(), &ok);
    if (!ok || phrase.trimmed().isEmpty()) return;
    proposals_->whichRegion(phrase.trimmed(), pointSeed_);
}

void MainWindow::connectToServer() {
    ConnectServerDialog dialog(this);
    if (dialog.exec() != QDialog::Accepted) return;
    inference_->connectServer(dialog.server());
}

void MainWindow::openImagePair(const QString& first, const QString& second) {
    documents_->openImagePair(first, second);
}

void MainWindow::openImage(const QString& path) {
    documents_->openImage(path);
}

void MainWindow::openSession(const QString& path) {
    documents_->openSession(path);
}

bool MainWindow::saveSession(const QString& path) {
    return documents_->saveSession(path);
}

void MainWindow::offerRecovery() {
    documents_->offerRecovery();
}

void MainWindow::autosave() {
    documents_->autosave();
}

QString MainWindow::recoveryPath() const {
    return documents_->recoveryPath();
}

void MainWindow::ask(const QString& question) {
    conversation_->ask(question);
}

bool MainWindow::exportConversation(const QString& path) {
    return conversation_->exportConversation(path);
}

void MainWindow::setVisualPrompts(bool on) {
    conversation_->setVisualPrompts(on);
}

bool MainWindow::visualPrompts() const {
    return conversation_->visualPrompts();
}

void MainWindow::proposeRegions(const QString& generator) {
    proposals_->proposeRegions(generator);
}

void MainWindow::loadSam(const QString& dir) {
    proposals_->loadSam(dir);
}

void MainWindow::showBenchCase(const BenchCaseView& view) {
    benchmarks_->showCase(view);
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

void MainWindow::showError(const QString& title, const QString& message) {
    lastError_ = message;
    statusBar()->showMessage(message, 10000);
    if (isVisible() && options_.askBeforeRestoring) QMessageBox::warning(this, title, message);
}

void MainWindow::showStatus(const QString& message, int timeoutMs) {
    statusBar()->showMessage(message, timeoutMs);
}

void MainWindow::clearStatus() {
    statusBar()->clearMessage();
}

void MainWindow::refreshTitle() {
    const QString name = doc_.hasImage() ? QFileInfo(doc_.imagePath()).fileName() : tr("no image");
    setWindowTitle(tr("RegionChat — %1%2").arg(name, doc_.isModified() ? "*" : ""));
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (documents_->closeWindow())
        event->accept();
    else
        event->ignore();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    documents_->openDropped(event->mimeData()->urls());
}

}  // namespace rcui
