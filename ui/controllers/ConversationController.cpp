#include "controllers/ConversationController.h"

#include <QApplication>
#include <QClipboard>
#include <QFileDialog>
#include <QFileInfo>
#include <QPlainTextEdit>
#include <QSaveFile>
#include <QSettings>
#include <utility>

#include "canvas/CanvasView.h"
#include "chat/ChatPanel.h"
#include "chat/PromptComposer.h"
#include "controllers/UserFeedback.h"
#include "document/AddRegionCommand.h"
#include "document/ImageDocument.h"
#include "inference/InferenceController.h"

namespace rcui {

ConversationController::ConversationController(ImageDocument* doc, InferenceController* inference,
                                               CanvasView* canvas, ChatPanel* chat,
                                               UserFeedback* feedback, QObject* parent)
    : QObject(parent),
      doc_(doc),
      inference_(inference),
      canvas_(canvas),
      chat_(chat),
      feedback_(feedback) {
    connect(chat_, &ChatPanel::sendRequested, this, &ConversationController::ask);
    connect(chat_, &ChatPanel::stopRequested, inference_, &InferenceController::stop);
    connect(chat_, &ChatPanel::boxClicked, this, &ConversationController::zoomToBox);
    connect(chat_, &ChatPanel::makeRegionRequested, this,
            &ConversationController::makeRegionFromBox);
    connectInference();
}

void ConversationController::connectInference() {
    connect(inference_, &InferenceController::modelReady, this, [this] {
        conversationStarted_ = false;
        if (!pendingQuestion_.isEmpty()) ask(std::exchange(pendingQuestion_, QString()));
    });
    connect(inference_, &InferenceController::busyChanged, chat_, &ChatPanel::setBusy);
    connect(inference_, &InferenceController::stage, this, [this](const QString& s) {
        feedback_->showStatus(tr("Dual focus: %1 pass…").arg(s));
        // Each pass streams its own answer; show the current pass only.
        if (streamingEntry_ >= 0 && streamingEntry_ < doc_->chat().size()) {
            ChatEntry e = doc_->chat()[streamingEntry_];
            e.text.clear();
            doc_->updateEntry(streamingEntry_, e);
        }
    });
    connect(inference_, &InferenceController::token, this, [this](const QString& piece) {
        if (streamingEntry_ < 0 || streamingEntry_ >= doc_->chat().size()) return;
        ChatEntry e = doc_->chat()[streamingEntry_];
        e.text += piece;
        doc_->updateEntry(streamingEntry_, e);
    });
    connect(inference_, &InferenceController::answered, this, [this](const AnswerResult& r) {
        if (streamingEntry_ < 0 || streamingEntry_ >= doc_->chat().size()) return;
        ChatEntry e = doc_->chat()[streamingEntry_];
        const QString question =
            streamingEntry_ > 0 ? doc_->chat()[streamingEntry_ - 1].text : QString();
        if (streamingEntry_ > 0 && !r.prompt.isEmpty()) {
            // What the model read: the regions as its backend wrote (or drew) them.
            ChatEntry user = doc_->chat()[streamingEntry_ - 1];
            if (user.role == ChatEntry::Role::User && user.prompt != r.prompt) {
                user.prompt = r.prompt;
                doc_->updateEntry(streamingEntry_ - 1, user);
            }
        }
        e.text = r.text;
        e.streaming = false;
        e.stopped = r.stopped;
        e.tokensPerSecond = r.timings.tokensPerSecond;
        e.boxes.clear();
        for (const QRectF& b : r.boxes) e.boxes.append({b, groundingLabel(question, r.text)});
        e.focus = r.focus;
        doc_->updateEntry(streamingEntry_, e);
        if (r.focus.valid) doc_->setLastFocus(r.focus, r.crop);
        QString speed = r.timings.tokensPerSecond > 0
                            ? tr("%1 tokens/s · %2 ms")
                                  .arg(r.timings.tokensPerSecond, 0, 'f', 1)
                                  .arg(r.timings.totalMs, 0, 'f', 0)
                            : tr("answered in %1 ms").arg(r.timings.totalMs, 0, 'f', 0);
        // Point-prompt models: the seed the region points were drawn with (the prompt shows them).
        if (r.prompt.contains(QLatin1String("<points ")))
            speed += tr(" · point seed %1").arg(pointSeed_);
        emit speedMeasured(speed);
        streamingEntry_ = -1;
        feedback_->clearStatus();
        emit answerRecorded();
        emit answerFinished();
    });
    connect(inference_, &InferenceController::failed, this, [this](const QString& msg) {
        if (streamingEntry_ >= 0 && streamingEntry_ < doc_->chat().size()) {
            ChatEntry e = doc_->chat()[streamingEntry_];
            e.streaming = false;
            e.error = msg;
            doc_->updateEntry(streamingEntry_, e);
        }
        streamingEntry_ = -1;
        feedback_->noteError(msg);
        emit answerFinished();
    });
}

void ConversationController::ask(const QString& question) {
    if (question.trimmed().isEmpty()) return;
    if (!doc_->hasImage()) {
        feedback_->showError(
            tr("No image"),
            tr("Open an image first (File > Open Image, or drop one on the window)."));
        return;
    }
    if (!inference_->hasModel()) {
        pendingQuestion_ = question;
        feedback_->showStatus(
            tr("The model is still loading; the question will be asked when it is ready."));
        return;
    }
    QString error;
    QList<int> ids;
    const QString prompt = resolveRegionReferences(question, *doc_, &error, &ids);
    if (prompt.isEmpty()) {
        chat_->input()->setPlainText(question);  // the panel cleared it; give it back
        feedback_->showError(tr("Cannot ask that"), error);
        return;
    }
    if (streamingEntry_ >= 0 && streamingEntry_ < doc_->chat().size()) {
        // A new question while one runs: the old one is cancelled and marked so.
        ChatEntry old = doc_->chat()[streamingEntry_];
        old.streaming = false;
        old.stopped = true;
        doc_->updateEntry(streamingEntry_, old);
    }
    ChatEntry user;
    user.role = ChatEntry::Role::User;
    user.text = question;
    user.prompt = prompt;  // the model's own text replaces it when the answer arrives
    doc_->appendEntry(user);
    ChatEntry answer;
    answer.role = ChatEntry::Role::Assistant;
    answer.streaming = true;
    doc_->appendEntry(answer);
    streamingEntry_ = doc_->chat().size() - 1;

    AskRequest req;
    req.question = prompt;
    req.regions = regionsWithIds(*doc_, ids);
    req.visualPrompts = visualPrompts_;
    req.pointSeed = pointSeed_;
    req.image = doc_->image();
    req.imageKey = imageKey_;
    req.newConversation = !conversationStarted_;
    if (visualPrompts_ && !ids.isEmpty()) {
        // Visual prompts: the backend draws the regions on the image this question sends. The
        // same drawing keeps its key (and the conversation about it); another one is a new
        // image.
        QStringList signature{QString::number(imageKey_)};
        for (int id : ids) {
            const Region* r = doc_->region(id);
            const QRectF b = r->box;
            signature << QStringLiteral("%1:%2,%3,%4,%5:%6:%7")
                             .arg(id)
                             .arg(b.left())
                             .arg(b.top())
                             .arg(b.width())
                             .arg(b.height())
                             .arg(r->hasMask() ? r->mask.cacheKey() : 0)
                             .arg(r->colour.name());
        }
        const QString key = signature.join(QLatin1Char(';'));
        if (key != visualSignature_) {
            visualSignature_ = key;
            ++visualImageKey_;
        }
        req.imageKey = -visualImageKey_;
    }
    if (doc_->isPair() && inference_->model().regionTokens) {
        // An image pair for a model that reads regions across images (CoLVA): its two images,
        // each region on its own; one question at a time, as CoLVA's kit asks.
        req.pairSplit = doc_->pair().split;
        req.pairFirst = doc_->pair().first;
        req.pairSecond = doc_->pair().second;
        req.newConversation = true;
    }
    req.dualFocus = chat_->dualFocus();
    req.subject = question;
    conversationStarted_ = true;
    inference_->ask(req);
}

void ConversationController::newConversation() {
    inference_->stop();
    doc_->clearChat();
    inference_->resetConversation();
    conversationStarted_ = false;
}

void ConversationController::startOver(bool stopAnyAnswer) {
    // A benchmark run goes on unless asked; a chat answer streaming into the old image stops.
    if (stopAnyAnswer || streamingEntry_ >= 0) inference_->stop();
    inference_->cancelProposals();  // they were for the old image
    streamingEntry_ = -1;
    ++imageKey_;
    conversationStarted_ = false;
}

void ConversationController::setVisualPrompts(bool on) {
    visualPrompts_ = on;
    QSettings().setValue("visualPrompts", on);
    emit visualPromptsChanged(on);
}

void ConversationController::exportConversationAs() {
    if (!doc_->hasImage()) return;
    const QString path = QFileDialog::getSaveFileName(canvas_->window(), tr("Export Conversation"),
                                                      QString(), tr("Markdown (*.md)"));
    if (!path.isEmpty()) exportConversation(path.endsWith(".md") ? path : path + ".md");
}

bool ConversationController::exportConversation(const QString& path) {
    if (!doc_->hasImage()) return false;
    const QString png = path.chopped(3) + ".png";
    if (!canvas_->renderAnnotated().save(png)) {
        feedback_->showError(tr("Cannot export"), tr("Cannot write %1").arg(png));
        return false;
    }
    QString md = tr("# RegionChat — %1\n\n![%1](%2)\n\n")
                     .arg(QFileInfo(doc_->imagePath()).fileName(), QFileInfo(png).fileName());
    auto pixels = [](const QRectF& b) {
        return QStringLiteral("[%1, %2, %3, %4] px")
            .arg(b.left(), 0, 'f', 0)
            .arg(b.top(), 0, 'f', 0)
            .arg(b.right(), 0, 'f', 0)
            .arg(b.bottom(), 0, 'f', 0);
    };
    for (const auto& r : doc_->regions())
        md += tr("- Region %1: %2\n").arg(r.id).arg(pixels(r.box));
    md += "\n";
    for (const auto& e : doc_->chat()) {
        if (e.role == ChatEntry::Role::User) {
            md += tr("**You:** %1\n\n").arg(e.text);
        } else {
            md += tr("**RegionChat:** %1%2\n\n")
                      .arg(e.text, e.stopped ? tr(" *(stopped)*") : QString());
            for (const auto& b : e.boxes) md += tr("- box “%1”: %2\n").arg(b.label, pixels(b.box));
            if (!e.boxes.isEmpty()) md += "\n";
        }
    }
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(md.toUtf8()) < 0 || !f.commit()) {
        feedback_->showError(tr("Cannot export"), tr("Cannot write %1").arg(path));
        return false;
    }
    feedback_->showStatus(
        tr("Exported %1 and %2").arg(QFileInfo(path).fileName(), QFileInfo(png).fileName()), 5000);
    return true;
}

void ConversationController::copyAnnotatedImage() {
    if (!doc_->hasImage()) return;
    QApplication::clipboard()->setImage(canvas_->renderAnnotated());
    feedback_->showStatus(tr("Annotated image copied"), 3000);
}

void ConversationController::makeRegionFromBox(int index) {
    const auto boxes = doc_->groundingBoxes();
    if (index < 0 || index >= boxes.size()) return;
    Region r;
    r.id = doc_->nextRegionId();
    r.kind = Region::Kind::Box;
    r.box = boxes[index].box;
    r.colour = regionColour(r.id);
    doc_->undoStack()->push(new AddRegionCommand(doc_, r));
    doc_->setSelectedRegion(r.id);
}

void ConversationController::zoomToBox(int index) {
    const auto boxes = doc_->groundingBoxes();
    if (index < 0 || index >= boxes.size()) return;
    doc_->setHighlightedBox(index);
    canvas_->zoomToRect(boxes[index].box);
}

}  // namespace rcui
