// The RegionChat window: canvas in the centre, chat / regions / focus / benchmark docks, menus,
// status bar. It owns the document, the inference controller and one controller per job
// (documents and files, the conversation, proposals and SAM, benchmarks) and wires them up.
#pragma once

#include <QMainWindow>

#include "controllers/UserFeedback.h"
#include "document/ImageDocument.h"
#include "inference/InferenceTypes.h"

class QLabel;
class QProgressBar;

namespace rcui {

class BenchmarkController;
class BenchmarkDock;
struct BenchCaseView;
class CanvasView;
class ChatPanel;
class ConversationController;
class DocumentController;
class FocusPanel;
class InferenceController;
class ProposalController;
class RegionListWidget;
class ToolManager;

struct MainWindowOptions {
    QString modelDir;  ///< "" = the embedded model
    QString device = QStringLiteral("auto");
    QString recoveryPath;            ///< autosave file; "" = the per-user default
    bool askBeforeRestoring = true;  ///< false: restore a recovery file without asking (tests)
    bool restoreSam = true;          ///< load the SAM folder remembered in the settings
};

class MainWindow : public QMainWindow, private UserFeedback {
    Q_OBJECT

public:
    explicit MainWindow(const MainWindowOptions& options = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Opens an image file in the background; errors show in the window. Returns at once;
    /// imageLoaded() follows.
    void openImage(const QString& path);
    /// Two images side by side as one canvas (File > Open Image Pair…).
    void openImagePair(const QString& first, const QString& second);
    /// Opens a `.regionchat` session in the background; sessionLoaded() follows (false, with a
    /// message shown, when it is broken).
    void openSession(const QString& path);
    bool saveSession(const QString& path);
    /// Asks a question as if typed in the chat.
    void ask(const QString& question);
    /// Offers to restore the autosave of a session that did not close cleanly (opened in the
    /// background; sessionLoaded() follows).
    void offerRecovery();
    /// Writes the conversation as Markdown to `path` (.md) plus the annotated image beside it
    /// (.png); false with a message on failure.
    bool exportConversation(const QString& path);
    /// Writes the recovery file when there are unsaved changes (the timer does every 30 s).
    void autosave();
    /// Full screen, large fonts, thick high-contrast overlays (F11).
    void setPresentationMode(bool on);

    ImageDocument* document() { return &doc_; }
    CanvasView* canvas() { return canvas_; }
    ChatPanel* chat() { return chat_; }
    FocusPanel* focusPanel() { return focus_; }
    BenchmarkDock* benchmark() { return bench_; }
    /// Shows a benchmark case: its image, question, truth and prediction boxes.
    void showBenchCase(const BenchCaseView& view);
    InferenceController* inference() { return inference_; }
    ToolManager* tools() { return tools_; }
    QString lastError() const { return lastError_; }

    /// Runs a proposal generator ("classic", "sam") on the image, with a progress bar.
    void proposeRegions(const QString& generator);
    /// Loads a SAM folder on the worker (remembered in the settings once it has loaded);
    /// errors show in the window.
    void loadSam(const QString& dir);
    /// "Which region is this?" for `phrase` (Regions > Which Region Is This… asks for it):
    /// ranks the proposals by the model's caption loss; rankingFinished() follows.
    void whichRegion(const QString& phrase);
    /// Regions go to the model drawn on the image ("region N") instead of as box text.
    void setVisualPrompts(bool on);
    bool visualPrompts() const;
    QString recoveryPath() const;

signals:
    /// An image finished loading (or failed: ok = false).
    void imageLoaded(bool ok);
    /// A session finished loading (or failed: ok = false).
    void sessionLoaded(bool ok);
    /// An answer finished (including stopped and failed ones).
    void answerFinished();
    /// A proposal run finished (ok = false when it failed or was cancelled).
    void proposalsFinished(bool ok);
    /// A SAM load finished.
    void samFinished(bool ok);
    /// A "which region" ranking finished: proposals in rank order (empty when it failed).
    void rankingFinished(const QList<rcui::RankedProposal>& ranks);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void buildDocks();
    void buildControllers();
    void buildMenus();
    void buildFileMenu();
    void buildStatusBar();
    void connectModel();
    void openModel();
    /// Model > Connect to Server…: answers through an OpenAI-compatible server.
    void connectToServer();
    /// Regions > Which Region Is This…: asks for a phrase, ranks the proposals by it.
    void askWhichRegion();
    void refreshTitle();

    // UserFeedback
    void showError(const QString& title, const QString& message) override;
    void noteError(const QString& message) override { lastError_ = message; }
    void showStatus(const QString& message, int timeoutMs) override;
    void clearStatus() override;

    MainWindowOptions options_;
    ImageDocument doc_;
    CanvasView* canvas_ = nullptr;
    ChatPanel* chat_ = nullptr;
    RegionListWidget* regionList_ = nullptr;
    FocusPanel* focus_ = nullptr;
    BenchmarkDock* bench_ = nullptr;
    ToolManager* tools_ = nullptr;
    InferenceController* inference_ = nullptr;

    DocumentController* documents_ = nullptr;
    ConversationController* conversation_ = nullptr;
    ProposalController* proposals_ = nullptr;
    BenchmarkController* benchmarks_ = nullptr;

    QLabel* modelLabel_ = nullptr;
    QLabel* speedLabel_ = nullptr;
    QProgressBar* loadBar_ = nullptr;
    QAction* presentationAction_ = nullptr;
    QAction* visualPromptsAction_ = nullptr;
    QAction* cancelProposalsAction_ = nullptr;  // Esc, enabled while proposals run
    QList<QAction*> docActions_;                // undo, redo
    QString lastError_;
    quint32 pointSeed_ = 0;  // Model > Point Prompt Seed
};

}  // namespace rcui
