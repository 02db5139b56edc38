// Scribble tool (S): drag a free-hand stroke over the thing you mean. The stroke is kept in
// stroke order (RegionVLM was trained on mouse traces and reads points resampled along it);
// models without point input get the stroke's bounding box, drawn dashed around it.
#pragma once

#include <QList>
#include <QPointF>

#include "tools/AbstractTool.h"

namespace rcui {

class ScribbleTool : public AbstractTool {
    Q_OBJECT

public:
    ScribbleTool(ImageDocument* document, CanvasView* canvas, QObject* parent = nullptr);

    QCursor cursor() const override { return QCursor(Qt::CrossCursor); }
    void mousePressed(const ToolMouseEvent& event) override;
    void mouseMoved(const ToolMouseEvent& event) override;
    /// Ends the stroke: a region when it has 2 points or more (one undo step).
    void mouseReleased(const ToolMouseEvent& event) override;
    void deactivate() override;

    /// Points closer than this (screen pixels) to the last one are not recorded.
    static constexpr double kMinStepPx = 3.0;
    /// Strokes are cut at this many points (a long drag stays a small session file).
    static constexpr int kMaxPoints = 2000;

private:
    QPointF clamped(const QPointF& p) const;
    QList<QPointF> stroke_;
    bool drawing_ = false;
};

}  // namespace rcui
