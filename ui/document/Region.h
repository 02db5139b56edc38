// A region the user marked on the image: a box, or points (shown and sent as a small box).
#pragma once

#include <QColor>
#include <QList>
#include <QPointF>
#include <QRectF>
#include <QString>

namespace rcui {

struct Region {
    enum class Kind { Box, Point };

    int id = 0;  ///< stable, unique in a document, shown as the region's number
    Kind kind = Kind::Box;
    QRectF box;               ///< image pixels; for points, the small box sent to the model
    QList<QPointF> positive;  ///< point regions: positive clicks (image pixels)
    QList<QPointF> negative;  ///< shift-clicks
    QColor colour;

    bool operator==(const Region& o) const {
        return id == o.id && kind == o.kind && box == o.box && positive == o.positive &&
               negative == o.negative && colour == o.colour;
    }
};

/// The colour of region number `id` (a fixed, distinct palette).
QColor regionColour(int id);

/// The box a point stands for when a model has no point input: a square of 6% of the image's
/// shorter side around the point, clipped to the image.
QRectF pointBox(const QPointF& point, const QSizeF& imageSize);

}  // namespace rcui
