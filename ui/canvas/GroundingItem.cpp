#include "canvas/GroundingItem.h"

#include <QCoreApplication>
#include <QPainter>

#include "canvas/OverlayStyle.h"

namespace rcui {

namespace {
constexpr double kFocusCropZ = 1.0;
constexpr double kGroundingZ = 2.0;
constexpr double kHighlightedGroundingZ = 4.0;
constexpr int kMaxTagChars = 32;

QRectF outlineBounds(const QRectF& rect, const QRectF& tag, const OverlayStyle& style,
                     double widthScale) {
    const double margin = style.haloWidthPx() * widthScale * style.unit;
    const double u = style.unit;
    return rect.adjusted(-margin, -margin, margin, margin) | tag.adjusted(-u, -u, u, u);
}
}  // namespace

GroundingItem::GroundingItem(const GroundingBox& box, int index, const OverlayStyle* style,
                             QGraphicsItem* parent)
    : QGraphicsItem(parent), box_(box), index_(index), style_(style) {
    setZValue(kGroundingZ);
}

void GroundingItem::setHighlighted(bool highlighted) {
    if (highlighted == highlighted_) return;
    prepareGeometryChange();
    highlighted_ = highlighted;
    setZValue(highlighted ? kHighlightedGroundingZ : kGroundingZ);
    update();
}

void GroundingItem::styleChanged() {
    prepareGeometryChange();
    update();
}

double GroundingItem::outlineWidth() const {
    // Answer boxes are the thing the user asked for: thicker than region outlines.
    return style_->lineWidth() * (highlighted_ ? 2.25 : 1.5);
}

QString GroundingItem::tagText() const {
    QString label = box_.label.simplified();
    if (label.size() > kMaxTagChars) label = label.left(kMaxTagChars - 1) + QChar(0x2026);
    const QString number = QString::number(index_ + 1);
    return label.isEmpty() ? number : number + QStringLiteral(": ") + label;
}

QRectF GroundingItem::boundingRect() const {
    return outlineBounds(box_.box, tagRectFor(box_.box, tagText(), *style_), *style_,
                         outlineWidth() / style_->lineWidth());
}

void GroundingItem::paint(QPainter* painter, const QStyleOptionGraphicsItem*, QWidget*) {
    painter->setRenderHint(QPainter::Antialiasing, true);
    if (highlighted_) {
        // A light wash makes the highlighted answer box findable on a busy image.
        QColor wash = colour();
        wash.setAlpha(50);
        painter->fillRect(box_.box, wash);
    }
    paintOutline(painter, box_.box, colour(), *style_, !highlighted_,
                 outlineWidth() / style_->lineWidth());
    paintTag(painter, tagRectFor(box_.box, tagText(), *style_), tagText(), colour(), *style_);
}

FocusCropItem::FocusCropItem(const QRectF& cropRect, const OverlayStyle* style,
                             QGraphicsItem* parent)
    : QGraphicsItem(parent), crop_(cropRect), style_(style) {
    setZValue(kFocusCropZ);
}

void FocusCropItem::setCropRect(const QRectF& cropRect) {
    prepareGeometryChange();
    crop_ = cropRect;
    update();
}

void FocusCropItem::styleChanged() {
    prepareGeometryChange();
    update();
}

static QString focusCropText() {
    return QCoreApplication::translate("RegionChat", "focus crop");
}

void FocusCropItem::setImageBounds(const QRectF& bounds) {
    prepareGeometryChange();
    bounds_ = bounds;
    update();
}

// Inside the top-right corner of the crop's part on the image. Region and answer tags sit at
// their boxes' top-left corners, and the crop is cut around a box with a margin, so that
// box's tag lies near the crop's top-left, and boxes below the crop put their tags along its
// bottom edge; the top-right corner is the one they leave free.
QRectF FocusCropItem::tagRect() const {
    const QRectF visible = bounds_.isEmpty() ? crop_ : crop_.intersected(bounds_);
    const QRectF area = visible.isEmpty() ? crop_ : visible;
    QRectF tag = tagRectFor(area, focusCropText(), *style_);
    tag.moveTopRight(QPointF(area.right(), area.top()));
    return tag;
}

QRectF FocusCropItem::boundingRect() const {
    return outlineBounds(crop_, tagRect(), *style_, 1.0);
}

void FocusCropItem::paint(QPainter* painter, const QStyleOptionGraphicsItem*, QWidget*) {
    painter->setRenderHint(QPainter::Antialiasing, true);
    // Neutral, so it never reads as a region or an answer; inverted against the halo.
    const QColor colour = style_->presentation ? QColor(20, 20, 20) : QColor(255, 255, 255);
    paintOutline(painter, crop_, colour, *style_, true);
    paintTag(painter, tagRect(), focusCropText(), QColor(40, 40, 40), *style_);
}

}  // namespace rcui
