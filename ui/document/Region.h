// A region the user marked on the image: a box, points (shown and sent as a small box), or a
// scribble (a free-hand stroke; sent as its bounding box, or as points to models that read them).
#pragma once

#include <QColor>
#include <QImage>
#include <QList>
#include <QPainterPath>
#include <QPointF>
#include <QRectF>
#include <QString>

namespace rcui {

struct Region {
    enum class Kind { Box, Point, Scribble };

    int id = 0;  ///< stable, unique in a document, shown as the region's number
    Kind kind = Kind::Box;
    QRectF box;               ///< image pixels; for points, the small box sent to the model
    QList<QPointF> positive;  ///< point regions: positive clicks; scribbles: the stroke (image pixels)
    QList<QPointF> negative;  ///< shift-clicks
    QColor colour;
    /// A picked proposal or SAM's answer to the points: Format_Grayscale8, the image's size,
    /// non-zero inside; `box` is then its bounding rect. Null for plain boxes and points.
    QImage mask;

    bool hasMask() const { return !mask.isNull(); }
    bool operator==(const Region& o) const {
        return id == o.id && kind == o.kind && box == o.box && positive == o.positive &&
               negative == o.negative && colour == o.colour && mask == o.mask;
    }
};

/// A candidate region from a proposal generator (classic or SAM), shown on the canvas for
/// the pick tool. Masks are Format_Grayscale8 in image pixels (non-zero inside).
struct ProposalMask {
    QImage mask;
    QRectF box;    ///< the mask's bounding rect, image pixels
    int area = 0;  ///< pixels inside the mask (0: unknown, the box's area stands in)
    float score = 0;
    QString source;  ///< "classic", "sam"
};

/// The bounding rect of a mask's non-zero pixels (empty when there are none).
QRectF maskBoundingRect(const QImage& mask);
/// Whether image pixel `p` lies inside the mask.
bool maskContains(const QImage& mask, const QPointF& p);
/// The mask's outline as a path in image pixels (pixel-exact, for drawing).
QPainterPath maskOutline(const QImage& mask);

/// The colour of region number `id` (a fixed, distinct palette).
QColor regionColour(int id);

/// The box a point stands for when a model has no point input: a square of 6% of the image's
/// shorter side around the point, clipped to the image.
QRectF pointBox(const QPointF& point, const QSizeF& imageSize);

}  // namespace rcui
