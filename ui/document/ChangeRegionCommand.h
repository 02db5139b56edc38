// Undoable: moves or resizes a region. Consecutive changes of the same region during one
// drag merge into one undo step.
#pragma once

#include <QUndoCommand>

#include "document/Region.h"

namespace rcui {

class ImageDocument;

class ChangeRegionCommand : public QUndoCommand {
public:
    /// `dragId` groups the steps of one mouse drag (0: never merge).
    ChangeRegionCommand(ImageDocument* doc, const Region& before, const Region& after,
                        int dragId = 0, QUndoCommand* parent = nullptr);
    void redo() override;
    void undo() override;
    int id() const override { return 0x5247; }
    bool mergeWith(const QUndoCommand* other) override;

private:
    ImageDocument* doc_;
    Region before_, after_;
    int dragId_;
};

}  // namespace rcui
