// Crash safety, proven with real processes: `regionchat --crash-safety-writer DIR` rewrites a
// session, the autosave recovery file, the settings, the MME result files, scores.json and the
// benchmark dock's export through the app's own writers, round after round; this test SIGKILLs
// it at random moments, 200 times in two folders, and after every kill reads each file back:
// each must be absent (before its first write) or one whole version, never a torn one, and
// versions never go back.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>

#include "document/SessionFile.h"

namespace {

// The version a file holds: -1 when absent, -2 (and *why) when it is not one whole version.
struct Versions {
    qint64 session = -1, recovery = -1, settings = -1, mme = -1, scores = -1, dock = -1;
};

qint64 sessionVersion(const QString& path, QString* why) {
    if (!QFile::exists(path)) return -1;
    rcui::SessionData d;
    QString error;
    if (!rcui::readSessionFile(path, &d, &error)) {
        *why = path + ": " + error;
        return -2;
    }
    if (d.chat.size() != 40 || d.regions.size() != 3) {
        *why = path + ": a session of " + QString::number(d.chat.size()) + " entries";
        return -2;
    }
    const qint64 n = d.chat.first().text.section(' ', 1, 1).toLongLong();
    for (int k = 0; k < d.chat.size(); ++k)
        if (d.chat[k].text != QStringLiteral("version %1 entry %2").arg(n).arg(k)) {
            *why = path + ": entry " + QString::number(k) + " is '" + d.chat[k].text + "'";
            return -2;
        }
    for (const auto& r : d.regions)
        if (r.mask.size() != QSize(256, 256)) {
            *why = path + ": a mask was lost";
            return -2;
        }
    return n;
}

qint64 settingsVersion(const QString& path, QString* why) {
    if (!QFile::exists(path)) return -1;
    QSettings s(path, QSettings::IniFormat);
    if (s.status() != QSettings::NoError || !s.contains("version")) {
        *why = path + ": unreadable or without a version";
        return -2;
    }
    const qint64 n = s.value("version").toLongLong();
    const QStringList recent = s.value("recentFiles").toStringList();
    bool whole = recent.size() == 10 && s.value("samFolder").toString() == QStringLiteral("v%1").arg(n);
    for (int k = 0; whole && k < recent.size(); ++k)
        whole = recent[k] == QStringLiteral("v%1-%2").arg(n).arg(k);
    if (!whole) {
        *why = path + ": version " + QString::number(n) + " with other versions' values";
        return -2;
    }
    return n;
}

qint64 mmeVersion(const QString& path, QString* why) {
    if (!QFile::exists(path)) return -1;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return -2;
    const QList<QByteArray> lines = f.readAll().split('\n');
    // 200 lines and the empty piece after the last newline.
    if (lines.size() != 201 || !lines.last().isEmpty()) {
        *why = path + ": " + QString::number(lines.size() - 1) + " lines";
        return -2;
    }
    const QByteArray last = lines.first().split('\t').value(3);
    for (int k = 0; k < 200; ++k)
        if (lines[k].split('\t').size() != 4 || lines[k].split('\t')[3] != last) {
            *why = path + ": line " + QString::number(k) + " is from another version";
            return -2;
        }
    return last.mid(1).toLongLong();
}

qint64 jsonVersion(const QString& path, int cases, QString* why) {
    if (!QFile::exists(path)) return -1;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return -2;
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
        *why = path + ": " + pe.errorString();
        return -2;
    }
    const QJsonObject o = doc.object();
    const qint64 n = o.value("version").toInteger(-2);
    if (o.value("cases").isArray()) {
        const QJsonArray rows = o.value("cases").toArray();
        if (rows.size() != cases) return -2;
        for (const auto& r : rows)
            if (r.toObject().value("prediction").toString() != QStringLiteral("v%1").arg(n)) {
                *why = path + ": a row from another version";
                return -2;
            }
    } else if (o.value("cases").toInt() != cases) {
        return -2;
    }
    return n;
}

}  // namespace

class TestCrashSafety : public QObject {
    Q_OBJECT

private slots:
    void killedWritersLeaveWholeFiles();
};

void TestCrashSafety::killedWritersLeaveWholeFiles() {
    QString app = qEnvironmentVariable("REGIONCHAT_APP");
    QVERIFY2(QFile::exists(app), "REGIONCHAT_APP is not set to the regionchat binary (run through CTest)");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    constexpr int kLanes = 2, kKillsPerLane = 100;
    QRandomGenerator rng(20261203);
    Versions seen[kLanes];
    int kills = 0, torn = 0, before_first = 0;
    qint64 rounds = 0;
    for (int round = 0; round < kKillsPerLane; ++round) {
        QProcess procs[kLanes];
        for (int lane = 0; lane < kLanes; ++lane) {
            procs[lane].setProcessChannelMode(QProcess::ForwardedErrorChannel);
            procs[lane].start(app, {"--crash-safety-writer", tmp.filePath(QString::number(lane))});
        }
        for (int lane = 0; lane < kLanes; ++lane) {
            QProcess& p = procs[lane];
            QVERIFY2(p.waitForStarted(30000), qPrintable(p.errorString()));
            // Wait for "ready", then let it write for 0-120 ms (a round takes some 20-60 ms
            // here, so kills land in every file's write).
            while (!p.canReadLine()) QVERIFY2(p.waitForReadyRead(60000), "the writer never said ready");
            QVERIFY(p.readLine().startsWith("ready"));
        }
        QTest::qWait(int(rng.bounded(120)));
        for (int lane = 0; lane < kLanes; ++lane) {
            QProcess& p = procs[lane];
            QCOMPARE(p.state(), QProcess::Running);  // still writing: the kill is mid-work
            ::kill(pid_t(p.processId()), SIGKILL);
            QVERIFY(p.waitForFinished(30000));
            QCOMPARE(p.exitStatus(), QProcess::CrashExit);
            ++kills;
            const QByteArray out = p.readAllStandardOutput();
            rounds += out.count("round ");
            if (out.count("round ") == 0) ++before_first;  // killed inside its first round
            const QString dir = tmp.filePath(QString::number(lane));
            QString why;
            Versions now;
            now.session = sessionVersion(dir + "/session.regionchat", &why);
            now.recovery = sessionVersion(dir + "/recovery.regionchat", &why);
            now.settings = settingsVersion(dir + "/settings.conf", &why);
            now.mme = mmeVersion(dir + "/mme/existence.txt", &why);
            now.scores = jsonVersion(dir + "/scores.json", 2, &why);
            if (now.scores == -2) {  // scores.json: {"version": n, "cases": 200}
                why.clear();
                now.scores = jsonVersion(dir + "/scores.json", 200, &why);
            }
            now.dock = jsonVersion(dir + "/dock-export.json", 200, &why);
            const qint64 got[] = {now.session, now.recovery, now.settings, now.mme, now.scores, now.dock};
            const qint64 before[] = {seen[lane].session, seen[lane].recovery, seen[lane].settings,
                                     seen[lane].mme, seen[lane].scores, seen[lane].dock};
            for (int f = 0; f < 6; ++f) {
                if (got[f] == -2) ++torn;
                QVERIFY2(got[f] != -2, qPrintable(QString("after kill %1: %2").arg(kills).arg(why)));
                QVERIFY2(got[f] >= before[f], "a file went back to an older version");
            }
            // Written in this order each round: no file may be ahead of the one written before.
            QVERIFY(now.session >= now.recovery && now.recovery >= now.settings &&
                    now.settings >= now.mme && now.mme >= now.scores && now.scores >= now.dock);
            seen[lane] = now;
        }
    }
    qInfo("%d kills, %lld whole rounds written in all, %d runs killed inside their first round, "
          "%d torn files",
          kills, static_cast<long long>(rounds), before_first, torn);
    QVERIFY(kills >= 200);
    QCOMPARE(torn, 0);
    // The kills did land while files were being replaced, not only between runs.
    QVERIFY(seen[0].session > 10 && seen[1].session > 10);
}

QTEST_GUILESS_MAIN(TestCrashSafety)
#include "test_crash_safety.moc"
