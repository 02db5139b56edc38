#include "canvas/MaskItem.h"

#include <QPainter>

#include "canvas/OverlayStyle.h"
#include "document/Region.h"

namespace rcui {

void MaskGraphic::set(const QImage& source, const QColor& colour) {
    colour_ = colour;
    const QImage mask = source.convertToFormat(QImage::Format_Grayscale8);
    const QRect box = maskBoundingRect(mask).toRect();
    if (box.isEmpty()) {
        tinted_ = QImage();
        outline_ = QPainterPath();
        return;
    }
    origin_ = box.topLeft();
    tinted_ = QImage(box.size(), QImage::Format_ARGB32_Premultiplied);
    tinted_.fill(Qt::transparent);
    const QRgb inside = qPremultiply(colour.rgb());
    for (int y = 0; y < box.height(); ++y) {
        const uchar* src = mask.constScanLine(box.top() + y) + box.left();
        auto* dst = reinterpret_cast<QRgb*>(tinted_.scanLine(y));
        for (int x = 0; x < box.width(); ++x)
            if (src[x]) dst[x] = inside;
    }
    outline_ = maskOutline(mask);
}

void MaskGraphic::paint(QPainter* painter, double opacity, double outlineWidth) const {
    if (tinted_.isNull()) return;
    painter->save();
    painter->setOpacity(opacity);
    painter->drawImage(origin_, tinted_);
    painter->setOpacity(1.0);
    painter->setBrush(Qt::NoBrush);
    painter->setRenderHint(QPainter::Antialiasing, true);
    painter->setPen(QPen(QColor(255, 255, 255, 200), outlineWidth * 2.2, Qt::SolidLine,
                         Qt::RoundCap, Qt::RoundJoin));
    painter->drawPath(outline_);
    painter->setPen(
        QPen(colour_.darker(120), outlineWidth, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    painter->drawPath(outline_);
    painter->restore();
}

MaskItem::MaskItem(const QImage& mask, const QColor& colour, const OverlayStyle* style,
                   QGraphicsItem* parent)
    : QGraphicsItem(parent), style_(style), colour_(colour) {
    graphic_.set(mask, colour);
    setAcceptedMouseButtons(Qt::NoButton);
}

void MaskItem::setHighlighted(bool on) {
    if (on == highlighted_) return;
    highlighted_ = on;
    setZValue(on ? zValue() + 0.5 : zValue() - 0.5);
    update();
}

void MaskItem::setLabel(const QString& label) {
    if (label == label_) return;
    prepareGeometryChange();
    label_ = label;
    update();
}

QRectF MaskItem::boundingRect() const {
    const double m = 3 * style_->lineWidth();
    QRectF r = graphic_.bounds().adjusted(-m, -m, m, m);
    if (!label_.isEmpty()) r |= tagRectFor(graphic_.bounds(), label_, *style_);
    return r;
}

void MaskItem::paint(QPainter* painter, const QStyleOptionGraphicsItem*, QWidget*) {
    // Candidates stay light (several often overlap one object); the hovered one stands out.
    graphic_.paint(painter, highlighted_ ? 0.5 : 0.12,
                   style_->lineWidth() * (highlighted_ ? 1.3 : 0.45));
    if (!label_.isEmpty())
        paintTag(painter, tagRectFor(graphic_.bounds(), label_, *style_), label_, colour_, *style_);
}

}  // namespace rcui
