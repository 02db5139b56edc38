#include "document/ChangeRegionCommand.h"

#include <QCoreApplication>

#include "document/ImageDocument.h"

namespace rcui {

ChangeRegionCommand::ChangeRegionCommand(ImageDocument* doc, const Region& before,
                                         const Region& after, int dragId, QUndoCommand* parent)
    : QUndoCommand(parent), doc_(doc), before_(before), after_(after), dragId_(dragId) {
    setText(QCoreApplication::translate("RegionChat", "Change region %1").arg(after.id));
}

void ChangeRegionCommand::redo() {
    doc_->replaceRegion(after_);
}
void ChangeRegionCommand::undo() {
    doc_->replaceRegion(before_);
}

bool ChangeRegionCommand::mergeWith(const QUndoCommand* other) {
    auto* o = static_cast<const ChangeRegionCommand*>(other);
    if (dragId_ == 0 || o->dragId_ != dragId_ || o->after_.id != after_.id) return false;
    after_ = o->after_;
    return true;
}

}  // namespace rcui
