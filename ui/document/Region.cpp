#include "document/Region.h"

#include <QSizeF>
#include <algorithm>

namespace rcui {

QColor regionColour(int id) {
    // Distinct, saturated hues that stay readable on light and dark images.
    static const QColor palette[] = {QColor(0, 200, 255), QColor(255, 64, 160), QColor(80, 220, 60),
                                     QColor(255, 170, 0), QColor(160, 90, 255), QColor(255, 60, 60),
                                     QColor(0, 170, 150), QColor(230, 230, 0)};
    const int n = static_cast<int>(std::size(palette));
    return palette[((id - 1) % n + n) % n];
}

QRectF pointBox(const QPointF& p, const QSizeF& size) {
    const double half = 0.03 * std::min(size.width(), size.height());
    QRectF r(p.x() - half, p.y() - half, 2 * half, 2 * half);
    return r.intersected(QRectF(QPointF(0, 0), size));
}

}  // namespace rcui
