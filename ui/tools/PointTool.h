// Point tool (P): click to mark a point region. Models without point input get the small box
// around the points (pointBox), which the canvas shows dashed around the dots.
#pragma once

#include "tools/AbstractTool.h"

namespace rcui {

struct Region;

class PointTool : public AbstractTool {
    Q_OBJECT

public:
    PointTool(ImageDocument* document, CanvasView* canvas, QObject* parent = nullptr);

    QCursor cursor() const override { return QCursor(Qt::PointingHandCursor); }
    /// Click: a new point region. Shift-click: a negative point on the selected point region.
    /// Ctrl-click: another positive point on it (a new region when none is selected).
    void mousePressed(const ToolMouseEvent& event) override;
    /// With SAM: asks for the mask under the cursor (hoverMaskWanted).
    void mouseMoved(const ToolMouseEvent& event) override;
    void deactivate() override;

    /// With SAM loaded the tool previews the mask under the cursor and point regions get
    /// SAM's mask for their points (the window answers the two signals).
    void setSamEnabled(bool on);
    bool isSamEnabled() const { return sam_; }

signals:
    /// SAM: the mask for one positive point at `pos`, for the preview (latest wins).
    void hoverMaskWanted(const QPointF& pos);
    /// The cursor left the image: a preview still being computed is not wanted.
    void hoverLeft();
    /// SAM: the mask for region `regionId`'s points, to become the region's mask.
    void regionMaskWanted(int regionId);

private:
    void addPointRegion(const QPointF& pos);
    /// The selected region when it is a point region, else nullptr.
    const Region* selectedPointRegion() const;

    bool sam_ = false;
};

}  // namespace rcui
