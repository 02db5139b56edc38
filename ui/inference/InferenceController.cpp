#include "inference/InferenceController.h"

#include <limits>

#include "inference/InferenceWorker.h"

namespace rcui {

InferenceController::InferenceController(QObject* parent)
    : QObject(parent), cancelBelow_(std::make_shared<std::atomic<quint64>>(0)) {
    qRegisterMetaType<rcui::ModelSummary>("rcui::ModelSummary");
    qRegisterMetaType<rcui::AskRequest>("rcui::AskRequest");
    qRegisterMetaType<rcui::AnswerResult>("rcui::AnswerResult");
    thread_.setObjectName(QStringLiteral("RegionChat inference"));
    worker_ = new InferenceWorker(cancelBelow_);
    worker_->moveToThread(&thread_);
    // The worker is deleted on its own thread once the loop has stopped.
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connectWorker();
    thread_.start();
}

InferenceController::~InferenceController() {
    // Every request polls the atomic (per token, per tensor), so wait() is short.
    cancelBelow_->store(std::numeric_limits<quint64>::max());
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

quint64 InferenceController::ask(AskRequest request) {
    request.id = next_++;
    current_ = request.id;
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
