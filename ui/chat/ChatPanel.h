// The chat dock: the conversation of an ImageDocument (user questions with region chips,
// streamed answers with clickable grounding-box chips), a row of region chips that insert
// references, the question box, Send/Stop and the dual-focus switch. It only shows the
// document and emits what the user asked for; the main window talks to the model.
#pragma once

#include <QDockWidget>
#include <QPointer>
#include <QTimer>

class QCheckBox;
class QHBoxLayout;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QTextBrowser;
class QUrl;

namespace rcui {

class ImageDocument;

class ChatPanel : public QDockWidget {
    Q_OBJECT

public:
    explicit ChatPanel(ImageDocument* document, QWidget* parent = nullptr);

    /// Shows another document (nullptr: none).
    void setDocument(ImageDocument* document);
    ImageDocument* document() const { return doc_; }

    /// Whether questions go through the three-pass DualFocus pipeline.
    bool dualFocus() const;
    void setDualFocus(bool on);
    /// Larger fonts for talks and projectors.
    void setPresentationMode(bool on);
    bool presentationMode() const { return presentation_; }
    /// Puts the keyboard focus in the question box.
    void focusInput();
    QPlainTextEdit* input() const { return input_; }
    /// The message list (links: "box:G", "make:G", "region:N").
    QTextBrowser* messageView() const { return view_; }
    bool isBusy() const { return busy_; }

public slots:
    /// While busy, Stop is enabled.
    void setBusy(bool busy);
    /// Emits sendRequested with the question box's text (if any) and clears the box.
    void send();
    /// Re-renders the conversation now instead of at the next throttle tick.
    void renderNow();

signals:
    void sendRequested(const QString& question);
    void stopRequested();
    /// A grounding-box chip was clicked: index into document()->groundingBoxes().
    void boxClicked(int globalIndex);
    /// "make region" next to a box chip: index into document()->groundingBoxes().
    void makeRegionRequested(int globalIndex);
    void dualFocusToggled(bool on);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void scheduleRender();
    void rebuildRegionChips();
    void insertReference(int regionId);
    void onAnchorClicked(const QUrl& url);
    void onAnchorHovered(const QUrl& url);
    void applyFonts();

    QPointer<ImageDocument> doc_;
    QTextBrowser* view_ = nullptr;
    QWidget* chipRow_ = nullptr;
    QHBoxLayout* chipLayout_ = nullptr;
    QLabel* noRegions_ = nullptr;
    QPlainTextEdit* input_ = nullptr;
    QPushButton* send_ = nullptr;
    QPushButton* stop_ = nullptr;
    QCheckBox* dualFocus_ = nullptr;
    QTimer renderTimer_;  // throttles re-renders while tokens stream in
    bool busy_ = false;
    bool presentation_ = false;
    double basePointSize_ = 0;
    int hoveredBox_ = -1;
};

}  // namespace rcui
