#include "tools/PanTool.h"

#include <QPainter>
#include <QPixmap>
#include <QPolygonF>

#include "canvas/CanvasView.h"

namespace rcui {

namespace {
QIcon panIcon() {
    QPixmap pixmap(32, 32);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(QPen(QColor(90, 90, 90), 2.5, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    // A four-way arrow: the universal "move the view" sign.
    p.drawLine(QPointF(16, 4), QPointF(16, 28));
    p.drawLine(QPointF(4, 16), QPointF(28, 16));
    const QPolygonF heads[] = {{{11, 9}, {16, 4}, {21, 9}},
                               {{11, 23}, {16, 28}, {21, 23}},
                               {{9, 11}, {4, 16}, {9, 21}},
                               {{23, 11}, {28, 16}, {23, 21}}};
    for (const auto& head : heads) p.drawPolyline(head);
    return QIcon::fromTheme(QStringLiteral("transform-move"), QIcon(pixmap));
}
}  // namespace

PanTool::PanTool(ImageDocument* document, CanvasView* canvas, QObject* parent)
    : AbstractTool(QStringLiteral("Pan"), panIcon(), QKeySequence(Qt::Key_H), document, canvas,
                   parent) {
    setStatusText(
        tr("Pan: drag to move around the image. Any tool pans with the middle button "
           "or with space held down."));
}

void PanTool::deactivate() {
    dragging_ = false;
    AbstractTool::deactivate();
}

void PanTool::mousePressed(const ToolMouseEvent& event) {
    if (event.button != Qt::LeftButton) return;
    dragging_ = true;
    lastViewPos_ = event.viewPos;
    canvas()->setToolCursor(QCursor(Qt::ClosedHandCursor));
}

void PanTool::mouseMoved(const ToolMouseEvent& event) {
    if (!dragging_) return;
    canvas()->panBy(event.viewPos - lastViewPos_);
    lastViewPos_ = event.viewPos;
}

void PanTool::mouseReleased(const ToolMouseEvent& event) {
    if (event.button != Qt::LeftButton) return;
    dragging_ = false;
    canvas()->setToolCursor(cursor());
}

}  // namespace rcui
