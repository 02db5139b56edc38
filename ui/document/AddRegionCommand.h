// Undoable: adds a region (undo removes it).
#pragma once

#include <QUndoCommand>

#include "document/Region.h"

namespace rcui {

class ImageDocument;

class AddRegionCommand : public QUndoCommand {
public:
    AddRegionCommand(ImageDocument* doc, const Region& region, QUndoCommand* parent = nullptr);
    void redo() override;
    void undo() override;

private:
    ImageDocument* doc_;
    Region region_;
};

}  // namespace rcui
