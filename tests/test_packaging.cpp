// What the Debian package and the desktop rely on (issue 23): the version every place states
// it, the manual pages against the programs' --help, the desktop entry, the AppStream file
// and the MIME type through their own validators, the icon's sizes, and an install tree
// (`cmake --install`) whose programs find their data relative to themselves.
// packaging/deb.sh and packaging/install-test.sh check the package itself.
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QMimeDatabase>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "document/SessionFile.h"
#include "regionchat/data_paths.h"

namespace {

const QString kAppId = QStringLiteral("io.github.regionchat.RegionChat");
const QString kSessionType = QStringLiteral("application/x-regionchat-session");

QString sourceDir() { return qEnvironmentVariable("REGIONCHAT_SOURCE_DIR"); }
QString desktopDir() { return sourceDir() + "/resources/desktop"; }

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

struct Run {
    int code = -1;
    QString out, err;
};

Run run(const QString& program, const QStringList& args, int timeoutMs = 120000,
        const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment()) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(program, args);
    Run r;
    if (!p.waitForStarted(10000)) {
        r.err = program + ": " + p.errorString();
        return r;
    }
    if (!p.waitForFinished(timeoutMs)) p.kill();
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

// The options (--name) and, for the CLI, the commands a --help text names.
QSet<QString> optionsIn(const QString& help) {
    QSet<QString> names;
    static const QRegularExpression option(QStringLiteral("(?<![\\w-])--([a-z][a-z0-9-]*)"));
    for (auto it = option.globalMatch(help); it.hasNext();) names.insert("--" + it.next().captured(1));
    return names;
}

// A manual page's text with troff's escapes for '-' undone.
QString manText(const QString& page) {
    return QString::fromUtf8(readAll(sourceDir() + "/docs/man/" + page))
        .replace(QStringLiteral("\\-"), QStringLiteral("-"));
}

}  // namespace

class TestPackaging : public QObject {
    Q_OBJECT
    QTemporaryDir mimeRoot_;
    QString cli_, app_;

private slots:
    void initTestCase() {
        cli_ = qEnvironmentVariable("REGIONCHAT_CLI");
        app_ = qEnvironmentVariable("REGIONCHAT_APP");
        QVERIFY2(QFileInfo(cli_).isExecutable(), qPrintable("no regionchat-cli at " + cli_));
        QVERIFY2(QFileInfo(app_).isExecutable(), qPrintable("no regionchat at " + app_));
        // Our MIME file compiled on its own, found before the system's (QMimeDatabase reads
        // XDG_DATA_DIRS on first use, which is after this).
        QVERIFY(mimeRoot_.isValid());
        const QString packages = mimeRoot_.path() + "/mime/packages";
        QVERIFY(QDir().mkpath(packages));
        QVERIFY(QFile::copy(desktopDir() + "/" + kAppId + ".mime.xml",
                            packages + "/" + kAppId + ".xml"));
        if (!QStandardPaths::findExecutable("update-mime-database").isEmpty()) {
            const Run r = run("update-mime-database", {mimeRoot_.path() + "/mime"});
            QVERIFY2(r.code == 0, qPrintable(r.err));
        }
        qputenv("XDG_DATA_DIRS", (mimeRoot_.path() + ":/usr/share").toUtf8());
    }

    // One version: the CMake project's, in both programs, the Debian changelog and the
    // AppStream release list.
    void versionIsTheProjectsEverywhere() {
        const QString version = QStringLiteral(REGIONCHAT_PROJECT_VERSION);
        QCOMPARE(QString::fromLatin1(rc::version()), version);
        const Run cli = run(cli_, {"--version"});
        QCOMPARE(cli.code, 0);
        QVERIFY2(cli.out.startsWith("regionchat-cli " + version + "\n"), qPrintable(cli.out));
        QVERIFY2(cli.out.contains("LibTorch "), qPrintable(cli.out));
        // Without a display too (a terminal, a package's test): no window system is touched.
        QProcessEnvironment noDisplay = QProcessEnvironment::systemEnvironment();
        noDisplay.remove("DISPLAY");
        noDisplay.remove("WAYLAND_DISPLAY");
        noDisplay.insert("QT_QPA_PLATFORM", "xcb");
        const Run app = run(app_, {"--version"}, 120000, noDisplay);
        QVERIFY2(app.code == 0, qPrintable(app.err));
        QCOMPARE(app.out.trimmed(), "RegionChat " + version);
        QCOMPARE(run(app_, {"--help"}, 120000, noDisplay).code, 0);
        const QString changelog = QString::fromUtf8(readAll(sourceDir() + "/packaging/debian/changelog"));
        QVERIFY2(changelog.startsWith("regionchat (" + version + ") "), qPrintable(changelog.left(80)));
        const QString metainfo = QString::fromUtf8(readAll(desktopDir() + "/" + kAppId + ".metainfo.xml"));
        const QRegularExpression firstRelease(QStringLiteral("<release version=\"([^\"]+)\""));
        QCOMPARE(firstRelease.match(metainfo).captured(1), version);
    }

    // Every option and command --help names is described in the manual page (a new option
    // without documentation fails here), and the pages render without groff warnings.
    void manPagesDescribeEveryOption_data() {
        QTest::addColumn<QString>("program");
        QTest::addColumn<QString>("page");
        QTest::newRow("regionchat") << QStringLiteral("app") << QStringLiteral("regionchat.1");
        QTest::newRow("regionchat-cli") << QStringLiteral("cli") << QStringLiteral("regionchat-cli.1");
    }
    void manPagesDescribeEveryOption() {
        QFETCH(QString, program);
        QFETCH(QString, page);
        const Run help = run(program == "cli" ? cli_ : app_, {"--help"});
        QCOMPARE(help.code, 0);
        const QString man = manText(page);
        QVERIFY2(man.contains(".SH SYNOPSIS") && man.contains("@VERSION@"), qPrintable(page));
        QSet<QString> names = optionsIn(help.out);
        if (program == "cli") {
            static const QRegularExpression command(QStringLiteral("^  regionchat-cli ([a-z-]+)"),
                                                    QRegularExpression::MultilineOption);
            int commands = 0;
            for (auto it = command.globalMatch(help.out); it.hasNext(); ++commands)
                names.insert(".B " + it.next().captured(1));
            QVERIFY2(commands >= 9, qPrintable(help.out));
        }
        QVERIFY2(names.size() >= (program == "cli" ? 50 : 4),
                 qPrintable(QString::number(names.size())));
        QStringList missing;
        for (const QString& n : names)
            if (!man.contains(n)) missing << n;
        missing.sort();
        QVERIFY2(missing.isEmpty(), qPrintable(page + " lacks " + missing.join(", ")));
    }
    void manPagesRender() {
        if (QStandardPaths::findExecutable("groff").isEmpty()) QSKIP("groff is not installed");
        for (const QString page : {"regionchat.1", "regionchat-cli.1"}) {
            const Run r = run("groff", {"-man", "-t", "-ww", "-z", sourceDir() + "/docs/man/" + page});
            QVERIFY2(r.code == 0 && r.err.isEmpty(), qPrintable(page + ": " + r.err));
        }
    }

    void desktopFilesValidate() {
        const QString desktop = desktopDir() + "/" + kAppId + ".desktop";
        const QString metainfo = desktopDir() + "/" + kAppId + ".metainfo.xml";
        if (QStandardPaths::findExecutable("desktop-file-validate").isEmpty() ||
            QStandardPaths::findExecutable("appstreamcli").isEmpty())
            QSKIP("desktop-file-utils or appstream is not installed (packaging/install-deps.sh)");
        const Run d = run("desktop-file-validate", {desktop});
        QVERIFY2(d.code == 0 && d.out.trimmed().isEmpty(), qPrintable(d.out + d.err));
        const Run a = run("appstreamcli", {"validate", "--no-net", metainfo});
        QVERIFY2(a.code == 0, qPrintable(a.out + a.err));
        QVERIFY2(!a.out.contains("W:") && !a.out.contains("E:"), qPrintable(a.out));
    }

    // The entry starts the app with the file, names the icon and the types the app opens;
    // AppStream points at the entry and at screenshots that exist in docs/screenshots.
    void desktopEntryMatchesTheApp() {
        const QString entry = QString::fromUtf8(readAll(desktopDir() + "/" + kAppId + ".desktop"));
        auto value = [&](const QString& key) {
            const QRegularExpression re("^" + key + "=(.*)$", QRegularExpression::MultilineOption);
            return re.match(entry).captured(1);
        };
        QCOMPARE(value("Exec"), QStringLiteral("regionchat %f"));
        QCOMPARE(value("Icon"), kAppId);
        const QStringList types = value("MimeType").split(';', Qt::SkipEmptyParts);
        for (const QString t : {"application/x-regionchat-session", "image/png", "image/jpeg",
                                "image/bmp", "image/webp", "image/tiff"})
            QVERIFY2(types.contains(t), qPrintable(t));
        const QString metainfo = QString::fromUtf8(readAll(desktopDir() + "/" + kAppId + ".metainfo.xml"));
        QVERIFY(metainfo.contains("<launchable type=\"desktop-id\">" + kAppId + ".desktop</launchable>"));
        static const QRegularExpression shot(QStringLiteral("<image>[^<]*/docs/screenshots/([^<]+)</image>"));
        int shots = 0;
        for (auto it = shot.globalMatch(metainfo); it.hasNext(); ++shots) {
            const QString file = sourceDir() + "/docs/screenshots/" + it.next().captured(1);
            const QImage image(file);
            QVERIFY2(!image.isNull() && image.width() >= 620, qPrintable(file));
        }
        QVERIFY(shots >= 3);
    }

    // Each PNG is the size its folder says (what icon themes look up), rendered, not empty;
    // the scalable one is an SVG.
    void iconHasEverySize() {
        const QString hicolor = desktopDir() + "/icons/hicolor";
        for (int size : {16, 24, 32, 48, 64, 128, 256, 512}) {
            const QString path =
                QStringLiteral("%1/%2x%2/apps/%3.png").arg(hicolor).arg(size).arg(kAppId);
            const QImage icon(path);
            QVERIFY2(!icon.isNull(), qPrintable(path));
            QCOMPARE(icon.size(), QSize(size, size));
            QVERIFY(icon.hasAlphaChannel());
            // The badge fills the middle; the corners are transparent (rounded).
            QCOMPARE(qAlpha(icon.pixel(0, 0)), 0);
            QCOMPARE(qAlpha(icon.pixel(size / 2, size / 2)), 255);
        }
        const QByteArray svg = readAll(hicolor + "/scalable/apps/" + kAppId + ".svg");
        QVERIFY(svg.contains("<svg") && svg.contains("viewBox"));
    }

    // Saved sessions are recognised by name and, without it, by content; they are JSON.
    void mimeTypeRecognisesSessions() {
        if (QStandardPaths::findExecutable("update-mime-database").isEmpty())
            QSKIP("shared-mime-info is not installed (packaging/install-deps.sh)");
        QMimeDatabase db;
        const QMimeType byName = db.mimeTypeForFile(QStringLiteral("talk.regionchat"),
                                                    QMimeDatabase::MatchExtension);
        QCOMPARE(byName.name(), kSessionType);
        QVERIFY(byName.inherits(QStringLiteral("application/json")));
        rcui::SessionData d;
        d.imagePath = QStringLiteral("/tmp/scene.png");
        d.imageWidth = 464;
        d.imageHeight = 549;
        QTemporaryDir dir;
        QFile f(dir.filePath(QStringLiteral("saved-without-extension")));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(rcui::sessionToJson(d));
        f.close();
        QCOMPARE(db.mimeTypeForFile(f.fileName(), QMimeDatabase::MatchContent).name(), kSessionType);
        // Plain JSON stays JSON.
        QFile plain(dir.filePath(QStringLiteral("plain")));
        QVERIFY(plain.open(QIODevice::WriteOnly));
        plain.write("{\"format\": \"something-else\", \"version\": 1}\n");
        plain.close();
        QVERIFY(db.mimeTypeForFile(plain.fileName(), QMimeDatabase::MatchContent).name() != kSessionType);
    }

    // `cmake --install` into a fresh prefix: the layout the package has, and programs that run
    // from it on their own data (the plugin and the embedded model found from the executable).
    void installTreeRunsFromItsPrefix() {
        QTemporaryDir prefix;
        const Run install = run(QStringLiteral(REGIONCHAT_CMAKE_COMMAND),
                                {"--install", QStringLiteral(REGIONCHAT_BINARY_DIR), "--prefix",
                                 prefix.path()},
                                300000);
        QVERIFY2(install.code == 0, qPrintable(install.out + install.err));
        const QString p = prefix.path();
        for (const QString f :
             {"bin/regionchat", "bin/regionchat-cli", "lib/regionchat/plugins/libregionchat_spm.so",
              "share/regionchat/models/shapes-tiny/config.json",
              "share/regionchat/models/shapes-tiny/model.safetensors",
              "share/regionchat/samples/scene_1000000000.png",
              "share/applications/io.github.regionchat.RegionChat.desktop",
              "share/metainfo/io.github.regionchat.RegionChat.metainfo.xml",
              "share/mime/packages/io.github.regionchat.RegionChat.xml",
              "share/icons/hicolor/scalable/apps/io.github.regionchat.RegionChat.svg",
              "share/icons/hicolor/48x48/apps/io.github.regionchat.RegionChat.png",
              "share/man/man1/regionchat.1.gz", "share/man/man1/regionchat-cli.1.gz",
              "share/doc/regionchat/copyright", "share/doc/regionchat/changelog.gz"})
            QVERIFY2(QFileInfo::exists(p + "/" + f), qPrintable(f));
        QCOMPARE(QString::fromStdString(rc::data_dir_for((p + "/bin/regionchat").toStdString())),
                 QFileInfo(p + "/share/regionchat").canonicalFilePath());
        // The build tree's own programs read the source tree's resources.
        QCOMPARE(QString::fromStdString(rc::data_dir_for(cli_.toStdString())),
                 sourceDir() + "/resources");
        const Run version = run(p + "/bin/regionchat-cli", {"--version"});
        QVERIFY2(version.out.contains("data: " + QFileInfo(p + "/share/regionchat").canonicalFilePath()),
                 qPrintable(version.out));
        // The manual page is compressed and carries the version.
        const Run man = run("gzip", {"-dc", p + "/share/man/man1/regionchat-cli.1.gz"});
        QVERIFY(man.out.contains("RegionChat " + QStringLiteral(REGIONCHAT_PROJECT_VERSION)));
        QVERIFY(!man.out.contains("@VERSION@"));
        QProcess ask;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("REGIONCHAT_MODEL");
        ask.setProcessEnvironment(env);
        ask.setWorkingDirectory(prefix.path());
        ask.start(p + "/bin/regionchat-cli",
                  {"ask", "--image", p + "/share/regionchat/samples/scene_1000000000.png", "--box",
                   "154,175,221,242", "--question", "What is in the region <region>?"});
        QVERIFY(ask.waitForFinished(120000));
        const QString answer = QString::fromUtf8(ask.readAllStandardOutput());
        QVERIFY2(ask.exitCode() == 0 && answer.contains("circle"),
                 qPrintable(answer + ask.readAllStandardError()));
    }
};

QTEST_GUILESS_MAIN(TestPackaging)
#include "test_packaging.moc"
