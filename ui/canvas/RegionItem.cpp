#include "canvas/RegionItem.h"

#include <QPainter>
#include <QPen>
#include <cmath>

#include "canvas/OverlayStyle.h"

namespace rcui {

namespace {
constexpr double kRegionZ = 3.0;
constexpr double kSelectedRegionZ = 5.0;
}  // namespace

RegionItem::RegionItem(const Region& region, const OverlayStyle* style, QGraphicsItem* parent)
    : QGraphicsItem(parent), region_(region), style_(style) {
    setZValue(kRegionZ);
    if (region_.hasMask()) mask_.set(region_.mask, region_.colour);
}

void RegionItem::setRegion(const Region& region) {
    prepareGeometryChange();
    const bool maskChanged = region.mask != region_.mask || region.colour != region_.colour;
    region_ = region;
    if (maskChanged) mask_ = MaskGraphic();
    if (maskChanged && region_.hasMask()) mask_.set(region_.mask, region_.colour);
    update();
}

void RegionItem::setRegionSelected(bool selected) {
    if (selected == selected_) return;
    prepareGeometryChange();  // handles widen the bounds
    selected_ = selected;
    setZValue(selected ? kSelectedRegionZ : kRegionZ);
    update();
}

void RegionItem::styleChanged() {
    prepareGeometryChange();
    update();
}

double RegionItem::outlineWidth() const {
    return style_->lineWidth() * (selected_ && !style_->exporting ? 1.5 : 1.0);
}

QRectF RegionItem::boundingRect() const {
    const double u = style_->unit;
    double margin = style_->haloWidthPx() * 1.5 * u;
    if (selected_) margin = std::max(margin, style_->handlePx() * u);
    QRectF bounds = region_.box.adjusted(-margin, -margin, margin, margin);
    const double r = (style_->pointRadiusPx() + 2) * u;
    for (const auto& p : region_.positive + region_.negative)
        bounds |= QRectF(p.x() - r, p.y() - r, 2 * r, 2 * r);
    return bounds | tagRectFor(region_.box, labelText(), *style_).adjusted(-u, -u, u, u);
}

void RegionItem::paint(QPainter* painter, const QStyleOptionGraphicsItem*, QWidget*) {
    painter->setRenderHint(QPainter::Antialiasing, true);
    const bool point = region_.kind == Region::Kind::Point;
    const bool scribble = region_.kind == Region::Kind::Scribble;
    // A mask region: its mask filled lightly under the box outline.
    if (!mask_.isNull()) mask_.paint(painter, 0.25, style_->lineWidth() * 0.6);
    paintOutline(painter, region_.box, region_.colour, *style_, point || scribble,
                 outlineWidth() / style_->lineWidth());
    if (point) paintPoints(painter);
    if (scribble) paintStroke(painter);
    paintTag(painter, tagRectFor(region_.box, labelText(), *style_), labelText(), region_.colour,
             *style_);
    // Handles last: the tag must not hide the top-left one.
    if (selected_ && !point && !scribble && !style_->exporting) paintHandles(painter);
}

void RegionItem::paintStroke(QPainter* painter) const {
    if (region_.positive.isEmpty()) return;
    QPainterPath path(region_.positive.first());
    for (int i = 1; i < region_.positive.size(); ++i) path.lineTo(region_.positive[i]);
    const double u = style_->unit, w = style_->lineWidth() * u;
    painter->save();
    painter->setBrush(Qt::NoBrush);
    // A dark halo under the colour keeps the stroke visible on any image, as the outlines.
    painter->setPen(QPen(QColor(0, 0, 0, 160), 2.6 * w, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    painter->drawPath(path);
    painter->setPen(QPen(region_.colour, 1.4 * w, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    painter->drawPath(path);
    painter->restore();
}

void RegionItem::paintPoints(QPainter* painter) const {
    const double u = style_->unit;
    const double r = style_->pointRadiusPx() * u;
    painter->save();
    // Positive clicks: filled dots; negative: an x in a ring, as in SAM-style point prompts.
    const double w = style_->detailWidthPx() * u;
    painter->setPen(QPen(style_->presentation ? Qt::white : Qt::black, w));
    painter->setBrush(region_.colour);
    for (const auto& p : region_.positive) painter->drawEllipse(p, r, r);
    for (const auto& p : region_.negative) {
        painter->setPen(QPen(Qt::black, w));
        painter->setBrush(QColor(255, 255, 255, 220));
        painter->drawEllipse(p, r, r);
        painter->setPen(QPen(region_.colour.darker(130), 1.4 * w, Qt::SolidLine, Qt::RoundCap));
        const double d = r * 0.55;
        painter->drawLine(p + QPointF(-d, -d), p + QPointF(d, d));
        painter->drawLine(p + QPointF(-d, d), p + QPointF(d, -d));
    }
    painter->restore();
}

void RegionItem::paintHandles(QPainter* painter) const {
    const double side = style_->handlePx() * style_->unit;
    painter->save();
    painter->setPen(QPen(region_.colour.darker(150), 1.5 * style_->unit));
    painter->setBrush(Qt::white);
    for (int h = TopLeft; h <= Left; ++h) {
        const QPointF c = handleCentre(region_.box, Handle(h));
        painter->drawRect(QRectF(c.x() - side / 2, c.y() - side / 2, side, side));
    }
    painter->restore();
}

QPointF RegionItem::handleCentre(const QRectF& box, Handle handle) {
    const QPointF c = box.center();
    switch (handle) {
        case TopLeft:
            return box.topLeft();
        case Top:
            return {c.x(), box.top()};
        case TopRight:
            return box.topRight();
        case Right:
            return {box.right(), c.y()};
        case BottomRight:
            return box.bottomRight();
        case Bottom:
            return {c.x(), box.bottom()};
        case BottomLeft:
            return box.bottomLeft();
        case Left:
            return {box.left(), c.y()};
        case NoHandle:
            break;
    }
    return c;
}

RegionItem::Handle RegionItem::handleAt(const QRectF& box, const QPointF& pos, double tolerance) {
    Handle best = NoHandle;
    double bestDistance = tolerance;
    for (int h = TopLeft; h <= Left; ++h) {
        const QPointF d = handleCentre(box, Handle(h)) - pos;
        const double distance = std::max(std::abs(d.x()), std::abs(d.y()));
        // On tiny boxes handles overlap; the nearest wins so corners stay reachable.
        if (distance <= bestDistance) {
            best = Handle(h);
            bestDistance = distance;
        }
    }
    return best;
}

}  // namespace rcui
