#include "canvas/OverlayStyle.h"

#include <QFontMetricsF>
#include <QPainter>
#include <QPen>
#include <cmath>

namespace rcui {

QFont OverlayStyle::labelFont() const {
    QFont font;
    font.setPixelSize(labelPixelSize());
    font.setBold(true);
    return font;
}

QColor textColourOn(const QColor& fill) {
    // WCAG relative luminance: black text wins above ~0.18 (cyan, yellow, pink, green).
    auto linear = [](double c) {
        return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
    };
    const double luminance = 0.2126 * linear(fill.redF()) + 0.7152 * linear(fill.greenF()) +
                             0.0722 * linear(fill.blueF());
    return luminance > 0.179 ? QColor(0, 0, 0) : QColor(255, 255, 255);
}

QSizeF tagSizePx(const QString& text, const OverlayStyle& style) {
    const QFontMetricsF metrics(style.labelFont());
    const double pad = style.labelPixelSize() * 0.35;
    return QSizeF(metrics.horizontalAdvance(text) + 2 * pad, metrics.height() + pad * 0.6);
}

QRectF tagRectFor(const QRectF& box, const QString& text, const OverlayStyle& style) {
    const QSizeF px = tagSizePx(text, style);
    const QSizeF size(px.width() * style.unit, px.height() * style.unit);
    // Sit on the outline (half a line width out) so tag and box read as one object.
    const double half = style.lineWidth() / 2;
    QPointF topLeft(box.left() - half, box.top() - half - size.height());
    if (style.imageRect.isValid() && topLeft.y() < style.imageRect.top())
        topLeft.setY(box.top() + half);
    if (style.imageRect.isValid() && topLeft.x() < style.imageRect.left())
        topLeft.setX(style.imageRect.left());
    return QRectF(topLeft, size);
}

void paintTag(QPainter* painter, const QRectF& sceneRect, const QString& text, const QColor& fill,
              const OverlayStyle& style) {
    painter->save();
    // Draw in screen pixels so the text is hinted and sized like the rest of the UI.
    painter->translate(sceneRect.topLeft());
    painter->scale(style.unit, style.unit);
    const QRectF local(QPointF(0, 0), sceneRect.size() / style.unit);
    if (style.presentation) {
        painter->setPen(QPen(style.haloColour(), 2));
        painter->setBrush(fill);
        painter->drawRect(local);
    } else {
        painter->fillRect(local, fill);
    }
    painter->setFont(style.labelFont());
    painter->setPen(textColourOn(fill));
    painter->drawText(local, Qt::AlignCenter, text);
    painter->restore();
}

void paintOutline(QPainter* painter, const QRectF& rect, const QColor& colour,
                  const OverlayStyle& style, bool dashed, double widthScale) {
    painter->save();
    painter->setBrush(Qt::NoBrush);
    QPen halo(style.haloColour(), style.haloWidthPx() * widthScale * style.unit);
    halo.setJoinStyle(Qt::MiterJoin);
    painter->setPen(halo);
    painter->drawRect(rect);
    QPen pen(colour, style.lineWidth() * widthScale);
    pen.setJoinStyle(Qt::MiterJoin);
    if (dashed) pen.setDashPattern({4.0, 3.0});  // in pen widths: stays visible at any size
    painter->setPen(pen);
    painter->drawRect(rect);
    painter->restore();
}

}  // namespace rcui
