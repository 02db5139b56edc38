// Reading images and sessions off the GUI thread: plain functions that a pool thread runs (see
// runInBackground() in Background.h), decoded into the format the canvas shows without copying.
#pragma once

#include <QImage>
#include <QString>

#include <opencv2/core.hpp>

#include "document/SessionFile.h"

namespace rcui {

/// A decoded image file, or why it could not be read.
struct LoadedImage {
    QImage image;
    QString hash;   ///< SHA-256 hex of the file's bytes
    QString error;  ///< "" on success
};

/// Two image files side by side on one canvas (an image pair), or why they could not be read.
struct LoadedPair {
    LoadedImage image;  ///< the canvas; its hash is the first file's
    QString secondHash;
    QSize first, second;
    int split = 0;  ///< where the second image starts
};

/// A session file with its image (and an image pair's second), or why it could not be read.
struct LoadedSession {
    SessionData data;
    LoadedImage image;
    LoadedPair pair;  ///< split 0 for one image
    QString error;  ///< "" on success; the sentence the window shows
};

/// Reads and decodes an image file into a displayReady() image (thread-safe; never call it on
/// the GUI thread). The size in the header is checked before decoding, so a 30000x30000 header
/// is refused, not allocated.
LoadedImage loadImageFile(const QString& path);

/// Reads two image files and puts them side by side, top-aligned at their own sizes, 16 px of
/// dark grey apart (thread-safe). The pair must stay within the single-image pixel limit.
LoadedPair loadImagePair(const QString& first, const QString& second);

/// Reads a `.regionchat` file, its masks and its image (thread-safe, for a pool thread).
LoadedSession loadSessionFile(const QString& path);

/// `image` in the format the screen's pixmaps use (RGB32), so that QPixmap::fromImage on the GUI
/// thread shares its pixels instead of converting them (43 ms for 12 Mpx). For a pool thread.
QImage displayReady(QImage image);

/// An 8-bit BGR image straight into the display format (RGB32), without the copies in between
/// (toQImage then displayReady make two).
QImage toDisplayImage(const cv::Mat& bgr);

}  // namespace rcui
