#include "document/AddRegionCommand.h"

#include <QCoreApplication>

#include "document/ImageDocument.h"

namespace rcui {

AddRegionCommand::AddRegionCommand(ImageDocument* doc, const Region& region, QUndoCommand* parent)
    : QUndoCommand(parent), doc_(doc), region_(region) {
    setText(QCoreApplication::translate("RegionChat", "Add region %1").arg(region.id));
}

void AddRegionCommand::redo() {
    doc_->insertRegion(doc_->regions().size(), region_);
}
void AddRegionCommand::undo() {
    doc_->removeRegion(region_.id);
}

}  // namespace rcui
