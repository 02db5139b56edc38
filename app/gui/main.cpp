// regionchat: the desktop app. `regionchat [--model DIR] [--device D] [IMAGE | SESSION.regionchat]`
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QIcon>
#include <QTimer>

#include <cstring>

#include "MainWindow.h"
#include "crash_safety_writer.h"
#include "regionchat/data_paths.h"

namespace {

// The installed icon theme's (hicolor) when there is one, else the copy built in.
QIcon appIcon() {
    QIcon builtIn;
    for (int size : {16, 32, 48, 64, 128, 256})
        builtIn.addFile(QStringLiteral(":/icons/%1.png").arg(size), QSize(size, size));
    return QIcon::fromTheme(QStringLiteral("io.github.regionchat.RegionChat"), builtIn);
}

// The command line. --help and --version are answered without a display: main() parses them
// with a QCoreApplication before the window system is touched.
struct Options {
    QCommandLineOption model{
        "model", "Model folder (Hugging Face llava layout); default: the embedded model.", "DIR"};
    QCommandLineOption device{"device", "auto, cpu or cuda.", "DEVICE", "auto"};
    QCommandLineOption presentation{"presentation",
                                    "Start in presentation mode (full screen, large overlays)."};
    // Test hook (tests/test_crash_safety.cpp): rewrite every file the app replaces until killed.
    QCommandLineOption crashWriter{"crash-safety-writer", "Test hook.", "DIR"};

    void setUp(QCommandLineParser& cli) {
        cli.setApplicationDescription(
            "Talk with a region-aware vision-language model about parts of an image.");
        cli.addHelpOption();
        cli.addVersionOption();
        crashWriter.setFlags(QCommandLineOption::HiddenFromHelp);
        cli.addOptions({model, device, presentation, crashWriter});
        cli.addPositionalArgument("file", "An image, or a .regionchat session, to open.",
                                  "[IMAGE|SESSION]");
    }
};

void setIdentity() {
    // Settings in $XDG_CONFIG_HOME/RegionChat/RegionChat.conf, recovery files in
    // $XDG_DATA_HOME/RegionChat/RegionChat (QSettings, QStandardPaths).
    QCoreApplication::setApplicationName("RegionChat");
    QCoreApplication::setOrganizationName("RegionChat");
    QCoreApplication::setApplicationVersion(QString::fromLatin1(rc::version()));
}

bool onlyHelpOrVersion(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        for (const char* flag : {"-h", "--help", "--help-all", "-v", "--version", "-?"})
            if (!std::strcmp(argv[i], flag)) return true;
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (onlyHelpOrVersion(argc, argv)) {
        QCoreApplication app(argc, argv);
        setIdentity();
        Options o;
        QCommandLineParser cli;
        o.setUp(cli);
        cli.process(app);  // prints and exits
        return 0;
    }
    QApplication app(argc, argv);
    setIdentity();
    // The desktop entry's name: Wayland's app id, and how docks match the window to it.
    QApplication::setDesktopFileName(QStringLiteral("io.github.regionchat.RegionChat"));
    QApplication::setWindowIcon(appIcon());

    Options o;
    QCommandLineParser cli;
    o.setUp(cli);
    cli.process(app);
    if (cli.isSet(o.crashWriter)) return runCrashSafetyWriter(cli.value(o.crashWriter));

    rcui::MainWindowOptions options;
    options.modelDir = cli.value(o.model);
    options.device = cli.value(o.device);
    rcui::MainWindow window(options);
    window.show();
    const QStringList files = cli.positionalArguments();
    QTimer::singleShot(0, &window, [&] {
        if (!files.isEmpty()) {
            if (files.first().endsWith(".regionchat"))
                window.openSession(files.first());
            else
                window.openImage(files.first());
        } else {
            window.offerRecovery();
        }
        if (cli.isSet(o.presentation)) window.setPresentationMode(true);
    });
    return app.exec();
}
