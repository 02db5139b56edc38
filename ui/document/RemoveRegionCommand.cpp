#include "document/RemoveRegionCommand.h"

#include <QCoreApplication>

#include "document/ImageDocument.h"

namespace rcui {

RemoveRegionCommand::RemoveRegionCommand(ImageDocument* doc, int regionId, QUndoCommand* parent)
    : QUndoCommand(parent), doc_(doc) {
    index_ = doc->indexOf(regionId);
    if (index_ >= 0) region_ = doc->regions()[index_];
    setText(QCoreApplication::translate("RegionChat", "Delete region %1").arg(regionId));
}

void RemoveRegionCommand::redo() {
    if (index_ >= 0) doc_->removeRegion(region_.id);
}

void RemoveRegionCommand::undo() {
    if (index_ >= 0) doc_->insertRegion(index_, region_);
}

}  // namespace rcui
