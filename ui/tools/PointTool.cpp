#include "tools/PointTool.h"

#include <QPainter>
#include <QPixmap>

#include "canvas/CanvasView.h"
#include "document/AddRegionCommand.h"
#include "document/ChangeRegionCommand.h"
#include "document/ImageDocument.h"

namespace rcui {

namespace {

QIcon pointIcon() {
    QPixmap pixmap(32, 32);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(QPen(QColor(255, 64, 160), 2, Qt::DashLine));
    p.drawRect(QRectF(7, 7, 18, 18));
    p.setPen(QPen(Qt::black, 1.5));
    p.setBrush(QColor(255, 64, 160));
    p.drawEllipse(QPointF(16, 16), 5, 5);
    return QIcon::fromTheme(QStringLiteral("draw-dot"), QIcon(pixmap));
}

// Positive points define the box; negative ones only tell a mask-aware model what to leave out.
QRectF boxAroundPoints(const QList<QPointF>& points, const QSizeF& imageSize) {
    QRectF box;
    for (const auto& p : points) box |= pointBox(p, imageSize);
    return box;
}

}  // namespace

PointTool::PointTool(ImageDocument* document, CanvasView* canvas, QObject* parent)
    : AbstractTool(QStringLiteral("Point"), pointIcon(), QKeySequence(Qt::Key_P), document, canvas,
                   parent) {
    setStatusText(
        tr("Point: click to mark a point; shift-click adds a negative point, ctrl-click "
           "another positive one. The model receives a point as the small box around "
           "it."));
}

const Region* PointTool::selectedPointRegion() const {
    const Region* r = document()->region(document()->selectedRegion());
    return r && r->kind == Region::Kind::Point ? r : nullptr;
}

void PointTool::mousePressed(const ToolMouseEvent& event) {
    if (event.button != Qt::LeftButton) return;
    const QPointF pos = event.imagePos;
    if (!canvas()->imageRect().contains(pos)) return;

    const bool negative = event.modifiers & Qt::ShiftModifier;
    const bool extra = event.modifiers & Qt::ControlModifier;
    if (!negative && !extra) {
        addPointRegion(pos);
        return;
    }
    const Region* selected = selectedPointRegion();
    if (!selected) {
        if (negative) {
            emit statusMessage(
                tr("Select a point region first: shift-click adds a negative "
                   "point to the selected point region."));
            return;
        }
        addPointRegion(pos);
        return;
    }
    Region after = *selected;
    after.mask = QImage();  // SAM's mask was for the old points; a new one is asked for below
    if (negative) {
        after.negative.append(pos);
    } else {
        after.positive.append(pos);
        after.box = boxAroundPoints(after.positive, document()->image().size());
    }
    document()->undoStack()->push(new ChangeRegionCommand(document(), *selected, after));
    if (sam_) emit regionMaskWanted(after.id);
}

void PointTool::mouseMoved(const ToolMouseEvent& event) {
    if (!sam_ || event.buttons != Qt::NoButton) return;
    if (canvas()->imageRect().contains(event.imagePos)) {
        emit hoverMaskWanted(event.imagePos);
    } else {
        canvas()->setPreviewMask(QImage(), QColor());
        emit hoverLeft();
    }
}

void PointTool::deactivate() {
    canvas()->setPreviewMask(QImage(), QColor());
    AbstractTool::deactivate();
}

void PointTool::setSamEnabled(bool on) {
    sam_ = on;
    setStatusText(on ? tr("Point (SAM): the mask under the cursor is previewed; click to make it "
                          "a region, shift-click to add a negative point, ctrl-click another "
                          "positive one.")
                     : tr("Point: click to mark a point; shift-click adds a negative point, "
                          "ctrl-click another positive one. The model receives a point as the "
                          "small box around it."));
    if (!on && canvas()) canvas()->setPreviewMask(QImage(), QColor());
}

void PointTool::addPointRegion(const QPointF& pos) {
    Region region;
    region.id = document()->nextRegionId();
    region.kind = Region::Kind::Point;
    region.positive = {pos};
    region.box = pointBox(pos, document()->image().size());
    region.colour = regionColour(region.id);
    document()->undoStack()->push(new AddRegionCommand(document(), region));
    document()->setSelectedRegion(region.id);
    if (sam_) emit regionMaskWanted(region.id);
}

}  // namespace rcui
