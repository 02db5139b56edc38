#include "controllers/DocumentController.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMessageBox>
#include <QSettings>
#include <QStandardPaths>

#include "Background.h"
#include "canvas/CanvasView.h"
#include "chat/ChatPanel.h"
#include "controllers/UserFeedback.h"
#include "document/FileLoading.h"
#include "document/ImageDocument.h"

namespace rcui {

namespace {

QString defaultRecoveryPath() {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    QDir().mkpath(dir);
    return dir + "/recovery.regionchat";
}

QString sessionFilter() {
    return QObject::tr("RegionChat sessions (*.regionchat)");
}

}  // namespace

DocumentController::DocumentController(ImageDocument* doc, CanvasView* canvas, ChatPanel* chat,
                                       UserFeedback* feedback, QWidget* window,
                                       const QString& recoveryPath, bool mayAsk)
    : QObject(window),
      doc_(doc),
      canvas_(canvas),
      chat_(chat),
      feedback_(feedback),
      window_(window),
      mayAsk_(mayAsk),
      recoveryPath_(recoveryPath.isEmpty() ? defaultRecoveryPath() : recoveryPath) {
    autosaveTimer_.setParent(this);
    autosaveTimer_.setObjectName(QStringLiteral("autosaveTimer"));
    autosaveTimer_.setInterval(30000);
    connect(&autosaveTimer_, &QTimer::timeout, this, &DocumentController::autosave);
    autosaveTimer_.start();
}

void DocumentController::openImage(const QString& path) {
    const int generation = ++loading_;
    emit opening();
    feedback_->showStatus(tr("Opening %1…").arg(QFileInfo(path).fileName()));
    runInBackground(
        this, [path] { return loadImageFile(path); },
        [this, path, generation](const LoadedImage& r) {
            if (generation != loading_) return;  // a newer open won
            feedback_->clearStatus();
            if (!r.error.isEmpty()) {
                feedback_->showError(tr("Cannot open the image"), r.error);
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
}

void DocumentController::openImagePair(const QString& first, const QString& second) {
    const int generation = ++loading_;
    emit opening();
    feedback_->showStatus(
        tr("Opening %1 and %2…").arg(QFileInfo(first).fileName(), QFileInfo(second).fileName()));
    runInBackground(
        this, [first, second] { return loadImagePair(first, second); },
        [this, first, second, generation](const LoadedPair& r) {
            if (generation != loading_) return;  // a newer open won
            feedback_->clearStatus();
            if (!r.image.error.isEmpty()) {
                feedback_->showError(tr("Cannot open the image pair"), r.image.error);
                emit imageLoaded(false);
                return;
            }
            if (!maybeSave()) {
                emit imageLoaded(false);
                return;
            }
            setImage(r.image.image, first, r.image.hash);
            doc_->setPair({second, r.secondHash, r.first, r.second, r.split});
            sessionPath_.clear();
            feedback_->showStatus(tr("Image pair: %1 | %2. Regions go to the image they are on.")
                                      .arg(QFileInfo(first).fileName(), QFileInfo(second).fileName()),
                                  6000);
            emit imageLoaded(true);
        });
}

void DocumentController::chooseImagePair() {
    const QString filter =
        tr("Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)");
    const QString first =
        QFileDialog::getOpenFileName(window_, tr("Open Image Pair: First Image"), QString(), filter);
    if (first.isEmpty()) return;
    const QString second = QFileDialog::getOpenFileName(
        window_, tr("Open Image Pair: Second Image"), QFileInfo(first).absolutePath(), filter);
    if (!second.isEmpty()) openImagePair(first, second);
}

void DocumentController::openSession(const QString& path) {
    startSessionOpen(path, false);
}

void DocumentController::startSessionOpen(const QString& path, bool recovering) {
    const int generation = ++loading_;
    emit opening();
    feedback_->showStatus(tr("Opening %1…").arg(QFileInfo(path).fileName()));
    runInBackground(
        this, [path] { return loadSessionFile(path); },
        [this, path, generation, recovering](const LoadedSession& s) {
            if (generation != loading_) return;  // a newer open won
            feedback_->clearStatus();
            if (!s.error.isEmpty()) {
                feedback_->showError(tr("Cannot open the session"), s.error);
                emit sessionLoaded(false);
                return;
            }
            const SessionData& d = s.data;
            // The image is not the one the session was saved with (its SHA-256 differs): the
            // regions and answers may not fit it. Asked before anything is replaced.
            QStringList changed;
            if (!d.imageHash.isEmpty() && d.imageHash != s.image.hash)
                changed << QFileInfo(d.imagePath).fileName();
            if (s.pair.split > 0 && !d.pairHash.isEmpty() && d.pairHash != s.pair.secondHash)
                changed << QFileInfo(d.pairPath).fileName();
            if (!changed.isEmpty() && mayAsk_ &&
                QMessageBox::warning(
                    window_, tr("The image has changed"),
                    tr("%1 changed since the session was saved (its contents differ). The "
                       "regions and answers may not match it any more. Open the session anyway?")
                        .arg(changed.join(tr(" and "))),
                    QMessageBox::Open | QMessageBox::Cancel, QMessageBox::Cancel) !=
                    QMessageBox::Open) {
                emit sessionLoaded(false);
                return;
            }
            if (!maybeSave()) {
                emit sessionLoaded(false);
                return;
            }
            setImage(s.image.image, d.imagePath, s.image.hash);
            if (s.pair.split > 0)
                doc_->setPair({d.pairPath, s.pair.secondHash, s.pair.first, s.pair.second, s.pair.split});
            if (!changed.isEmpty())
                feedback_->showStatus(tr("Note: %1 changed since the session was saved; the "
                                         "regions may not match it.")
                                          .arg(changed.join(tr(" and "))),
                                      15000);
            for (int i = 0; i < d.regions.size(); ++i) doc_->insertRegion(i, d.regions[i]);
            for (const auto& e : d.chat) doc_->appendEntry(e);
            chat_->setDualFocus(d.settings.dualFocus);
            // The restored conversation is shown; the model starts a new one from the next
            // question. Restored work is not saved anywhere yet.
            doc_->setModified(recovering);
            sessionPath_ = recovering ? QString() : path;
            emit sessionLoaded(true);
        });
}

void DocumentController::cancelOpen() {
    ++loading_;
}

void DocumentController::setImage(const QImage& image, const QString& path, const QString& hash) {
    emit replacingImage();
    doc_->setImage(image, path);
    doc_->setImageHash(hash);
    canvas_->fitToWindow();
}

bool DocumentController::saveSession(const QString& path) {
    QString error;
    if (!writeSessionFile(path, sessionFromDocument(*doc_, settings()), &error)) {
        feedback_->showError(tr("Cannot save the session"), tr("%1: %2").arg(path, error));
        return false;
    }
    sessionPath_ = path;
    doc_->undoStack()->setClean();
    doc_->setModified(false);
    QFile::remove(recoveryPath_);
    feedback_->showStatus(tr("Saved %1").arg(QFileInfo(path).fileName()), 4000);
    return true;
}

void DocumentController::save() {
    QString path = sessionPath_;
    if (path.isEmpty())
        path =
            QFileDialog::getSaveFileName(window_, tr("Save Session"), QString(), sessionFilter());
    if (!path.isEmpty()) saveSession(path);
}

void DocumentController::saveAs() {
    const QString path =
        QFileDialog::getSaveFileName(window_, tr("Save Session"), QString(), sessionFilter());
    if (!path.isEmpty()) saveSession(path);
}

void DocumentController::chooseImage() {
    const QString path = QFileDialog::getOpenFileName(
        window_, tr("Open Image"), QString(),
        tr("Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"));
    if (!path.isEmpty()) openImage(path);
}

void DocumentController::chooseSession() {
    const QString path =
        QFileDialog::getOpenFileName(window_, tr("Open Session"), QString(), sessionFilter());
    if (!path.isEmpty()) openSession(path);
}

SessionSettings DocumentController::settings() const {
    SessionSettings s;
    s.modelDir = modelDir_;
    s.dualFocus = chat_->dualFocus();
    return s;
}

void DocumentController::autosave() {
    if (!doc_->hasImage() || !doc_->isModified()) return;
    QString error;
    if (!writeSessionFile(recoveryPath_, sessionFromDocument(*doc_, settings()), &error))
        feedback_->showStatus(tr("Autosave failed: %1").arg(error), 5000);
}

void DocumentController::offerRecovery() {
    if (!QFile::exists(recoveryPath_)) return;
    const QDateTime when = QFileInfo(recoveryPath_).lastModified();
    if (mayAsk_ &&
        QMessageBox::question(
            window_, tr("Restore the last session?"),
            tr("RegionChat did not close cleanly. Restore the session autosaved at %1?")
                .arg(QLocale().toString(when, QLocale::ShortFormat))) != QMessageBox::Yes) {
        QFile::remove(recoveryPath_);
        return;
    }
    startSessionOpen(recoveryPath_, true);
}

bool DocumentController::maybeSave() {
    if (!doc_->isModified() || !doc_->hasImage() || !window_->isVisible() || !mayAsk_) return true;
    const auto answer =
        QMessageBox::question(window_, tr("Save the session?"),
                              tr("The conversation about %1 has unsaved changes.")
                                  .arg(QFileInfo(doc_->imagePath()).fileName()),
                              QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
    if (answer == QMessageBox::Cancel) return false;
    if (answer == QMessageBox::Save) {
        QString path = sessionPath_;
        if (path.isEmpty())
            path = QFileDialog::getSaveFileName(window_, tr("Save Session"), QString(),
                                                sessionFilter());
        return !path.isEmpty() && saveSession(path);
    }
    return true;
}

bool DocumentController::closeWindow() {
    if (!maybeSave()) return false;
    ++loading_;                    // an open still running is not applied to a closed window
    QFile::remove(recoveryPath_);  // a clean close leaves nothing to recover
    return true;
}

void DocumentController::openDropped(const QList<QUrl>& urls) {
    if (urls.isEmpty() || !urls.first().isLocalFile()) return;
    const QString path = urls.first().toLocalFile();
    if (path.endsWith(".regionchat"))
        openSession(path);
    else
        openImage(path);
}

void DocumentController::setRecentMenu(QMenu* menu) {
    recentMenu_ = menu;
    refreshRecentMenu();
}

void DocumentController::addRecent(const QString& path) {
    QSettings s;
    QStringList recent = s.value("recentFiles").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 10) recent.removeLast();
    s.setValue("recentFiles", recent);
    refreshRecentMenu();
}

void DocumentController::refreshRecentMenu() {
    if (!recentMenu_) return;
    recentMenu_->clear();
    for (const QString& p : QSettings().value("recentFiles").toStringList())
        recentMenu_->addAction(QFileInfo(p).fileName(), this, [this, p] { openImage(p); })
            ->setToolTip(p);
    recentMenu_->setEnabled(!recentMenu_->isEmpty());
}

}  // namespace rcui
