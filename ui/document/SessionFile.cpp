#include "document/SessionFile.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QImageReader>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <cmath>

#include "document/ImageDocument.h"

namespace rcui {

namespace {

constexpr int kFormatVersion = 1;
constexpr qint64 kMaxSessionBytes = 64ll << 20;
constexpr int kMaxItems = 100000;
constexpr qint64 kMaxImagePixels = 100'000'000;
constexpr qint64 kMaxMaskPixels = 512'000'000;

QJsonArray rectToJson(const QRectF& r) {
    return {r.left(), r.top(), r.right(), r.bottom()};
}

bool rectFromJson(const QJsonValue& v, QRectF* out) {
    const QJsonArray a = v.toArray();
    if (a.size() != 4) return false;
    double x[4];
    for (int i = 0; i < 4; ++i) {
        if (!a[i].isDouble() || !std::isfinite(a[i].toDouble())) return false;
        x[i] = a[i].toDouble();
    }
    *out = QRectF(QPointF(x[0], x[1]), QPointF(x[2], x[3])).normalized();
    return true;
}

QJsonArray pointsToJson(const QList<QPointF>& pts) {
    QJsonArray a;
    for (const auto& p : pts) a.append(QJsonArray{p.x(), p.y()});
    return a;
}

bool pointsFromJson(const QJsonValue& v, QList<QPointF>* out) {
    if (v.isUndefined()) return true;
    if (!v.isArray() || v.toArray().size() > kMaxItems) return false;
    for (const auto& p : v.toArray()) {
        const QJsonArray xy = p.toArray();
        if (xy.size() != 2 || !xy[0].isDouble() || !xy[1].isDouble()) return false;
        out->append(QPointF(xy[0].toDouble(), xy[1].toDouble()));
    }
    return true;
}

}  // namespace

SessionData sessionFromDocument(const ImageDocument& doc, const SessionSettings& settings) {
    SessionData d;
    d.imagePath =
        doc.imagePath().isEmpty() ? QString() : QFileInfo(doc.imagePath()).absoluteFilePath();
    d.imageHash = doc.imageHash();
    d.imageWidth = doc.image().width();
    d.imageHeight = doc.image().height();
    if (doc.isPair()) {
        d.pairPath = QFileInfo(doc.pair().secondPath).absoluteFilePath();
        d.pairHash = doc.pair().secondHash;
    }
    d.regions = doc.regions();
    d.chat = doc.chat();
    d.settings = settings;
    return d;
}

namespace {

QByteArray maskToPng(const QImage& mask) {
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    mask.save(&buffer, "PNG");
    return bytes;
}

// A mask from a session: a PNG of exactly the image's size (checked in the header before
// decoding, so a hostile file cannot make it allocate more), else a null image.
QImage maskFromPng(const QByteArray& png, const QSize& imageSize) {
    QBuffer buffer;
    buffer.setData(png);
    buffer.open(QIODevice::ReadOnly);
    QImageReader reader(&buffer, "PNG");
    if (!imageSize.isValid() || reader.size() != imageSize) return {};
    QImage mask = reader.read();
    return mask.isNull() ? mask : mask.convertToFormat(QImage::Format_Grayscale8);
}

}  // namespace

QByteArray sessionToJson(const SessionData& d) {
    QJsonArray regions;
    for (const auto& r : d.regions) {
        QJsonObject o{{"id", r.id},
                      {"kind", r.kind == Region::Kind::Box     ? "box"
                                : r.kind == Region::Kind::Point ? "point"
                                                                : "scribble"},
                      {"box", rectToJson(r.box)},
                      {"colour", r.colour.name()}};
        if (!r.positive.isEmpty()) o["positive"] = pointsToJson(r.positive);
        if (!r.negative.isEmpty()) o["negative"] = pointsToJson(r.negative);
        if (r.hasMask()) o["mask_png"] = QString::fromLatin1(maskToPng(r.mask).toBase64());
        regions.append(o);
    }
    QJsonArray chat;
    for (const auto& e : d.chat) {
        QJsonObject o{{"role", e.role == ChatEntry::Role::User ? "user" : "assistant"},
                      {"text", e.text}};
        if (!e.prompt.isEmpty()) o["prompt"] = e.prompt;
        if (!e.error.isEmpty()) o["error"] = e.error;
        if (e.stopped) o["stopped"] = true;
        if (!e.boxes.isEmpty()) {
            QJsonArray boxes;
            for (const auto& b : e.boxes)
                boxes.append(QJsonObject{{"box", rectToJson(b.box)}, {"label", b.label}});
            o["boxes"] = boxes;
        }
        if (e.focus.valid) {
            o["focus"] = QJsonObject{
                {"macro_answer", e.focus.macroAnswer}, {"micro_answer", e.focus.microAnswer},
                {"macro_nll", e.focus.macroNll},       {"micro_nll", e.focus.microNll},
                {"micro_won", e.focus.microWon},       {"box", rectToJson(e.focus.box)},
                {"crop", rectToJson(e.focus.cropRect)}, {"scored", e.focus.scored},
                {"pipeline", e.focus.pipeline},        {"decided_by", e.focus.decidedBy}};
        }
        chat.append(o);
    }
    QJsonObject root{{"format", "regionchat-session"},
                     {"version", kFormatVersion},
                     {"image", QJsonObject{{"path", d.imagePath},
                                           {"sha256", d.imageHash},
                                           {"width", d.imageWidth},
                                           {"height", d.imageHeight}}},
                     {"regions", regions},
                     {"chat", chat},
                     {"settings", QJsonObject{{"model_dir", d.settings.modelDir},
                                              {"dual_focus", d.settings.dualFocus},
                                              {"max_new_tokens", d.settings.maxNewTokens}}}};
    if (!d.pairPath.isEmpty())
        root.insert("pair_image", QJsonObject{{"path", d.pairPath}, {"sha256", d.pairHash}});
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

bool sessionFromJson(const QByteArray& json, SessionData* out, QString* error) {
    auto fail = [&](const QString& why) {
        if (error) *error = why;
        return false;
    };
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    if (pe.error != QJsonParseError::NoError)
        return fail(
            QStringLiteral("not valid JSON (%1 at byte %2)").arg(pe.errorString()).arg(pe.offset));
    const QJsonObject root = doc.object();
    if (root.value("format").toString() != "regionchat-session")
        return fail("not a RegionChat session file");
    if (root.value("version").toInt(-1) != kFormatVersion)
        return fail(QStringLiteral("session format version %1 is not supported")
                        .arg(root.value("version").toVariant().toString()));
    SessionData d;
    const QJsonObject image = root.value("image").toObject();
    d.imagePath = image.value("path").toString();
    d.imageHash = image.value("sha256").toString();
    d.imageWidth = image.value("width").toInt();
    d.imageHeight = image.value("height").toInt();
    if (root.contains("pair_image")) {
        const QJsonObject pair = root.value("pair_image").toObject();
        d.pairPath = pair.value("path").toString();
        d.pairHash = pair.value("sha256").toString();
        if (d.pairPath.isEmpty()) return fail("pair_image has no path");
    }
    // The masks are decoded at the image's size: 100 Mpx at most (what images may be), and 512
    // Mpx of masks in all (an 873 KB session held 670 MB of them).
    if (qint64(d.imageWidth) * d.imageHeight > kMaxImagePixels)
        return fail(QStringLiteral("the image size %1x%2 is larger than 100 Mpx")
                        .arg(d.imageWidth)
                        .arg(d.imageHeight));
    const QJsonArray regions = root.value("regions").toArray();
    const QJsonArray chat = root.value("chat").toArray();
    if (regions.size() > kMaxItems || chat.size() > kMaxItems)
        return fail("the session has too many items");
    qint64 masks = 0;
    for (const auto& v : regions) masks += v.toObject().contains("mask_png");
    if (masks * d.imageWidth * d.imageHeight > kMaxMaskPixels)
        return fail(QStringLiteral("the session's masks are larger than 512 Mpx in all (%1 masks "
                                   "of %2x%3)")
                        .arg(masks)
                        .arg(d.imageWidth)
                        .arg(d.imageHeight));
    QSet<int> ids;
    for (int i = 0; i < regions.size(); ++i) {
        const QJsonObject o = regions[i].toObject();
        Region r;
        r.id = o.value("id").toInt(0);
        if (r.id <= 0 || ids.contains(r.id))
            return fail(QStringLiteral("region %1 has a bad or repeated id").arg(i + 1));
        ids.insert(r.id);
        const QString kind = o.value("kind").toString();
        if (kind != "box" && kind != "point" && kind != "scribble")
            return fail(QStringLiteral("region %1 has an unknown kind").arg(r.id));
        r.kind = kind == "box"     ? Region::Kind::Box
                 : kind == "point" ? Region::Kind::Point
                                   : Region::Kind::Scribble;
        if (!rectFromJson(o.value("box"), &r.box))
            return fail(QStringLiteral("region %1 has a bad box").arg(r.id));
        if (!pointsFromJson(o.value("positive"), &r.positive) ||
            !pointsFromJson(o.value("negative"), &r.negative))
            return fail(QStringLiteral("region %1 has bad points").arg(r.id));
        r.colour = QColor(o.value("colour").toString());
        if (!r.colour.isValid()) r.colour = regionColour(r.id);
        if (o.contains("mask_png")) {
            r.mask = maskFromPng(QByteArray::fromBase64(o.value("mask_png").toString().toLatin1()),
                                 QSize(d.imageWidth, d.imageHeight));
            if (r.mask.isNull()) return fail(QStringLiteral("region %1 has a bad mask").arg(r.id));
        }
        d.regions.append(r);
    }
    for (int i = 0; i < chat.size(); ++i) {
        const QJsonObject o = chat[i].toObject();
        ChatEntry e;
        const QString role = o.value("role").toString();
        if (role != "user" && role != "assistant")
            return fail(QStringLiteral("message %1 has an unknown role").arg(i + 1));
        e.role = role == "user" ? ChatEntry::Role::User : ChatEntry::Role::Assistant;
        e.text = o.value("text").toString();
        e.prompt = o.value("prompt").toString();
        e.error = o.value("error").toString();
        e.stopped = o.value("stopped").toBool();
        for (const auto& bv : o.value("boxes").toArray()) {
            GroundingBox b;
            if (!rectFromJson(bv.toObject().value("box"), &b.box))
                return fail(QStringLiteral("message %1 has a bad box").arg(i + 1));
            b.label = bv.toObject().value("label").toString();
            e.boxes.append(b);
        }
        if (o.contains("focus")) {
            const QJsonObject f = o.value("focus").toObject();
            e.focus.valid = true;
            e.focus.macroAnswer = f.value("macro_answer").toString();
            e.focus.microAnswer = f.value("micro_answer").toString();
            e.focus.macroNll = f.value("macro_nll").toDouble();
            e.focus.microNll = f.value("micro_nll").toDouble();
            e.focus.microWon = f.value("micro_won").toBool();
            // Sessions from before these keys: a crop meant both answers were scored.
            e.focus.scored = f.contains("scored") ? f.value("scored").toBool()
                                                  : f.contains("crop");
            e.focus.pipeline = f.value("pipeline").toString();
            e.focus.decidedBy = f.value("decided_by").toString();
            rectFromJson(f.value("box"), &e.focus.box);
            rectFromJson(f.value("crop"), &e.focus.cropRect);
        }
        d.chat.append(e);
    }
    const QJsonObject s = root.value("settings").toObject();
    d.settings.modelDir = s.value("model_dir").toString();
    d.settings.dualFocus = s.value("dual_focus").toBool();
    d.settings.maxNewTokens = std::clamp(s.value("max_new_tokens").toInt(128), 1, 4096);
    *out = d;
    return true;
}

bool writeSessionFile(const QString& path, const SessionData& data, QString* error) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) {
        if (error) *error = f.errorString();
        return false;
    }
    f.write(sessionToJson(data));
    if (!f.commit()) {
        if (error) *error = f.errorString();
        return false;
    }
    return true;
}

bool readSessionFile(const QString& path, SessionData* data, QString* error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        if (error) *error = f.errorString();
        return false;
    }
    if (f.size() > kMaxSessionBytes) {
        if (error) *error = QStringLiteral("the file is larger than 64 MiB");
        return false;
    }
    return sessionFromJson(f.readAll(), data, error);
}

QString fileSha256(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return QString::fromLatin1(h.result().toHex());
}

}  // namespace rcui
