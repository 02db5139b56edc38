#include "tools/AbstractTool.h"

#include <QKeyEvent>

#include "canvas/CanvasView.h"
#include "document/ImageDocument.h"
#include "document/RemoveRegionCommand.h"

namespace rcui {

AbstractTool::AbstractTool(const QString& name, const QIcon& icon, const QKeySequence& shortcut,
                           ImageDocument* document, CanvasView* canvas, QObject* parent)
    : QObject(parent),
      name_(name),
      icon_(icon),
      shortcut_(shortcut),
      document_(document),
      canvas_(canvas) {}

void AbstractTool::activate() {
    if (canvas_) canvas_->setToolCursor(cursor());
}

void AbstractTool::deactivate() {
    if (canvas_) canvas_->clearDraftBox();
}

bool AbstractTool::keyPressed(QKeyEvent* event) {
    const int selected = document_->selectedRegion();
    if ((event->key() == Qt::Key_Delete || event->key() == Qt::Key_Backspace) && selected != 0) {
        document_->undoStack()->push(new RemoveRegionCommand(document_, selected));
        return true;
    }
    if (event->key() == Qt::Key_Escape && selected != 0) {
        document_->setSelectedRegion(0);
        return true;
    }
    return false;
}

int AbstractTool::newDragId() {
    static int lastDragId = 0;
    return ++lastDragId;
}

}  // namespace rcui
