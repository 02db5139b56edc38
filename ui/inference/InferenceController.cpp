#include "inference/InferenceController.h"

#include <limits>

#include "inference/InferenceWorker.h"

namespace rcui {

InferenceController::InferenceController(QObject* parent)
    : QObject(parent),
      cancelBelow_(std::make_shared<std::atomic<quint64>>(0)),
      proposalCancelBelow_(std::make_shared<std::atomic<quint64>>(0)),
      hoverLatest_(std::make_shared<std::atomic<quint64>>(0)) {
    qRegisterMetaType<rcui::ModelSummary>("rcui::ModelSummary");
    qRegisterMetaType<rcui::AskRequest>("rcui::AskRequest");
    qRegisterMetaType<rcui::AnswerResult>("rcui::AnswerResult");
    qRegisterMetaType<rcui::SamRequest>("rcui::SamRequest");
    qRegisterMetaType<QList<rcui::ProposalMask>>("QList<rcui::ProposalMask>");
    qRegisterMetaType<QList<rcui::RankedProposal>>("QList<rcui::RankedProposal>");
    thread_.setObjectName(QStringLiteral("RegionChat inference"));
    worker_ = new InferenceWorker(cancelBelow_);
    worker_->setSideControls(proposalCancelBelow_, hoverLatest_);
    worker_->moveToThread(&thread_);
    // The worker is deleted on its own thread once the loop has stopped.
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connectWorker();
    connectSideRequests();
    thread_.start();
}

InferenceController::~InferenceController() {
    // Every request polls the atomic (per token, per tensor), so wait() is short.
    cancelBelow_->store(std::numeric_limits<quint64>::max());
    proposalCancelBelow_->store(std::numeric_limits<quint64>::max());
    hoverLatest_->store(std::numeric_limits<quint64>::max());
    thread_.quit();
    thread_.wait();
}

void InferenceController::connectWorker() {
    // Results cross threads as queued calls; anything not for the current request is dropped.
    const auto queued = Qt::QueuedConnection;
    connect(
        worker_, &InferenceWorker::loadProgress, this,
        [this](quint64 id, qint64 done, qint64 total) {
            if (id == loadId_) emit loadProgress(done, total);
        },
        queued);
    connect(
        worker_, &InferenceWorker::modelLoaded, this,
        [this](quint64 id, const ModelSummary& summary) {
            if (id != loadId_) return;
            loading_ = false;
            hasModel_ = true;
            model_ = summary;
            emit modelReady(summary);
            sendPending();
        },
        queued);
    connect(
        worker_, &InferenceWorker::token, this,
        [this](quint64 id, const QString& piece) {
            // A stopped request still finishes its current token; Stop means no more text.
            if (isCurrent(id) && id >= cancelBelow_->load()) emit token(piece);
        },
        queued);
    connect(
        worker_, &InferenceWorker::stage, this,
        [this](quint64 id, const QString& name) {
            if (isCurrent(id) && id >= cancelBelow_->load()) emit stage(name);
        },
        queued);
    connect(
        worker_, &InferenceWorker::answered, this,
        [this](quint64 id, const AnswerResult& result) {
            if (!isCurrent(id)) return;
            setBusy(false);
            emit answered(result);
        },
        queued);
    connect(
        worker_, &InferenceWorker::failed, this,
        [this](quint64 id, const QString& message) {
            if (id == loadId_ && loading_) {
                loading_ = false;
                emit modelFailed(message);
                sendPending();
            } else if (isCurrent(id)) {
                setBusy(false);
                emit failed(message);
            }
        },
        queued);
}

void InferenceController::connectSideRequests() {
    const auto queued = Qt::QueuedConnection;
    connect(
        worker_, &InferenceWorker::proposalProgress, this,
        [this](quint64 id, double f) {
            if (id == proposalId_) emit proposalProgress(f);
        },
        queued);
    connect(
        worker_, &InferenceWorker::proposalsReady, this,
        [this](quint64 id, const QList<ProposalMask>& proposals, double ms) {
            if (id != proposalId_) return;
            proposalId_ = 0;
            emit proposalsReady(proposals, ms);
        },
        queued);
    connect(
        worker_, &InferenceWorker::proposalsFailed, this,
        [this](quint64 id, const QString& message) {
            if (id != proposalId_) return;
            proposalId_ = 0;
            emit proposalsFailed(message);
        },
        queued);
    connect(
        worker_, &InferenceWorker::proposalsRanked, this,
        [this](quint64 id, const QList<RankedProposal>& ranks, double ms) {
            if (id != proposalId_) return;
            proposalId_ = 0;
            emit proposalsRanked(ranks, ms);
        },
        queued);
    connect(
        worker_, &InferenceWorker::rankFailed, this,
        [this](quint64 id, const QString& message) {
            if (id != proposalId_) return;
            proposalId_ = 0;
            emit rankFailed(message);
        },
        queued);
    connect(
        worker_, &InferenceWorker::samLoadProgress, this,
        [this](quint64 id, qint64 done, qint64 total) {
            if (id == samLoadId_) emit samLoadProgress(done, total);
        },
        queued);
    connect(
        worker_, &InferenceWorker::samLoaded, this,
        [this](quint64 id, const QString& description) {
            if (id != samLoadId_) return;
            samLoadId_ = 0;
            hasSam_ = true;
            emit samReady(description);
        },
        queued);
    connect(
        worker_, &InferenceWorker::samFailed, this,
        [this](quint64 id, const QString& message) {
            if (id == samLoadId_) {
                samLoadId_ = 0;
                emit samLoadFailed(message);
                return;
            }
            // A mask request failed: report it unless a newer request made it stale.
            if (regionRequests_.remove(id) > 0 || id == hoverLatest_->load())
                emit samFailed(message);
        },
        queued);
    connect(
        worker_, &InferenceWorker::samMaskReady, this,
        [this](quint64 id, int, bool hover, const QImage& mask, double) {
            if (hover) {
                if (id == hoverLatest_->load()) emit samHoverMask(mask);
                return;
            }
            const auto it = regionRequests_.find(id);
            if (it == regionRequests_.end()) return;
            const SamRequest request = *it;
            regionRequests_.erase(it);
            emit samRegionMask(request, mask);
        },
        queued);
}

void InferenceController::generateProposals(const QImage& image, const QString& generator) {
    const quint64 id = next_++;
    proposalCancelBelow_->store(id);  // an older run stops at its next progress call
    proposalId_ = id;
    ranking_ = false;
    QMetaObject::invokeMethod(
        worker_,
        [w = worker_, id, image, generator] { w->generateProposals(id, image, generator); },
        Qt::QueuedConnection);
}

void InferenceController::rankProposals(const QImage& image, const QList<ProposalMask>& proposals,
                                        const QString& phrase, quint32 seed) {
    const quint64 id = next_++;
    proposalCancelBelow_->store(id);
    proposalId_ = id;
    ranking_ = true;
    QMetaObject::invokeMethod(
        worker_,
        [w = worker_, id, image, proposals, phrase, seed] {
            w->rankProposals(id, image, proposals, phrase, seed);
        },
        Qt::QueuedConnection);
}

void InferenceController::cancelProposals() {
    if (!proposalId_) return;
    // The worker stops at its next progress call; whatever it still sends is stale.
    proposalCancelBelow_->store(proposalId_ + 1);
    proposalId_ = 0;
    if (ranking_)
        emit rankFailed(QStringLiteral("cancelled"));
    else
        emit proposalsFailed(QStringLiteral("cancelled"));
}

void InferenceController::loadSam(const QString& dir) {
    samLoadId_ = next_++;
    hasSam_ = false;
    QMetaObject::invokeMethod(
        worker_, [w = worker_, id = samLoadId_, dir] { w->loadSam(id, dir); },
        Qt::QueuedConnection);
}

void InferenceController::requestSamHover(const QImage& image, const QPointF& pos) {
    if (!hasSam_) return;
    SamRequest r;
    r.id = next_++;
    r.image = image;
    r.positive = {pos};
    r.hover = true;
    hoverLatest_->store(r.id);
    QMetaObject::invokeMethod(
        worker_, [w = worker_, r] { w->samMask(r); }, Qt::QueuedConnection);
}

void InferenceController::requestSamRegion(const QImage& image, int regionId,
                                           const QList<QPointF>& positive,
                                           const QList<QPointF>& negative) {
    if (!hasSam_) return;
    SamRequest r;
    r.id = next_++;
    r.regionId = regionId;
    r.positive = positive;
    r.negative = negative;
    SamRequest kept = r;  // without the image
    r.image = image;
    regionRequests_.insert(r.id, kept);
    QMetaObject::invokeMethod(
        worker_, [w = worker_, r] { w->samMask(r); }, Qt::QueuedConnection);
}

void InferenceController::cancelBelow(quint64 id) {
    quint64 old = cancelBelow_->load();
    while (id > old && !cancelBelow_->compare_exchange_weak(old, id)) {
    }
}

void InferenceController::loadModel(const QString& dir, const QString& device,
                                    const QString& dtype) {
    loadId_ = next_++;
    cancelBelow(loadId_);  // a new model supersedes older loads and running answers
    loading_ = true;
    QMetaObject::invokeMethod(
        worker_,
        [w = worker_, id = loadId_, dir, device, dtype] { w->loadModel(id, dir, device, dtype); },
        Qt::QueuedConnection);
}

void InferenceController::connectServer(const RemoteServer& server) {
    loadId_ = next_++;
    cancelBelow(loadId_);
    loading_ = true;
    QMetaObject::invokeMethod(
        worker_, [w = worker_, id = loadId_, server] { w->connectServer(id, server); },
        Qt::QueuedConnection);
}

quint64 InferenceController::ask(AskRequest request) {
    request.id = next_++;
    current_ = request.id;
    lastRequest_ = request;
    setBusy(true);
    if (loading_) {
        // Older questions stop; the load (id below this one) goes on, and this waits for it.
        cancelBelow(loadId_);
        pending_ = request;
    } else {
        cancelBelow(request.id);  // every older request stops within one token
        send(request);
    }
    return request.id;
}

void InferenceController::send(const AskRequest& request) {
    QMetaObject::invokeMethod(
        worker_, [w = worker_, request] { w->ask(request); }, Qt::QueuedConnection);
}

void InferenceController::sendPending() {
    if (!pending_) return;
    const AskRequest request = *pending_;
    pending_.reset();
    cancelBelow(request.id);
    send(request);
}

void InferenceController::stop() {
    if (!busy_) return;
    if (pending_) {
        // Never reached the worker: answer "stopped" here, the load goes on.
        pending_.reset();
        AnswerResult result;
        result.stopped = true;
        result.stopReason = QStringLiteral("abort");
        setBusy(false);
        emit answered(result);
        return;
    }
    cancelBelow(current_ + 1);
}

void InferenceController::resetConversation() {
    QMetaObject::invokeMethod(
        worker_, [w = worker_] { w->resetConversation(); }, Qt::QueuedConnection);
}

void InferenceController::setBusy(bool b) {
    if (b == busy_) return;
    busy_ = b;
    emit busyChanged(b);
}

}  // namespace rcui
