// regionchat: the desktop app. `regionchat [--model DIR] [--device D] [IMAGE | SESSION.regionchat]`
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>

#include "MainWindow.h"
#include "crash_safety_writer.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName("RegionChat");
    QApplication::setOrganizationName("RegionChat");
    QApplication::setApplicationVersion(QStringLiteral(REGIONCHAT_VERSION));

    QCommandLineParser cli;
    cli.setApplicationDescription(
        "Talk with a region-aware vision-language model about parts of an image.");
    cli.addHelpOption();
    cli.addVersionOption();
    QCommandLineOption model(
        "model", "Model folder (Hugging Face llava layout); default: the embedded model.", "DIR");
    QCommandLineOption device("device", "auto, cpu or cuda.", "DEVICE", "auto");
    QCommandLineOption presentation("presentation",
                                    "Start in presentation mode (full screen, large overlays).");
    // Test hook (tests/test_crash_safety.cpp): rewrite every file the app replaces until killed.
    QCommandLineOption crashWriter("crash-safety-writer", "Test hook.", "DIR");
    crashWriter.setFlags(QCommandLineOption::HiddenFromHelp);
    cli.addOptions({model, device, presentation, crashWriter});
    cli.addPositionalArgument("file", "An image, or a .regionchat session, to open.",
                              "[IMAGE|SESSION]");
    cli.process(app);
    if (cli.isSet(crashWriter)) return runCrashSafetyWriter(cli.value(crashWriter));

    rcui::MainWindowOptions options;
    options.modelDir = cli.value(model);
    options.device = cli.value(device);
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
        if (cli.isSet(presentation)) window.setPresentationMode(true);
    });
    return app.exec();
}
