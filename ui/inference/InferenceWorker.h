// Owns the core model and conversation on its own QThread. Requests come in through queued
// slots and carry an id; results go out through queued signals with that id. Cancellation is
// an atomic shared with the controller: every request whose id is below it stops within one
// token (the generate loop polls it) or one tensor (the loader polls it).
#pragma once

#include <QObject>
#include <atomic>
#include <limits>
#include <memory>

#include "inference/InferenceTypes.h"

namespace rc {
class ChatBackend;
class Model;
class SamModel;
struct ChatRequest;
struct GenerateParams;
}  // namespace rc

namespace rcui {

/// An ask as core's chat request, as the worker hands it to the backend (regions as data, the
/// image attached when `withImage`; with visualPrompts the backend draws the regions on it).
rc::ChatRequest chatRequestFor(const AskRequest& request, bool withImage);

class InferenceWorker : public QObject {
    Q_OBJECT

public:
    /// `cancelBelow`: requests with an id < *cancelBelow are cancelled.
    explicit InferenceWorker(std::shared_ptr<std::atomic<quint64>> cancelBelow);
    ~InferenceWorker() override;

    /// The embedded model's folder (rc::embedded_model_dir(): $REGIONCHAT_MODEL, else
    /// PREFIX/share/regionchat/models/shapes-tiny when installed, else the source tree's copy).
    static QString embeddedModelDir();

public slots:
    /// Loads a model folder ("" = the embedded model); replaces the current one on success.
    void loadModel(quint64 id, const QString& dir, const QString& device,
                   const QString& dtype = QStringLiteral("auto"));
    void ask(const rcui::AskRequest& request);
    /// Region proposals for `image` from "classic" or "sam" (SAM must be loaded). Cancelled
    /// when the id is below the proposal threshold (see setSideControls).
    void generateProposals(quint64 id, const QImage& image, const QString& generator);
    /// "Which region is this?": ranks `proposals` by the model's caption loss of `phrase`
    /// (RegionVLM's referring-segmentation rule, rc::rank_regions). Cancelled like proposals.
    void rankProposals(quint64 id, const QImage& image, const QList<rcui::ProposalMask>& proposals,
                       const QString& phrase, quint32 seed);
    /// Loads a SAM folder (config.json + model.safetensors); replaces the current SAM.
    void loadSam(quint64 id, const QString& dir);
    /// One SAM decoder pass for the request's points (the image embedding is cached).
    void samMask(const rcui::SamRequest& request);
    /// Forgets the conversation (next ask starts a new one).
    void resetConversation();
    /// Answers through an OpenAI-compatible server from now on (modelLoaded or failed).
    void connectServer(quint64 id, const rcui::RemoteServer& server);

signals:
    void loadProgress(quint64 id, qint64 done, qint64 total);
    void modelLoaded(quint64 id, const rcui::ModelSummary& summary);
    void token(quint64 id, const QString& piece);
    /// DualFocus stage: "macro", "box", "micro", "score".
    void stage(quint64 id, const QString& name);
    void answered(quint64 id, const rcui::AnswerResult& result);
    void failed(quint64 id, const QString& message);
    void proposalProgress(quint64 id, double fraction);
    void proposalsReady(quint64 id, const QList<rcui::ProposalMask>& proposals, double ms);
    void proposalsFailed(quint64 id, const QString& message);
    void proposalsRanked(quint64 id, const QList<rcui::RankedProposal>& ranks, double ms);
    void rankFailed(quint64 id, const QString& message);
    void samLoadProgress(quint64 id, qint64 done, qint64 total);
    void samLoaded(quint64 id, const QString& description);
    void samFailed(quint64 id, const QString& message);
    /// The best mask for a SamRequest (null when SAM found nothing).
    void samMaskReady(quint64 id, int regionId, bool hover, const QImage& mask, double iou);

public:
    /// Thresholds shared with the controller: proposal requests below `proposalCancelBelow`
    /// stop at their next progress call; hover requests below `hoverLatest` are skipped.
    void setSideControls(std::shared_ptr<std::atomic<quint64>> proposalCancelBelow,
                         std::shared_ptr<std::atomic<quint64>> hoverLatest);

private:
    /// One turn of the kept conversation (a new image key or newConversation starts over).
    AnswerResult askConversation(const AskRequest& request, const rc::GenerateParams& params);
    /// The three-pass DualFocus pipeline on fresh conversations of the backend.
    AnswerResult askDualFocus(const AskRequest& request, const rc::GenerateParams& params);
    bool cancelled(quint64 id) const { return id < cancelBelow_->load(); }
    /// The controller is being destroyed (it raises every threshold to the maximum).
    bool shuttingDown() const {
        return proposalCancelBelow_ &&
               proposalCancelBelow_->load() == std::numeric_limits<quint64>::max();
    }
    std::shared_ptr<std::atomic<quint64>> cancelBelow_;
    std::shared_ptr<rc::Model> model_;
    std::shared_ptr<rc::SamModel> sam_;
    std::shared_ptr<std::atomic<quint64>> proposalCancelBelow_, hoverLatest_;
    /// The conversation: the local engine behind the chat-backend seam.
    std::unique_ptr<rc::ChatBackend> backend_;
    qint64 sessionImageKey_ = -1;
};

}  // namespace rcui
