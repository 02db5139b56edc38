// The small base every canvas tool derives from (one tool per file, registered with
// ToolManager). Tools read the document and change it only by pushing QUndoCommands.
#pragma once

#include <QCursor>
#include <QIcon>
#include <QKeySequence>
#include <QObject>
#include <QPoint>
#include <QPointF>
#include <QString>

class QKeyEvent;

namespace rcui {

class CanvasView;
class ImageDocument;

/// A mouse event as tools see it: image pixels plus the viewport position for panning.
struct ToolMouseEvent {
    QPointF imagePos;                         ///< scene position = image pixels
    QPoint viewPos;                           ///< viewport pixels (stable while the view scrolls)
    Qt::MouseButton button = Qt::NoButton;    ///< the button pressed or released; none on moves
    Qt::MouseButtons buttons = Qt::NoButton;  ///< buttons held during the event
    Qt::KeyboardModifiers modifiers = Qt::NoModifier;
};

class AbstractTool : public QObject {
    Q_OBJECT

public:
    AbstractTool(const QString& name, const QIcon& icon, const QKeySequence& shortcut,
                 ImageDocument* document, CanvasView* canvas, QObject* parent = nullptr);

    /// The name shown on the tool's action, also its key in ToolManager ("Box", "Point").
    QString name() const { return name_; }
    QIcon icon() const { return icon_; }
    QKeySequence shortcut() const { return shortcut_; }
    /// What the tool does, shown in the status bar while it is active.
    QString statusText() const { return statusText_; }
    /// The cursor over the image while this tool is active and idle.
    virtual QCursor cursor() const { return QCursor(Qt::ArrowCursor); }

    ImageDocument* document() const { return document_; }
    CanvasView* canvas() const { return canvas_; }

    /// Called when the tool becomes the active one.
    virtual void activate();
    /// Called when another tool takes over; abandon any half-done gesture.
    virtual void deactivate();

    virtual void mousePressed(const ToolMouseEvent& event) {}
    virtual void mouseMoved(const ToolMouseEvent& event) {}
    virtual void mouseReleased(const ToolMouseEvent& event) {}
    /// Returns true when the tool used the key. The base deletes the selected region on
    /// Delete/Backspace and clears the selection on Escape.
    virtual bool keyPressed(QKeyEvent* event);

signals:
    /// A short message for the status bar (for example why a click did nothing).
    void statusMessage(const QString& message);

protected:
    void setStatusText(const QString& text) { statusText_ = text; }
    /// A fresh id for ChangeRegionCommand, so all steps of one drag merge into one undo step.
    static int newDragId();

private:
    QString name_;
    QIcon icon_;
    QKeySequence shortcut_;
    QString statusText_;
    ImageDocument* document_;
    CanvasView* canvas_;
};

}  // namespace rcui
