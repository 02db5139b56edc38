// Reading images and sessions off the GUI thread: plain functions that a pool thread runs (see
// runInBackground() in Background.h), decoded into the format the canvas shows without copying.
#pragma once

#include <QImage>
#include <QString>

#include "document/SessionFile.h"

namespace rcui {

/// A decoded image file, or why it could not be read.
struct LoadedImage {
    QImage image;
    QString hash;   ///< SHA-256 hex of the file's bytes
    QString error;  ///< "" on success
};

/// A session file with its image, or why it could not be read.
struct LoadedSession {
    SessionData data;
    LoadedImage image;
    QString error;  ///< "" on success; the sentence the window shows
};

/// Reads and decodes an image file into a displayReady() image (thread-safe; never call it on
/// the GUI thread). The size in the header is checked before decoding, so a 30000x30000 header
/// is refused, not allocated.
LoadedImage loadImageFile(const QString& path);

/// Reads a `.regionchat` file, its masks and its image (thread-safe, for a pool thread).
LoadedSession loadSessionFile(const QString& path);

/// `image` in the format the screen's pixmaps use (RGB32), so that QPixmap::fromImage on the GUI
/// thread shares its pixels instead of converting them (43 ms for 12 Mpx). For a pool thread.
QImage displayReady(const QImage& image);

}  // namespace rcui
