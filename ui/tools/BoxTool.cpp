#include "tools/BoxTool.h"

#include <QPainter>
#include <QPixmap>
#include <algorithm>
#include <cmath>

#include "canvas/CanvasView.h"
#include "document/AddRegionCommand.h"
#include "document/ChangeRegionCommand.h"
#include "document/ImageDocument.h"

namespace rcui {

namespace {

// Region boxes snap to whole pixels: that is what the model's coordinates can express.
QRectF snapped(const QRectF& r) {
    return QRectF(QPointF(std::round(r.left()), std::round(r.top())),
                  QPointF(std::round(r.right()), std::round(r.bottom())));
}

QIcon boxIcon() {
    QPixmap pixmap(32, 32);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(QPen(QColor(0, 170, 230), 3));
    p.drawRect(QRectF(6, 8, 20, 16));
    p.fillRect(QRectF(4.5, 6.5, 6, 6), QColor(0, 170, 230));
    return QIcon::fromTheme(QStringLiteral("draw-rectangle"), QIcon(pixmap));
}

Qt::CursorShape resizeCursor(RegionItem::Handle handle) {
    switch (handle) {
        case RegionItem::TopLeft:
        case RegionItem::BottomRight:
            return Qt::SizeFDiagCursor;
        case RegionItem::TopRight:
        case RegionItem::BottomLeft:
            return Qt::SizeBDiagCursor;
        case RegionItem::Top:
        case RegionItem::Bottom:
            return Qt::SizeVerCursor;
        case RegionItem::Left:
        case RegionItem::Right:
            return Qt::SizeHorCursor;
        case RegionItem::NoHandle:
            break;
    }
    return Qt::CrossCursor;
}

}  // namespace

BoxTool::BoxTool(ImageDocument* document, CanvasView* canvas, QObject* parent)
    : AbstractTool(QStringLiteral("Box"), boxIcon(), QKeySequence(Qt::Key_B), document, canvas,
                   parent) {
    setStatusText(
        tr("Box: drag on the image to mark a region; drag a region to move it, "
           "its handles to resize it. Delete removes the selected region."));
}

void BoxTool::deactivate() {
    gesture_ = Gesture::None;
    AbstractTool::deactivate();
}

double BoxTool::handleTolerance() const {
    // A little more than half a handle, in screen pixels, converted to image pixels.
    return 7.0 * canvas()->imagePixelsPerScreenPixel();
}

int BoxTool::regionAt(const QPointF& pos) const {
    const auto& regions = document()->regions();
    const int selected = document()->selectedRegion();
    // The selected region is drawn on top, so it wins where regions overlap.
    if (const Region* r = document()->region(selected); r && r->box.contains(pos)) return selected;
    for (int i = regions.size() - 1; i >= 0; --i)
        if (regions[i].box.contains(pos)) return regions[i].id;
    return 0;
}

QRectF BoxTool::clippedDraft(const QPointF& from, const QPointF& to) const {
    return snapped(QRectF(from, to).normalized().intersected(canvas()->imageRect()));
}

namespace {

// The mask moved by whole pixels; what leaves the image is dropped.
QImage shiftedMask(const QImage& mask, const QPoint& delta) {
    QImage out(mask.size(), QImage::Format_Grayscale8);
    out.fill(0);
    for (int y = 0; y < mask.height(); ++y) {
        const int ty = y + delta.y();
        if (ty < 0 || ty >= out.height()) continue;
        const uchar* src = mask.constScanLine(y);
        uchar* dst = out.scanLine(ty);
        for (int x = 0; x < mask.width(); ++x) {
            const int tx = x + delta.x();
            if (tx >= 0 && tx < out.width()) dst[tx] = src[x];
        }
    }
    return out;
}

}  // namespace

void BoxTool::mousePressed(const ToolMouseEvent& event) {
    if (event.button != Qt::LeftButton) return;
    pressPos_ = event.imagePos;
    dragId_ = newDragId();

    const Region* selected = document()->region(document()->selectedRegion());
    if (selected && selected->kind == Region::Kind::Box) {
        handle_ = RegionItem::handleAt(selected->box, event.imagePos, handleTolerance());
        if (handle_ != RegionItem::NoHandle) {
            original_ = *selected;
            gesture_ = Gesture::Resizing;
            return;
        }
    }
    if (const int id = regionAt(event.imagePos)) {
        document()->setSelectedRegion(id);
        original_ = *document()->region(id);
        gesture_ = Gesture::Moving;
        canvas()->setToolCursor(QCursor(Qt::SizeAllCursor));
        return;
    }
    // Empty image area: a click clears the selection, a drag draws a new box.
    document()->setSelectedRegion(0);
    gesture_ = Gesture::Creating;
}

void BoxTool::mouseMoved(const ToolMouseEvent& event) {
    switch (gesture_) {
        case Gesture::None:
            updateHoverCursor(event.imagePos);
            break;
        case Gesture::Creating:
            canvas()->setDraftBox(clippedDraft(pressPos_, event.imagePos));
            break;
        case Gesture::Moving: {
            const QRectF image = canvas()->imageRect();
            QPointF delta = event.imagePos - pressPos_;
            delta = QPointF(std::round(delta.x()), std::round(delta.y()));
            // Keep the whole box on the image: stop at the edges instead of clipping it.
            const QRectF box = original_.box;
            delta.setX(
                std::clamp(delta.x(), image.left() - box.left(), image.right() - box.right()));
            delta.setY(
                std::clamp(delta.y(), image.top() - box.top(), image.bottom() - box.bottom()));
            Region after = original_;
            after.box = box.translated(delta);
            for (auto& p : after.positive) p += delta;
            for (auto& p : after.negative) p += delta;
            if (original_.hasMask()) after.mask = shiftedMask(original_.mask, delta.toPoint());
            pushChange(after);
            break;
        }
        case Gesture::Resizing: {
            QRectF box = original_.box;
            const QPointF p = event.imagePos;
            if (handle_ == RegionItem::TopLeft || handle_ == RegionItem::Left ||
                handle_ == RegionItem::BottomLeft)
                box.setLeft(p.x());
            if (handle_ == RegionItem::TopRight || handle_ == RegionItem::Right ||
                handle_ == RegionItem::BottomRight)
                box.setRight(p.x());
            if (handle_ == RegionItem::TopLeft || handle_ == RegionItem::Top ||
                handle_ == RegionItem::TopRight)
                box.setTop(p.y());
            if (handle_ == RegionItem::BottomLeft || handle_ == RegionItem::Bottom ||
                handle_ == RegionItem::BottomRight)
                box.setBottom(p.y());
            // Dragging a handle past the opposite side flips the box, as in drawing programs.
            box = snapped(box.normalized().intersected(canvas()->imageRect()));
            if (box.width() < kMinBoxSide || box.height() < kMinBoxSide) break;
            Region after = original_;
            after.box = box;
            after.mask = QImage();  // a resized mask region becomes the box the user made
            pushChange(after);
            break;
        }
    }
}

void BoxTool::mouseReleased(const ToolMouseEvent& event) {
    if (event.button != Qt::LeftButton) return;
    const Gesture gesture = gesture_;
    gesture_ = Gesture::None;
    canvas()->clearDraftBox();
    if (gesture == Gesture::Creating) {
        const QRectF box = clippedDraft(pressPos_, event.imagePos);
        if (box.width() >= kMinBoxSide && box.height() >= kMinBoxSide) {
            Region region;
            region.id = document()->nextRegionId();
            region.kind = Region::Kind::Box;
            region.box = box;
            region.colour = regionColour(region.id);
            document()->undoStack()->push(new AddRegionCommand(document(), region));
            document()->setSelectedRegion(region.id);
        }
    }
    updateHoverCursor(event.imagePos);
}

void BoxTool::pushChange(const Region& after) {
    const Region* current = document()->region(after.id);
    if (!current || *current == after) return;
    document()->undoStack()->push(new ChangeRegionCommand(document(), *current, after, dragId_));
}

void BoxTool::updateHoverCursor(const QPointF& pos) {
    const Region* selected = document()->region(document()->selectedRegion());
    if (selected && selected->kind == Region::Kind::Box) {
        const auto handle = RegionItem::handleAt(selected->box, pos, handleTolerance());
        if (handle != RegionItem::NoHandle) {
            canvas()->setToolCursor(QCursor(resizeCursor(handle)));
            return;
        }
    }
    canvas()->setToolCursor(QCursor(regionAt(pos) ? Qt::SizeAllCursor : Qt::CrossCursor));
}

}  // namespace rcui
