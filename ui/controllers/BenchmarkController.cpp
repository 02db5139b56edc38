#include "controllers/BenchmarkController.h"

#include <QFileDialog>

#include "bench/BenchmarkDock.h"
#include "canvas/CanvasView.h"
#include "controllers/UserFeedback.h"
#include "document/ImageDocument.h"

namespace rcui {

BenchmarkController::BenchmarkController(ImageDocument* doc, BenchmarkDock* dock,
                                         CanvasView* canvas, UserFeedback* feedback,
                                         QObject* parent)
    : QObject(parent), doc_(doc), dock_(dock), canvas_(canvas), feedback_(feedback) {
    connect(dock_, &BenchmarkDock::caseOpened, this, &BenchmarkController::showCase);
    connect(dock_, &BenchmarkDock::caseLoading, this,
            [this](const QString& title) { feedback_->showStatus(tr("Opening %1…").arg(title)); });
}

void BenchmarkController::openBenchmark(const QString& dir) {
    dock_->show();
    dock_->raise();
    if (!dock_->openBenchmark(dir))
        feedback_->showError(tr("Cannot open the benchmark"), dock_->lastMessage());
}

void BenchmarkController::chooseBenchmark() {
    const QString dir = QFileDialog::getExistingDirectory(
        canvas_->window(), tr("Open a benchmark folder (MME, MMVM or grounding .jsonl)"));
    if (!dir.isEmpty()) openBenchmark(dir);
}

void BenchmarkController::showCase(const BenchCaseView& view) {
    if (view.image.isNull()) {
        feedback_->showStatus(tr("%1: the image cannot be read").arg(view.title), 8000);
        return;
    }
    feedback_->clearStatus();
    emit replacingImage();
    doc_->setImage(view.image, view.title);
    ChatEntry question;
    question.role = ChatEntry::Role::User;
    question.text = view.question;
    question.prompt = view.question;
    doc_->appendEntry(question);
    ChatEntry answer;
    answer.role = ChatEntry::Role::Assistant;
    answer.text =
        view.hasResult ? view.prediction : tr("(not run yet) Ground truth: %1").arg(view.truth);
    if (view.hasResult)
        answer.text += tr("\n— %1; ground truth: %2")
                           .arg(view.correct ? tr("right") : tr("wrong"), view.truth);
    for (const QRectF& b : view.truthBoxes) answer.boxes.append({b, tr("ground truth")});
    for (const QRectF& b : view.predictedBoxes) answer.boxes.append({b, tr("prediction")});
    doc_->appendEntry(answer);
    doc_->setModified(false);
    canvas_->fitToWindow();
}

}  // namespace rcui
