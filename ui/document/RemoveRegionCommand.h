// Undoable: deletes a region (undo puts it back where it was).
#pragma once

#include <QUndoCommand>

#include "document/Region.h"

namespace rcui {

class ImageDocument;

class RemoveRegionCommand : public QUndoCommand {
public:
    RemoveRegionCommand(ImageDocument* doc, int regionId, QUndoCommand* parent = nullptr);
    void redo() override;
    void undo() override;

private:
    ImageDocument* doc_;
    Region region_;
    int index_ = -1;
};

}  // namespace rcui
