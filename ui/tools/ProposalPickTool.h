// Proposal pick tool (K): shows the document's proposals (classic segmentation or SAM's
// "segment everything") as translucent masks; the one under the cursor is highlighted and a
// click makes it a region (its mask and bounding box), undoably.
#pragma once

#include "tools/AbstractTool.h"

namespace rcui {

class ProposalPickTool : public AbstractTool {
    Q_OBJECT

public:
    ProposalPickTool(ImageDocument* document, CanvasView* canvas, QObject* parent = nullptr);

    QCursor cursor() const override { return QCursor(Qt::PointingHandCursor); }
    /// Shows the proposals; asks for them (proposalsWanted) when the image has none yet.
    void activate() override;
    void deactivate() override;
    void mouseMoved(const ToolMouseEvent& event) override;
    /// Click: the highlighted proposal becomes a new region.
    void mousePressed(const ToolMouseEvent& event) override;

signals:
    /// The image has no proposals yet: the window runs a generator on the worker.
    void proposalsWanted();
};

}  // namespace rcui
