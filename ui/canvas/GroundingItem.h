// The overlay of a box the model named in an answer: a dashed outline with the phrase on a tag.
// The one highlighted from the chat (hover or click on its chip) is drawn solid and thicker.
#pragma once

#include <QGraphicsItem>

#include "document/ChatEntry.h"

namespace rcui {

struct OverlayStyle;

class GroundingItem : public QGraphicsItem {
public:
    enum { Type = UserType + 2 };

    /// `index` is the box's index in ImageDocument::groundingBoxes().
    GroundingItem(const GroundingBox& box, int index, const OverlayStyle* style,
                  QGraphicsItem* parent = nullptr);

    int type() const override { return Type; }
    const GroundingBox& groundingBox() const { return box_; }
    int index() const { return index_; }
    bool isHighlighted() const { return highlighted_; }
    void setHighlighted(bool highlighted);
    /// Call after the overlay style changed (zoom, presentation mode).
    void styleChanged();
    /// The outline width as painted now, in scene units.
    double outlineWidth() const;
    /// The text on the tag: "index: label", shortened so long answers do not cover the image.
    QString tagText() const;

    /// The colour of answer boxes, distinct from the region palette's hues by its dashes.
    static QColor colour() { return QColor(255, 214, 0); }

    QRectF boundingRect() const override;
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

private:
    GroundingBox box_;
    int index_;
    const OverlayStyle* style_;
    bool highlighted_ = false;
};

/// The square crop the DualFocus pipeline cut for its micro pass, labelled "focus crop".
class FocusCropItem : public QGraphicsItem {
public:
    enum { Type = UserType + 3 };

    FocusCropItem(const QRectF& cropRect, const OverlayStyle* style,
                  QGraphicsItem* parent = nullptr);

    int type() const override { return Type; }
    QRectF cropRect() const { return crop_; }
    void setCropRect(const QRectF& cropRect);
    /// The image's rectangle: the crop may reach past it (the square expansion), its tag
    /// stays inside the part that is on the image.
    void setImageBounds(const QRectF& bounds);
    void styleChanged();

    QRectF boundingRect() const override;
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

private:
    QRectF tagRect() const;
    QRectF crop_;
    QRectF bounds_;
    const OverlayStyle* style_;
};

}  // namespace rcui
