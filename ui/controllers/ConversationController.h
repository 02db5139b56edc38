// The conversation with the model: a question becomes a prompt (regions in the model's format,
// or drawn on the image with visual prompts), its answer streams into the document with the
// boxes it names (and the dual-focus details); boxes become regions or zoom targets; the
// conversation is exported as Markdown plus an annotated PNG.
#pragma once

#include <QObject>
#include <QString>

namespace rcui {

class CanvasView;
class ChatPanel;
class ImageDocument;
class InferenceController;
class UserFeedback;

class ConversationController : public QObject {
    Q_OBJECT

public:
    ConversationController(ImageDocument* doc, InferenceController* inference, CanvasView* canvas,
                           ChatPanel* chat, UserFeedback* feedback, QObject* parent = nullptr);

    /// Asks a question as if typed in the chat (kept until the model is ready while it loads).
    void ask(const QString& question);
    /// Edit > New Conversation: stops the answer, clears the chat; the model starts afresh.
    void newConversation();
    /// The image is being replaced: the chat answer stops (any answer, a benchmark run's too,
    /// when `stopAnyAnswer`), proposals are cancelled, the next question starts a conversation
    /// about the new image.
    void startOver(bool stopAnyAnswer);

    /// Regions go to the model drawn on the image ("region N") instead of as box text
    /// (remembered in the settings).
    void setVisualPrompts(bool on);
    bool visualPrompts() const { return visualPrompts_; }
    /// The seed point-prompt models (RegionVLM) sample region points from; shown with answers.
    void setPointSeed(quint32 seed) { pointSeed_ = seed; }

    /// Writes the conversation as Markdown to `path` (.md) plus the annotated image beside it
    /// (.png); false with a message on failure.
    bool exportConversation(const QString& path);
    /// File > Export Conversation: asks for the path.
    void exportConversationAs();
    /// File > Copy Annotated Image.
    void copyAnnotatedImage();
    /// A grounding box (index into the document's groundingBoxes()) becomes a box region.
    void makeRegionFromBox(int index);
    /// Highlights a grounding box and zooms the canvas to it.
    void zoomToBox(int index);

signals:
    /// An answer finished (including stopped and failed ones).
    void answerFinished();
    /// An answer was written into the document (the window autosaves).
    void answerRecorded();
    /// Speed of the last answer, for the status bar ("12.3 tokens/s · 450 ms").
    void speedMeasured(const QString& text);
    void visualPromptsChanged(bool on);

private:
    void connectInference();

    ImageDocument* doc_;
    InferenceController* inference_;
    CanvasView* canvas_;
    ChatPanel* chat_;
    UserFeedback* feedback_;
    bool visualPrompts_ = false;
    quint32 pointSeed_ = 0;
    QString pendingQuestion_;
    int streamingEntry_ = -1;    // index of the assistant entry receiving tokens
    qint64 imageKey_ = 0;        // bumps with every new image (the worker resets its session)
    qint64 visualImageKey_ = 0;  // images with visual prompts drawn get keys -1, -2, …
    QString visualSignature_;    // what the current visual-prompt key was drawn from
    bool conversationStarted_ = false;
};

}  // namespace rcui
