// The overlay of one user region: its outline in the region's colour with its number on a tag;
// point regions as dots inside a dashed box; resize handles when selected.
#pragma once

#include <QGraphicsItem>

#include "canvas/MaskItem.h"
#include "document/Region.h"

namespace rcui {

struct OverlayStyle;

class RegionItem : public QGraphicsItem {
public:
    enum { Type = UserType + 1 };

    /// The eight resize handles, clockwise from the top-left corner.
    enum Handle {
        NoHandle = -1,
        TopLeft,
        Top,
        TopRight,
        Right,
        BottomRight,
        Bottom,
        BottomLeft,
        Left
    };

    RegionItem(const Region& region, const OverlayStyle* style, QGraphicsItem* parent = nullptr);

    int type() const override { return Type; }
    const Region& region() const { return region_; }
    /// Takes the region's new geometry or colour.
    void setRegion(const Region& region);
    bool isRegionSelected() const { return selected_; }
    /// Selected regions draw resize handles (box regions) and sit on top.
    void setRegionSelected(bool selected);
    /// Call after the overlay style changed (zoom, presentation mode): sizes depend on it.
    void styleChanged();
    /// The outline pen as painted now (width in scene units), for tests and legends.
    double outlineWidth() const;

    QRectF boundingRect() const override;
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

    /// Centre of `handle` on `box`.
    static QPointF handleCentre(const QRectF& box, Handle handle);
    /// The handle of `box` within `tolerance` (scene units) of `pos`, or NoHandle.
    static Handle handleAt(const QRectF& box, const QPointF& pos, double tolerance);

private:
    void paintPoints(QPainter* painter) const;
    void paintStroke(QPainter* painter) const;
    void paintHandles(QPainter* painter) const;
    QString labelText() const { return QString::number(region_.id); }

    Region region_;
    MaskGraphic mask_;
    const OverlayStyle* style_;
    bool selected_ = false;
};

}  // namespace rcui
