#include "document/Region.h"

#include <QRegion>
#include <QSizeF>
#include <QVector>
#include <algorithm>
#include <cmath>

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

QRectF maskBoundingRect(const QImage& mask) {
    int x0 = mask.width(), y0 = mask.height(), x1 = -1, y1 = -1;
    for (int y = 0; y < mask.height(); ++y) {
        const uchar* row = mask.constScanLine(y);
        for (int x = 0; x < mask.width(); ++x) {
            if (!row[x]) continue;
            x0 = std::min(x0, x);
            x1 = std::max(x1, x);
            y0 = std::min(y0, y);
            y1 = y;
        }
    }
    if (x1 < 0) return {};
    return QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
}

bool maskContains(const QImage& mask, const QPointF& p) {
    const int x = int(std::floor(p.x())), y = int(std::floor(p.y()));
    if (mask.isNull() || x < 0 || y < 0 || x >= mask.width() || y >= mask.height()) return false;
    return mask.constScanLine(y)[x] != 0;
}

QPainterPath maskOutline(const QImage& mask) {
    QPainterPath path;
    if (mask.isNull()) return path;
    // One rect per run of set pixels, row by row: already in QRegion's y-x banded order.
    QVector<QRect> runs;
    for (int y = 0; y < mask.height(); ++y) {
        const uchar* row = mask.constScanLine(y);
        for (int x = 0; x < mask.width();) {
            if (!row[x]) {
                ++x;
                continue;
            }
            const int start = x;
            while (x < mask.width() && row[x]) ++x;
            runs.append(QRect(start, y, x - start, 1));
        }
    }
    QRegion region;
    region.setRects(runs.constData(), int(runs.size()));
    path.addRegion(region);
    return path.simplified();
}

}  // namespace rcui
