#include "document/Region.h"

#include <QRegion>
#include <QSizeF>
#include <QVector>
#include <algorithm>
#include <cmath>
#include <cstring>

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

namespace {

// Masks are mostly zeros: rows are scanned eight bytes at a time (a 12 Mpx mask in 2 ms, not 40).
// The first set (non-zero) byte in [p, end), or end.
const uchar* firstSet(const uchar* p, const uchar* end) {
    for (quint64 w; end - p >= 8 && (std::memcpy(&w, p, 8), w == 0);) p += 8;
    while (p < end && !*p) ++p;
    return p;
}

// The first zero byte in [p, end), or end.
const uchar* firstClear(const uchar* p, const uchar* end) {
    constexpr quint64 ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (quint64 w; end - p >= 8 && (std::memcpy(&w, p, 8), ((w - ones) & ~w & highs) == 0);)
        p += 8;
    while (p < end && *p) ++p;
    return p;
}

// The last set byte in [begin, end), which holds one.
const uchar* lastSet(const uchar* begin, const uchar* end) {
    for (quint64 w; end - begin >= 8 && (std::memcpy(&w, end - 8, 8), w == 0);) end -= 8;
    while (!end[-1]) --end;
    return end - 1;
}

}  // namespace

QRectF maskBoundingRect(const QImage& mask) {
    int x0 = mask.width(), y0 = mask.height(), x1 = -1, y1 = -1;
    for (int y = 0; y < mask.height(); ++y) {
        const uchar* row = mask.constScanLine(y);
        const uchar* end = row + mask.width();
        const uchar* first = firstSet(row, end);
        if (first == end) continue;
        x0 = std::min(x0, int(first - row));
        x1 = std::max(x1, int(lastSet(first, end) - row));
        y0 = std::min(y0, y);
        y1 = y;
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
    // One rect per run of set pixels, row by row: already in QRegion's y-x banded order. A row
    // whose runs are those of the band above makes that band taller instead (a box-shaped 12 Mpx
    // mask becomes one rect, not thousands for simplified() to merge).
    QVector<QRect> runs;
    int band = 0;  // index of the first rect of the band above
    for (int y = 0; y < mask.height(); ++y) {
        const uchar* row = mask.constScanLine(y);
        const uchar* end = row + mask.width();
        const int first = int(runs.size());
        for (const uchar* p = firstSet(row, end); p < end;) {
            const uchar* stop = firstClear(p, end);
            runs.append(QRect(int(p - row), y, int(stop - p), 1));
            p = firstSet(stop, end);
        }
        const int n = int(runs.size()) - first;
        bool same = n > 0 && n == first - band && runs[band].bottom() == y - 1;
        for (int i = 0; same && i < n; ++i)
            same = runs[band + i].left() == runs[first + i].left() &&
                   runs[band + i].width() == runs[first + i].width();
        if (same) {
            for (int i = 0; i < n; ++i) runs[band + i].setBottom(y);
            runs.resize(first);
        } else {
            band = first;
        }
    }
    QRegion region;
    region.setRects(runs.constData(), int(runs.size()));
    path.addRegion(region);
    return path.simplified();
}

}  // namespace rcui
