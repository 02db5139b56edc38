#include "crash_safety_writer.h"

#include <QDir>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QSettings>
#include <QStringList>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "document/SessionFile.h"
#include "regionchat/bench.h"

namespace {

constexpr int kChatEntries = 40, kRegions = 3, kMmeCases = 200, kSide = 256;

rcui::SessionData sessionVersion(qint64 n) {
    rcui::SessionData d;
    d.imagePath = QStringLiteral("/nonexistent/crash-safety.png");
    d.imageHash = QString(64, '0');
    d.imageWidth = d.imageHeight = kSide;
    d.settings.maxNewTokens = int(n % 4000) + 1;
    for (int k = 0; k < kRegions; ++k) {
        rcui::Region r;
        r.id = k + 1;
        r.kind = rcui::Region::Kind::Box;
        r.box = QRectF(k, k, 10 + n % 100, 10);
        r.colour = QColor(Qt::red);
        // A noisy mask, so that each session is some 100 KB and takes a while to write.
        r.mask = QImage(kSide, kSide, QImage::Format_Grayscale8);
        uint32_t x = uint32_t(n * 2654435761u + k);
        for (int y = 0; y < kSide; ++y)
            for (int c = 0; c < kSide; ++c) {
                x = x * 1664525u + 1013904223u;
                r.mask.scanLine(y)[c] = (x >> 24) & 1 ? 255 : 0;
            }
        d.regions.append(r);
    }
    for (int k = 0; k < kChatEntries; ++k) {
        rcui::ChatEntry e;
        e.role = k % 2 ? rcui::ChatEntry::Role::Assistant : rcui::ChatEntry::Role::User;
        e.text = QStringLiteral("version %1 entry %2").arg(n).arg(k);
        d.chat.append(e);
    }
    return d;
}

}  // namespace

int runCrashSafetyWriter(const QString& dir) {
    QDir().mkpath(dir + "/mme");
    const QString session = dir + "/session.regionchat", recovery = dir + "/recovery.regionchat";
    // Go on from the version on disk: each run writes versions the last one did not.
    qint64 n = 0;
    rcui::SessionData old;
    QString error;
    if (rcui::readSessionFile(session, &old, &error) && !old.chat.isEmpty())
        n = old.chat.first().text.section(' ', 1, 1).toLongLong();
    std::printf("ready %lld\n", static_cast<long long>(n));
    std::fflush(stdout);
    for (;;) {
        ++n;
        const rcui::SessionData d = sessionVersion(n);
        if (!rcui::writeSessionFile(session, d, &error) ||
            !rcui::writeSessionFile(recovery, d, &error)) {
            std::fprintf(stderr, "%s\n", qPrintable(error));
            return 1;
        }
        {
            QSettings s(dir + "/settings.conf", QSettings::IniFormat);
            QStringList recent;
            for (int k = 0; k < 10; ++k) recent << QStringLiteral("v%1-%2").arg(n).arg(k);
            s.setValue("recentFiles", recent);
            s.setValue("samFolder", QStringLiteral("v%1").arg(n));
            s.setValue("version", n);
            s.sync();
            if (s.status() != QSettings::NoError) return 1;
        }
        std::vector<rc::bench::CaseResult> results(kMmeCases);
        for (int k = 0; k < kMmeCases; ++k) {
            auto& c = results[size_t(k)].bench_case;
            c.format = "mme";
            c.task = "existence";
            c.image_names = {"img" + std::to_string(k) + ".jpg"};
            c.question = "Is there a dog? Please answer yes or no.";
            c.answer = "Yes";
            results[size_t(k)].prediction = "v" + std::to_string(n);
        }
        rc::bench::write_mme_results((dir + "/mme").toStdString(), results);
        nlohmann::json scores = {{"version", n}, {"cases", kMmeCases}};
        std::string why;
        if (!rc::bench::write_file_atomically((dir + "/scores.json").toStdString(),
                                              scores.dump(2), &why))
            return 1;
        QJsonArray rows;
        for (int k = 0; k < kMmeCases; ++k)
            rows.append(QJsonObject{{"id", k}, {"prediction", QStringLiteral("v%1").arg(n)}});
        QSaveFile f(dir + "/dock-export.json");
        if (!f.open(QIODevice::WriteOnly)) return 1;
        f.write(QJsonDocument(QJsonObject{{"version", n}, {"cases", rows}}).toJson());
        if (!f.commit()) return 1;
        std::printf("round %lld\n", static_cast<long long>(n));
        std::fflush(stdout);
    }
}
