// The Benchmark dock in the window: opening a set (File menu, samples) and showing an opened
// case on the canvas and in the chat (its image, question, truth and prediction boxes).
#pragma once

#include <QObject>
#include <QString>

namespace rcui {

class BenchmarkDock;
struct BenchCaseView;
class CanvasView;
class ImageDocument;
class UserFeedback;

class BenchmarkController : public QObject {
    Q_OBJECT

public:
    BenchmarkController(ImageDocument* doc, BenchmarkDock* dock, CanvasView* canvas,
                        UserFeedback* feedback, QObject* parent = nullptr);

    /// Shows the dock and opens the set in `dir`; errors show in the window.
    void openBenchmark(const QString& dir);
    /// File > Open Benchmark…: asks for the folder.
    void chooseBenchmark();
    /// Shows a case: its image, question, truth and prediction boxes.
    void showCase(const BenchCaseView& view);

signals:
    /// The image is about to be replaced by a case's (a chat answer stops; a run goes on).
    void replacingImage();

private:
    ImageDocument* doc_;
    BenchmarkDock* dock_;
    CanvasView* canvas_;
    UserFeedback* feedback_;
};

}  // namespace rcui
