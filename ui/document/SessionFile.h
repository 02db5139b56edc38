// `.regionchat` session files: JSON with the image's path and hash, the regions, the chat
// with its boxes, and model settings. Written atomically (QSaveFile: temporary + rename).
#pragma once

#include <QList>
#include <QString>

#include "document/ChatEntry.h"
#include "document/Region.h"

namespace rcui {

class ImageDocument;

struct SessionSettings {
    QString modelDir;  ///< "" = embedded model
    bool dualFocus = false;
    int maxNewTokens = 128;
    bool operator==(const SessionSettings& o) const {
        return modelDir == o.modelDir && dualFocus == o.dualFocus && maxNewTokens == o.maxNewTokens;
    }
};

/// Everything a session file holds, independent of any window.
struct SessionData {
    QString imagePath;  ///< absolute
    QString imageHash;  ///< SHA-256 hex of the image file
    int imageWidth = 0, imageHeight = 0;
    /// An image pair's second image (ImageDocument::ImagePair); "" for one image. imageWidth
    /// and imageHeight are then the side-by-side canvas's.
    QString pairPath, pairHash;
    QList<Region> regions;
    QList<ChatEntry> chat;
    SessionSettings settings;
};

/// Snapshot of a document (plus settings) as session data.
SessionData sessionFromDocument(const ImageDocument& doc, const SessionSettings& settings);

/// JSON text of a session.
QByteArray sessionToJson(const SessionData& data);
/// Parses JSON text; false and *error (a sentence naming what is wrong) when it is not a valid
/// session. Never throws; sizes and counts are checked before use.
bool sessionFromJson(const QByteArray& json, SessionData* data, QString* error);

/// Writes atomically; false and *error on failure (the old file stays as it was).
bool writeSessionFile(const QString& path, const SessionData& data, QString* error);
/// Reads and parses; false and *error on failure. Files over 64 MiB are refused.
bool readSessionFile(const QString& path, SessionData* data, QString* error);

/// SHA-256 hex of a file's bytes, or "" when it cannot be read.
QString fileSha256(const QString& path);

}  // namespace rcui
