// A mask overlay: a translucent fill in one colour with a pixel-exact outline. Used for
// proposals (the pick tool's candidates), the SAM preview under the cursor, and the masks of
// regions made from them.
#pragma once

#include <QGraphicsItem>
#include <QImage>
#include <QPainterPath>

namespace rcui {

struct OverlayStyle;

/// The painting of one mask, cached: the tinted pixels inside its bounding rect and its
/// outline. Cheap to paint at any zoom.
class MaskGraphic {
public:
    /// `mask`: Format_Grayscale8 (or anything convertible), non-zero inside.
    void set(const QImage& mask, const QColor& colour);
    bool isNull() const { return tinted_.isNull(); }
    QRectF bounds() const { return QRectF(origin_, tinted_.size()); }
    /// Fill at `opacity` (0..1) and outline `outlineWidth` scene units wide.
    void paint(QPainter* painter, double opacity, double outlineWidth) const;

private:
    QImage tinted_;  ///< ARGB, the colour where the mask is set, transparent elsewhere
    QPointF origin_;
    QPainterPath outline_;
    QColor colour_;
};

class MaskItem : public QGraphicsItem {
public:
    enum { Type = UserType + 4 };

    MaskItem(const QImage& mask, const QColor& colour, const OverlayStyle* style,
             QGraphicsItem* parent = nullptr);
    int type() const override { return Type; }
    /// Hovered masks are filled more opaquely and outlined thicker.
    void setHighlighted(bool on);
    bool isHighlighted() const { return highlighted_; }
    /// A tag drawn at the mask's top-left corner ("#1 2.31" for a ranked proposal); "" for none.
    void setLabel(const QString& label);
    QString label() const { return label_; }
    void styleChanged() { prepareGeometryChange(); }

    QRectF boundingRect() const override;
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

private:
    MaskGraphic graphic_;
    const OverlayStyle* style_;
    bool highlighted_ = false;
    QString label_;
    QColor colour_;
};

}  // namespace rcui
