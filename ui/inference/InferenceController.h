// The GUI side of the worker: starts the thread, sends requests, drops results of stale ids
// ("latest request wins"), and on destruction cancels, quits and waits.
#pragma once

#include <QHash>
#include <QObject>
#include <QThread>
#include <atomic>
#include <memory>
#include <optional>

#include "inference/InferenceTypes.h"

namespace rcui {

class InferenceWorker;

class InferenceController : public QObject {
    Q_OBJECT

public:
    explicit InferenceController(QObject* parent = nullptr);
    ~InferenceController() override;  ///< cancels, quits the thread and waits for it

    /// Loads a model asynchronously ("" = embedded model; device "auto", "cpu", "cuda";
    /// dtype "auto", "fp32", "fp16", "bf16").
    void loadModel(const QString& dir, const QString& device = QStringLiteral("auto"),
                   const QString& dtype = QStringLiteral("auto"));
    /// Asks; a running request is cancelled first. Returns the request id.
    quint64 ask(AskRequest request);
    /// Cancels the running request (it ends with answered(..., stopped = true)).
    /// Answers through an OpenAI-compatible server (modelReady / modelFailed, as a load).
    void connectServer(const RemoteServer& server);
    void stop();
    void resetConversation();

    bool isBusy() const { return busy_; }
    bool isLoading() const { return loading_; }
    bool hasModel() const { return hasModel_; }
    const ModelSummary& model() const { return model_; }
    quint64 currentId() const { return current_; }
    /// The last question asked, as it went to the worker (the status bar's details and tests
    /// read it; images are shared, not copied).
    const std::optional<AskRequest>& lastRequest() const { return lastRequest_; }

    // --- proposals and SAM (their own cancellation: they never stop an answer) ---
    /// Runs a proposal generator ("classic", "sam") on the worker; an older run is cancelled.
    void generateProposals(const QImage& image, const QString& generator);
    /// "Which region is this?": ranks proposals by the model's caption loss of `phrase` on the
    /// worker (cancelled by cancelProposals, which then says rankFailed("cancelled")).
    void rankProposals(const QImage& image, const QList<ProposalMask>& proposals,
                       const QString& phrase, quint32 seed);
    /// Stops the running proposal request; proposalsFailed("cancelled") follows at once.
    void cancelProposals();
    bool isProposing() const { return proposalId_ != 0; }
    /// Loads a SAM folder on the worker.
    void loadSam(const QString& dir);
    bool hasSam() const { return hasSam_; }
    bool isSamLoading() const { return samLoadId_ != 0; }
    /// The mask under the cursor, for the preview; only the newest request is computed.
    void requestSamHover(const QImage& image, const QPointF& pos);
    /// Drops the pending hover request (the cursor left the image).
    void cancelSamHover() { hoverLatest_->store(next_++); }
    /// The mask for a point region's points (answered by samRegionMask).
    void requestSamRegion(const QImage& image, int regionId, const QList<QPointF>& positive,
                          const QList<QPointF>& negative);

signals:
    void loadProgress(qint64 done, qint64 total);
    void modelReady(const rcui::ModelSummary& summary);
    void modelFailed(const QString& message);
    void token(const QString& piece);
    void stage(const QString& name);
    void answered(const rcui::AnswerResult& result);
    void failed(const QString& message);
    void busyChanged(bool busy);
    void proposalProgress(double fraction);
    void proposalsReady(const QList<rcui::ProposalMask>& proposals, double ms);
    void proposalsFailed(const QString& message);  ///< "cancelled" when cancelled
    void proposalsRanked(const QList<rcui::RankedProposal>& ranks, double ms);
    void rankFailed(const QString& message);  ///< "cancelled" when cancelled
    void samLoadProgress(qint64 done, qint64 total);
    void samReady(const QString& description);
    void samLoadFailed(const QString& message);
    /// A mask request (hover preview or a point region's) failed.
    void samFailed(const QString& message);
    void samHoverMask(const QImage& mask);
    /// `request` carries the points the mask was computed for (without the image).
    void samRegionMask(const rcui::SamRequest& request, const QImage& mask);

private:
    void setBusy(bool b);
    bool isCurrent(quint64 id) const { return id == current_; }
    /// Raises the cancel threshold (never lowers it: that would revive cancelled requests).
    void cancelBelow(quint64 id);
    void connectWorker();
    void connectSideRequests();
    void send(const AskRequest& request);
    /// After a load ends: the question asked while it ran goes out now.
    void sendPending();

    QThread thread_;
    InferenceWorker* worker_ = nullptr;  // lives on thread_, deleted when it finishes
    std::shared_ptr<std::atomic<quint64>> cancelBelow_;
    quint64 next_ = 1;
    quint64 current_ = 0;
    quint64 loadId_ = 0;
    bool busy_ = false;
    bool loading_ = false;
    /// A question asked while a model loads waits here (latest wins), so that cancelling it
    /// never cancels the load and stale questions never reach the worker.
    std::optional<AskRequest> pending_;
    std::optional<AskRequest> lastRequest_;
    bool hasModel_ = false;
    std::shared_ptr<std::atomic<quint64>> proposalCancelBelow_, hoverLatest_;
    quint64 proposalId_ = 0;  ///< the running proposal request, 0 when none
    bool ranking_ = false;    ///< the running proposal request is a ranking
    quint64 samLoadId_ = 0;
    bool hasSam_ = false;
    QHash<quint64, SamRequest> regionRequests_;
    ModelSummary model_;
};

}  // namespace rcui
