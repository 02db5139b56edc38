#include "document/FileLoading.h"

#include <algorithm>

#include <QColor>
#include <QPainter>

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QImageReader>

#include <thread>

#include <opencv2/imgproc.hpp>

#include "inference/ImageConversion.h"
#include "regionchat/image_io.h"

namespace rcui {

namespace {

// The file decoded straight into the canvas's format: Qt's readers write PNG, JPEG and BMP
// into RGB32 themselves, so the pixels are in memory once (252 MB for 9000x7000), not as BGR
// and then RGB32 beside it. The size is checked from the header first, as rc::load_image does;
// what Qt does not read here (WebP, TIFF, a damaged file) goes through rc::load_image, whose
// messages say what is wrong. So do images with alpha, 16-bit or palette images: OpenCV drops
// alpha and scales 16 bits its own way, and the app must see the pixels the command line sees.
QImage decodeForDisplay(const QString& path) {
    int w = 0, h = 0;
    if (rc::image_file_size(path.toStdString(), &w, &h)) {
        QImageReader reader(path);
        const QByteArray format = reader.format();
        const QImage::Format pixels = reader.imageFormat();
        if ((format == "png" || format == "jpeg" || format == "bmp") &&
            (pixels == QImage::Format_RGB32 || pixels == QImage::Format_RGB888 ||
             pixels == QImage::Format_Grayscale8)) {
            reader.setAutoTransform(true);  // EXIF orientation, as OpenCV applies it
            // Qt's own cap (256 MB) is below what the header check allows (100 Mpx).
            if (QImageReader::allocationLimit() < 1024) QImageReader::setAllocationLimit(1024);
            QImage image = reader.read();
            if (!image.isNull() && (image.size() == QSize(w, h) || image.size() == QSize(h, w)))
                return displayReady(std::move(image));
        }
    }
    return toDisplayImage(rc::load_image(path.toStdString()));
}

}  // namespace

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
    // The file's SHA-256 (a session notes it) on a thread of its own while the image decodes:
    // both read the file, neither holds it whole (a 9000x7000 PNG is 117 MB of file).
    QByteArray digest;
    std::thread hasher([&f, &digest] {
        QCryptographicHash h(QCryptographicHash::Sha256);
        if (h.addData(&f)) digest = h.result();
    });
    const QString name = QFileInfo(path).fileName();
    try {
        out.image = decodeForDisplay(path);
        if (out.image.isNull()) out.error = QObject::tr("%1: not enough memory to show it.").arg(name);
    } catch (const std::exception& e) {
        // The messages name the file as the user sees it in the title bar.
        out.error = QString::fromUtf8(e.what()).replace(path, name);
    }
    hasher.join();
    if (digest.isEmpty() && out.error.isEmpty())
        out.error = QObject::tr("Cannot read %1: %2").arg(path, f.errorString());
    out.hash = QString::fromLatin1(digest.toHex());
    return out;
}

QImage toDisplayImage(const cv::Mat& bgr) {
#if Q_BYTE_ORDER == Q_LITTLE_ENDIAN
    if (bgr.type() == CV_8UC3) {
        // RGB32 is 0xffRRGGBB: B, G, R, 255 in memory here. One pass, no image in between.
        QImage out(bgr.cols, bgr.rows, QImage::Format_RGB32);
        if (out.isNull()) return out;
        cv::Mat view(out.height(), out.width(), CV_8UC4, out.bits(), size_t(out.bytesPerLine()));
        cv::cvtColor(bgr, view, cv::COLOR_BGR2BGRA);
        return out;
    }
#endif
    return displayReady(toQImage(bgr));
}

QImage displayReady(QImage image) {
    // In place where Qt can (the same depth), a shallow copy when it is RGB32 already.
    return image.hasAlphaChannel()
               ? std::move(image).convertToFormat(QImage::Format_ARGB32_Premultiplied)
               : std::move(image).convertToFormat(QImage::Format_RGB32);
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
