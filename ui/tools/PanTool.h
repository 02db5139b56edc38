// Pan tool (H): drag with the left button to move around a zoomed-in image.
#pragma once

#include "tools/AbstractTool.h"

namespace rcui {

class PanTool : public AbstractTool {
    Q_OBJECT

public:
    PanTool(ImageDocument* document, CanvasView* canvas, QObject* parent = nullptr);

    QCursor cursor() const override { return QCursor(Qt::OpenHandCursor); }
    void deactivate() override;
    void mousePressed(const ToolMouseEvent& event) override;
    void mouseMoved(const ToolMouseEvent& event) override;
    void mouseReleased(const ToolMouseEvent& event) override;

private:
    bool dragging_ = false;
    QPoint lastViewPos_;  // viewport pixels: image positions move while the view scrolls
};

}  // namespace rcui
