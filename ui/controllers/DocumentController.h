// The document's files: opening an image or a session (read and decoded on a pool thread, the
// newest open wins, the status bar says what is loading), saving sessions, the autosave and the
// crash-recovery file, recent files and dropped files.
#pragma once

#include <QList>
#include <QObject>
#include <QString>
#include <QTimer>
#include <QUrl>

#include "document/SessionFile.h"

class QMenu;
class QWidget;

namespace rcui {

class CanvasView;
class ChatPanel;
class ImageDocument;
class UserFeedback;

class DocumentController : public QObject {
    Q_OBJECT

public:
    /// `window` is the parent of the dialogs; `recoveryPath` "" = the per-user default;
    /// `mayAsk` false: no questions (restore without asking, never offer to save).
    DocumentController(ImageDocument* doc, CanvasView* canvas, ChatPanel* chat,
                       UserFeedback* feedback, QWidget* window, const QString& recoveryPath,
                       bool mayAsk);

    /// Opens an image file in the background; imageLoaded() tells how it went.
    void openImage(const QString& path);
    /// Opens two images side by side as one canvas (an image pair: regions drawn or picked on
    /// either go to a model that reads regions across images, CoLVA, on their own image);
    /// imageLoaded() tells how it went.
    void openImagePair(const QString& first, const QString& second);
    /// File > Open Image Pair…: asks for both files.
    void chooseImagePair();
    /// Opens a `.regionchat` session in the background; sessionLoaded() tells how it went
    /// (a broken one shows a message and changes nothing).
    void openSession(const QString& path);
    /// Drops the open in progress, if any (something else was opened meanwhile).
    void cancelOpen();
    bool saveSession(const QString& path);
    /// File > Save Session: the session's own file, or asks for one.
    void save();
    /// File > Save Session As…, Open Image…, Open Session…: ask for the path.
    void saveAs();
    void chooseImage();
    void chooseSession();
    /// Writes the recovery file when there are unsaved changes (the timer does every 30 s).
    void autosave();
    /// Offers to restore the autosave of a session that did not close cleanly.
    void offerRecovery();
    /// Offers to save unsaved changes; false when the user cancels.
    bool maybeSave();
    /// The window is closing: false keeps it open; a clean close removes the recovery file.
    bool closeWindow();
    /// Opens the first dropped file (a session or an image).
    void openDropped(const QList<QUrl>& urls);
    /// The menu listing recent files (kept up to date here).
    void setRecentMenu(QMenu* menu);
    /// The model folder written into sessions ("" = embedded).
    void setModelDir(const QString& dir) { modelDir_ = dir; }
    QString recoveryPath() const { return recoveryPath_; }

signals:
    /// An open started (the newest one wins).
    void opening();
    /// The image is about to be replaced by an opened one.
    void replacingImage();
    /// An image finished loading (or failed: ok = false).
    void imageLoaded(bool ok);
    /// A session finished loading (or failed: ok = false).
    void sessionLoaded(bool ok);

private:
    void startSessionOpen(const QString& path, bool recovering);
    void setImage(const QImage& image, const QString& path, const QString& hash);
    void addRecent(const QString& path);
    void refreshRecentMenu();
    SessionSettings settings() const;

    ImageDocument* doc_;
    CanvasView* canvas_;
    ChatPanel* chat_;
    UserFeedback* feedback_;
    QWidget* window_;
    bool mayAsk_;
    QMenu* recentMenu_ = nullptr;
    QString sessionPath_;
    QString recoveryPath_;
    QString modelDir_;
    int loading_ = 0;  // generation counter for background opens
    QTimer autosaveTimer_;
};

}  // namespace rcui
