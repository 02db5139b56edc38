// The GUI side of the worker: starts the thread, sends requests, drops results of stale ids
// ("latest request wins"), and on destruction cancels, quits and waits.
#pragma once

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
    void stop();
    void resetConversation();

    bool isBusy() const { return busy_; }
    bool isLoading() const { return loading_; }
    bool hasModel() const { return hasModel_; }
    const ModelSummary& model() const { return model_; }
    quint64 currentId() const { return current_; }

signals:
    void loadProgress(qint64 done, qint64 total);
    void modelReady(const rcui::ModelSummary& summary);
    void modelFailed(const QString& message);
    void token(const QString& piece);
    void stage(const QString& name);
    void answered(const rcui::AnswerResult& result);
    void failed(const QString& message);
    void busyChanged(bool busy);

private:
    void setBusy(bool b);
    bool isCurrent(quint64 id) const { return id == current_; }
    /// Raises the cancel threshold (never lowers it: that would revive cancelled requests).
    void cancelBelow(quint64 id);
    void connectWorker();
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
    bool hasModel_ = false;
    ModelSummary model_;
};

}  // namespace rcui
