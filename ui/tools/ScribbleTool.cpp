#include "tools/ScribbleTool.h"

#include <QPainter>
#include <QPainterPath>
#include <QPixmap>
#include <QtMath>

#include "canvas/CanvasView.h"
#include "document/AddRegionCommand.h"
#include "document/ImageDocument.h"

namespace rcui {

namespace {

QIcon scribbleIcon() {
    QPixmap pixmap(32, 32);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    QPainterPath path(QPointF(5, 22));
    path.cubicTo(QPointF(9, 6), QPointF(15, 28), QPointF(19, 14));
    path.cubicTo(QPointF(22, 5), QPointF(26, 12), QPointF(27, 9));
    p.setPen(QPen(Qt::black, 5, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    p.drawPath(path);
    p.setPen(QPen(QColor(255, 64, 160), 3, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    p.drawPath(path);
    return QIcon::fromTheme(QStringLiteral("draw-freehand"), QIcon(pixmap));
}

QPainterPath pathOf(const QList<QPointF>& pts) {
    QPainterPath path;
    if (pts.isEmpty()) return path;
    path.moveTo(pts.first());
    for (int i = 1; i < pts.size(); ++i) path.lineTo(pts[i]);
    return path;
}

}  // namespace

ScribbleTool::ScribbleTool(ImageDocument* document, CanvasView* canvas, QObject* parent)
    : AbstractTool(QStringLiteral("Scribble"), scribbleIcon(), QKeySequence(Qt::Key_S), document,
                   canvas, parent) {
    setStatusText(tr("Scribble: drag over an object to mark it with a free-hand stroke. Models "
                     "that read points (RegionVLM) get points along the stroke; others its "
                     "bounding box."));
}

QPointF ScribbleTool::clamped(const QPointF& p) const {
    const QRectF r = canvas()->imageRect();
    return QPointF(qBound(r.left(), p.x(), r.right() - 1e-3), qBound(r.top(), p.y(), r.bottom() - 1e-3));
}

void ScribbleTool::mousePressed(const ToolMouseEvent& event) {
    if (event.button != Qt::LeftButton) return;
    if (!canvas()->imageRect().contains(event.imagePos)) return;
    document()->setSelectedRegion(0);
    drawing_ = true;
    stroke_ = {event.imagePos};
    canvas()->setDraftPath(pathOf(stroke_));
}

void ScribbleTool::mouseMoved(const ToolMouseEvent& event) {
    if (!drawing_ || stroke_.size() >= kMaxPoints) return;
    const QPointF p = clamped(event.imagePos);
    const double step = kMinStepPx * canvas()->imagePixelsPerScreenPixel();
    if (QLineF(stroke_.last(), p).length() < step) return;
    stroke_.append(p);
    canvas()->setDraftPath(pathOf(stroke_));
}

void ScribbleTool::mouseReleased(const ToolMouseEvent& event) {
    if (event.button != Qt::LeftButton || !drawing_) return;
    drawing_ = false;
    canvas()->clearDraftPath();
    const QPointF last = clamped(event.imagePos);
    if (stroke_.size() < kMaxPoints && QLineF(stroke_.last(), last).length() > 0) stroke_.append(last);
    if (stroke_.size() < 2) {
        emit statusMessage(tr("Drag to draw a scribble (a click alone marks nothing)."));
        stroke_.clear();
        return;
    }
    QRectF box;
    for (const QPointF& p : stroke_) box |= QRectF(p, QSizeF(1, 1));
    Region region;
    region.id = document()->nextRegionId();
    region.kind = Region::Kind::Scribble;
    region.positive = stroke_;
    region.box = box.intersected(canvas()->imageRect());
    region.colour = regionColour(region.id);
    document()->undoStack()->push(new AddRegionCommand(document(), region));
    document()->setSelectedRegion(region.id);
    stroke_.clear();
}

void ScribbleTool::deactivate() {
    drawing_ = false;
    stroke_.clear();
    canvas()->clearDraftPath();
    AbstractTool::deactivate();
}

}  // namespace rcui
