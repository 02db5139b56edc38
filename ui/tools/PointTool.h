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

private:
    void addPointRegion(const QPointF& pos);
    /// The selected region when it is a point region, else nullptr.
    const Region* selectedPointRegion() const;
};

}  // namespace rcui
