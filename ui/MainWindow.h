// The RegionChat window: canvas in the centre, chat / regions / focus docks, menus, status
// bar; owns the document and the inference controller and wires them together.
#pragma once

#include <QMainWindow>
#include <QPointer>
#include <QTimer>

#include "document/ImageDocument.h"
#include "document/SessionFile.h"
#include "inference/InferenceTypes.h"

class QAction;
class QLabel;
class QMenu;
class QProgressBar;

namespace rcui {

class BenchmarkDock;
struct BenchCaseView;
class CanvasView;
class ChatPanel;
class FocusPanel;
class InferenceController;
class RegionListWidget;
class ToolManager;

struct MainWindowOptions {
    QString modelDir;  ///< "" = the embedded model
    QString device = QStringLiteral("auto");
    QString recoveryPath;            ///< autosave file; "" = the per-user default
    bool askBeforeRestoring = true;  ///< false: restore a recovery file without asking (tests)
    bool restoreSam = true;          ///< load the SAM folder remembered in the settings
};

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(const MainWindowOptions& options = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Opens an image file in the background; errors show in the window. Returns at once.
    void openImage(const QString& path);
    /// Opens a `.regionchat` session; false (with a message shown) when it is broken.
    bool openSession(const QString& path);
    bool saveSession(const QString& path);
    /// Asks a question as if typed in the chat.
    void ask(const QString& question);
    /// Offers to restore the autosave of a session that did not close cleanly.
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
    /// Regions go to the model drawn on the image ("region N") instead of as box text.
    void setVisualPrompts(bool on);
    bool visualPrompts() const { return visualPrompts_; }
    QString recoveryPath() const { return recoveryPath_; }

signals:
    /// An image finished loading (or failed: ok = false).
    void imageLoaded(bool ok);
    /// An answer finished (including stopped and failed ones).
    void answerFinished();
    /// A proposal run finished (ok = false when it failed or was cancelled).
    void proposalsFinished(bool ok);
    /// A SAM load finished.
    void samFinished(bool ok);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void buildActions();
    void buildMenus();
    void buildDocks();
    void buildStatusBar();
    void connectInference();
    void connectProposals();
    void showError(const QString& title, const QString& message);
    void setImage(const QImage& image, const QString& path, const QString& hash);
    void addRecent(const QString& path);
    void refreshRecentMenu();
    void refreshTitle();
    void exportConversationAs();
    void copyAnnotatedImage();
    void makeRegionFromBox(int index);
    void zoomToBox(int index);
    SessionSettings settings() const;
    bool maybeSave();

    MainWindowOptions options_;
    ImageDocument doc_;
    CanvasView* canvas_ = nullptr;
    ChatPanel* chat_ = nullptr;
    RegionListWidget* regionList_ = nullptr;
    FocusPanel* focus_ = nullptr;
    BenchmarkDock* bench_ = nullptr;
    ToolManager* tools_ = nullptr;
    InferenceController* inference_ = nullptr;

    QLabel* modelLabel_ = nullptr;
    QLabel* speedLabel_ = nullptr;
    QProgressBar* loadBar_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QAction* presentationAction_ = nullptr;
    QAction* visualPromptsAction_ = nullptr;
    QProgressBar* proposalBar_ = nullptr;       // proposals and SAM loading
    QLabel* samLabel_ = nullptr;                // "SAM" while one is loaded (tooltip: which)
    QAction* cancelProposalsAction_ = nullptr;  // Esc, enabled while proposals run
    bool visualPrompts_ = false;
    QList<QAction*> docActions_;

    QString sessionPath_;
    QString recoveryPath_;
    QString lastError_;
    QString pendingQuestion_;
    int streamingEntry_ = -1;    // index of the assistant entry receiving tokens
    qint64 imageKey_ = 0;        // bumps with every new image (the worker resets its session)
    qint64 visualImageKey_ = 0;  // images with visual prompts drawn get keys -1, -2, …
    QString visualSignature_;    // what the current visual-prompt key was drawn from
    QString samFolder_;          // the SAM folder loading or loaded
    bool preferSam_ = false;     // the last proposal run used SAM (the Pick tool follows it)
    bool conversationStarted_ = false;
    int loadingImage_ = 0;  // generation counter for background image loads
    QTimer autosaveTimer_;
};

}  // namespace rcui
