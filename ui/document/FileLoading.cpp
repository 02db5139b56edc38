#include "document/FileLoading.h"

#include <algorithm>

#include <QColor>
#include <QPainter>

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>

#include "inference/ImageConversion.h"
#include "regionchat/image_io.h"

namespace rcui {

LoadedImage loadImageFile(const QString& path) {
    LoadedImage out;
    // Only regular files: a session's image path may name anything (/dev/zero "grew" the GUI to
    // 4.4 GB: a device has no size to check).
    if (!QFileInfo(path).isFile()) {
        out.error = QObject::tr("%1 is not an image file.").arg(path);
        return out;
    }
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        out.error = QObject::tr("Cannot open %1: %2").arg(path, f.errorString());
        return out;
    }
    if (f.size() > (1ll << 30)) {
        out.error = QObject::tr("%1 is larger than 1 GiB.").arg(path);
        return out;
    }
    const QByteArray bytes = f.readAll();
    out.hash =
        QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
    try {
        out.image = displayReady(toQImage(
            rc::decode_image(bytes.toStdString(), QFileInfo(path).fileName().toStdString())));
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

QImage displayReady(const QImage& image) {
    return image.hasAlphaChannel() ? image.convertToFormat(QImage::Format_ARGB32_Premultiplied)
                                   : image.convertToFormat(QImage::Format_RGB32);
}

LoadedSession loadSessionFile(const QString& path) {
    LoadedSession out;
    QString error;
    if (!readSessionFile(path, &out.data, &error)) {
        out.error = QObject::tr("%1: %2").arg(QFileInfo(path).fileName(), error);
        return out;
    }
    if (!out.data.pairPath.isEmpty()) {
        out.pair = loadImagePair(out.data.imagePath, out.data.pairPath);
        out.image = out.pair.image;
    } else {
        out.image = loadImageFile(out.data.imagePath);
    }
    if (!out.image.error.isEmpty()) {
        out.error = QObject::tr("Its image cannot be opened: %1").arg(out.image.error);
        return out;
    }
    // Regions and masks were made on an image of the size the session names.
    const QSize real = out.image.image.size();
    if (real != QSize(out.data.imageWidth, out.data.imageHeight))
        out.error = QObject::tr("Its image is now %1x%2 pixels but the session was made on a "
                                "%3x%4 one; its regions would not fit.")
                        .arg(real.width())
                        .arg(real.height())
                        .arg(out.data.imageWidth)
                        .arg(out.data.imageHeight);
    return out;
}

LoadedPair loadImagePair(const QString& first, const QString& second) {
    LoadedPair out;
    const LoadedImage a = loadImageFile(first);
    if (!a.error.isEmpty()) {
        out.image.error = a.error;
        return out;
    }
    const LoadedImage b = loadImageFile(second);
    if (!b.error.isEmpty()) {
        out.image.error = b.error;
        return out;
    }
    constexpr int kGap = 16;
    const qint64 w = qint64(a.image.width()) + kGap + b.image.width();
    const qint64 h = std::max(a.image.height(), b.image.height());
    if (w * h > 100'000'000LL || w > 32767) {
        out.image.error = QObject::tr("the two images are too large to show side by side "
                                      "(%1 x %2 pixels)").arg(w).arg(h);
        return out;
    }
    QImage canvas(int(w), int(h), QImage::Format_RGB32);
    if (canvas.isNull()) {
        out.image.error = QObject::tr("not enough memory for the image pair");
        return out;
    }
    canvas.fill(QColor(48, 48, 48));
    QPainter p(&canvas);
    p.drawImage(0, 0, a.image);
    p.drawImage(a.image.width() + kGap, 0, b.image);
    p.end();
    out.image.image = canvas;
    out.image.hash = a.hash;
    out.secondHash = b.hash;
    out.first = a.image.size();
    out.second = b.image.size();
    out.split = a.image.width() + kGap;
    return out;
}

}  // namespace rcui
