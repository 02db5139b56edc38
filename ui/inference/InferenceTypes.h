// Plain data crossing the GUI <-> worker thread boundary (queued signals copy them).
#pragma once

#include <QImage>
#include <QList>
#include <QMetaType>
#include <QRectF>
#include <QSize>
#include <QString>
#include <QStringList>

#include <memory>

#include "document/ChatEntry.h"
#include "document/Region.h"

namespace rc {
struct DualFocusQuestion;
struct ChatRequest;
}

namespace rcui {

/// What the window shows about a loaded model.
struct ModelSummary {
    QString dir;
    QString name;    ///< folder name
    QString device;  ///< "cpu", "cuda:0"
    QString dtype;   ///< "fp32", "fp16", "bf16"
    qint64 parameters = 0;
    QString backend;       ///< which backend answers ("local: <folder>")
    QString regionFormat;  ///< the name of the format regions are written in (display only)
    /// The model reads regions as rows of their masks, on any of a question's images (CoLVA):
    /// the benchmark dock asks MMVM cases as CoLVA's evaluation kit does.
    bool regionTokens = false;
    double loadMs = 0;
    QStringList warnings;
};

/// An OpenAI-compatible server to answer through (Model > Connect to Server).
struct RemoteServer {
    QString url;           ///< "http://host:8000" ("/v1" is added)
    QString apiKey;        ///< kept in memory only: never in settings, sessions or logs
    QString model;         ///< the server's model id ("": its first)
    QString regionFormat;  ///< "": guessed from the model's name
};

/// One question for the worker.
struct AskRequest {
    quint64 id = 0;
    QString question;  ///< with `<region N>` references (resolveRegionReferences)
    QList<Region> regions;       ///< the regions referred to (the backend writes or draws them)
    bool visualPrompts = false;  ///< draw the regions on the image, refer to "region N"
    QImage image;    ///< the document's image (the worker re-encodes only when it changed)
    QList<QImage> extraImages;     ///< more images for this question (MMVM's candidate frame)
    qint64 imageKey = 0;           ///< changes when the document's image changes
    bool newConversation = false;  ///< forget earlier turns first
    bool dualFocus = false;        ///< run the three-pass DualFocus pipeline instead of one answer
    /// The question as a DualFocus benchmark script reads it (MMBench's hint and options);
    /// null: parsed from `question`.
    std::shared_ptr<const rc::DualFocusQuestion> dualFocusQuestion;
    int maxNewTokens = 128;
    double temperature = 0;
    QString subject;  ///< label for grounding boxes (e.g. "the red circle")
    /// Seed of the points a point-prompt model (RegionVLM) samples inside masks and boxes.
    quint32 pointSeed = 0;
    /// A request built whole elsewhere (CoLVA's MMVM case: two frames, region tokens on both),
    /// sent as it is instead of question/regions/images; asked in a new conversation.
    std::shared_ptr<const rc::ChatRequest> prepared;
    /// An image pair (ImageDocument::ImagePair) asked of a model that reads regions across
    /// images: `image` is the side-by-side canvas, sent as its two images (splitImagePair).
    int pairSplit = 0;
    QSize pairFirst, pairSecond;
};

/// "Which region is this?": one proposal's caption loss for the phrase (lower is better).
struct RankedProposal {
    int proposal = -1;  ///< index into the document's proposals
    double loss = 0;
};

/// A SAM prompt from the canvas: points in image pixels.
struct SamRequest {
    quint64 id = 0;
    QImage image;
    QList<QPointF> positive, negative;
    int regionId = 0;    ///< the point region the mask is for; 0 for the hover preview
    bool hover = false;  ///< preview under the cursor: skipped when a newer one is waiting
};

struct AnswerTimings {
    double imageEncodeMs = 0, prefillMs = 0, firstTokenMs = 0, totalMs = 0, tokensPerSecond = 0;
    int promptTokens = 0;     ///< the whole conversation prompt
    int reusedTokens = 0;     ///< of those, kept from the KV cache
    int generatedTokens = 0;  ///< answer tokens (dual focus: streamed pieces of all passes)
};

/// The finished answer (also sent when stopped, with stopped = true and the partial text).
struct AnswerResult {
    QString prompt;  ///< the question as the model read it (regions written by the backend)
    QString text;
    QList<QRectF> boxes;  ///< image pixels
    QString stopReason;   ///< "eos", "length", "abort"
    bool stopped = false;
    AnswerTimings timings;
    FocusInfo focus;  ///< dual focus only
    QImage crop;      ///< dual focus only
};

}  // namespace rcui

Q_DECLARE_METATYPE(rcui::ModelSummary)
Q_DECLARE_METATYPE(rcui::ProposalMask)
Q_DECLARE_METATYPE(rcui::AskRequest)
Q_DECLARE_METATYPE(rcui::SamRequest)
Q_DECLARE_METATYPE(rcui::AnswerResult)
Q_DECLARE_METATYPE(rcui::RankedProposal)
