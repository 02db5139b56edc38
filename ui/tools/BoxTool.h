// Box tool (B): drag on the image to mark a box region; drag a region to move it, a handle of
// the selected region to resize it. Each drag is one undo step.
#pragma once

#include "canvas/RegionItem.h"
#include "document/Region.h"
#include "tools/AbstractTool.h"

namespace rcui {

class BoxTool : public AbstractTool {
    Q_OBJECT

public:
    BoxTool(ImageDocument* document, CanvasView* canvas, QObject* parent = nullptr);

    /// Boxes smaller than this (image pixels, either side) are treated as a stray click.
    static constexpr double kMinBoxSide = 3.0;

    QCursor cursor() const override { return QCursor(Qt::CrossCursor); }
    void deactivate() override;
    void mousePressed(const ToolMouseEvent& event) override;
    void mouseMoved(const ToolMouseEvent& event) override;
    void mouseReleased(const ToolMouseEvent& event) override;

private:
    enum class Gesture { None, Creating, Moving, Resizing };

    /// The topmost region under `pos` (later regions are drawn on top), or 0.
    int regionAt(const QPointF& pos) const;
    /// How close (image pixels) the mouse must be to a handle to grab it.
    double handleTolerance() const;
    void updateHoverCursor(const QPointF& pos);
    void pushChange(const Region& after);
    QRectF clippedDraft(const QPointF& from, const QPointF& to) const;

    Gesture gesture_ = Gesture::None;
    QPointF pressPos_;
    Region original_;  // the region as it was when the drag began
    RegionItem::Handle handle_ = RegionItem::NoHandle;
    int dragId_ = 0;
};

}  // namespace rcui
