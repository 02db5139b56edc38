// Sizes and helpers shared by the canvas overlays, so lines, labels and handles keep the same
// on-screen size at any zoom and all grow together in presentation mode.
#pragma once

#include <QColor>
#include <QFont>
#include <QPointF>
#include <QRectF>
#include <QString>

class QPainter;

namespace rcui {

struct OverlayStyle {
    /// Scene units (image pixels) per screen pixel: 1 / zoom on screen, larger for exports of
    /// big images so overlays stay visible there too.
    double unit = 1.0;
    /// Thick, high-contrast overlays for talks and projectors.
    bool presentation = false;
    /// Exports leave out editing aids such as resize handles.
    bool exporting = false;
    /// The image's extent, so labels that would leave it are moved inside.
    QRectF imageRect;

    /// Outline width in screen pixels.
    double lineWidthPx() const { return presentation ? 6.0 : 2.0; }
    /// Outline width in scene units.
    double lineWidth() const { return lineWidthPx() * unit; }
    /// Width of the contrasting halo drawn under each outline, in screen pixels.
    double haloWidthPx() const { return lineWidthPx() + (presentation ? 4.0 : 2.0); }
    /// Label text size in screen pixels.
    int labelPixelSize() const { return presentation ? 26 : 12; }
    /// Width of thin detail strokes (point markers) in screen pixels.
    double detailWidthPx() const { return presentation ? 3.0 : 1.5; }
    /// Side of a resize handle in screen pixels.
    double handlePx() const { return presentation ? 14.0 : 8.0; }
    /// Radius of a point marker in screen pixels.
    double pointRadiusPx() const { return presentation ? 9.0 : 5.0; }
    /// Colour under the outlines: white in presentation mode, a soft dark edge otherwise.
    QColor haloColour() const {
        return presentation ? QColor(255, 255, 255) : QColor(0, 0, 0, 110);
    }
    QFont labelFont() const;
};

/// Black or white, whichever reads better on `fill`.
QColor textColourOn(const QColor& fill);

/// Size in screen pixels of a filled label tag holding `text`.
QSizeF tagSizePx(const QString& text, const OverlayStyle& style);

/// Where a tag for a box goes, in scene units: just above the box's top-left corner, or inside
/// it when there is no room above within the image.
QRectF tagRectFor(const QRectF& box, const QString& text, const OverlayStyle& style);

/// Paints a filled tag with `text` into `sceneRect` (from tagRectFor), text at screen size.
void paintTag(QPainter* painter, const QRectF& sceneRect, const QString& text, const QColor& fill,
              const OverlayStyle& style);

/// Paints a rectangle outline with a contrasting halo underneath. `dashed` for proposals the
/// user did not draw (grounding boxes, crops); `widthScale` thickens emphasised outlines.
void paintOutline(QPainter* painter, const QRectF& rect, const QColor& colour,
                  const OverlayStyle& style, bool dashed, double widthScale = 1.0);

}  // namespace rcui
