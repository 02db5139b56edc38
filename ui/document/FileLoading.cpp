#include "document/FileLoading.h"

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>

#include "inference/ImageConversion.h"
#include "regionchat/image_io.h"

namespace rcui {

LoadedImage loadImageFile(const QString& path) {
    LoadedImage out;
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
    out.image = loadImageFile(out.data.imagePath);
    if (!out.image.error.isEmpty())
        out.error = QObject::tr("Its image cannot be opened: %1").arg(out.image.error);
    return out;
}

}  // namespace rcui
