#include "inference/InferenceWorker.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <exception>

#include "inference/ImageConversion.h"
#include "regionchat/region_rank.h"
#include "regionchat/backend.h"
#include "regionchat/data_paths.h"
#include "regionchat/dual_focus.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/proposals.h"
#ifdef REGIONCHAT_HAS_REMOTE
#include "regionchat/remote.h"
#endif
#include "regionchat/sam.h"

namespace rcui {

namespace {

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

QRectF toRect(const rc::Box& b) {
    return QRectF(QPointF(b.x0, b.y0), QPointF(b.x1, b.y1)).normalized();
}

QRectF toRect(const cv::Rect& r) {
    return QRectF(r.x, r.y, r.width, r.height);
}

ModelSummary summarize(const rc::Model& model, const rc::ChatBackend& backend) {
    const rc::ModelInfo& info = model.info();
    ModelSummary s;
    s.dir = qs(info.dir);
    s.name = QDir(s.dir).dirName();
    s.device = qs(rc::to_string(info.device));
    s.dtype = qs(rc::to_string(info.dtype));
    s.parameters = info.parameters;
    const rc::BackendInfo b = backend.info();
    s.backend = qs(b.name);
    s.regionFormat = qs(b.region_format);
    s.regionTokens = b.capabilities.region_tokens;
    s.loadMs = info.load_ms;
    for (const std::string& w : info.warnings) s.warnings << qs(w);
    return s;
}

AnswerTimings toTimings(const rc::Timings& t) {
    AnswerTimings a;
    a.imageEncodeMs = t.image_encode_ms;
    a.prefillMs = t.prefill_ms;
    a.firstTokenMs = t.first_token_ms;
    a.totalMs = t.total_ms;
    a.tokensPerSecond = t.tokens_per_s;
    a.promptTokens = t.prompt_tokens;
    a.reusedTokens = t.reused_tokens;
    a.generatedTokens = t.generated_tokens;
    return a;
}

}  // namespace

InferenceWorker::InferenceWorker(std::shared_ptr<std::atomic<quint64>> cancelBelow)
    : cancelBelow_(std::move(cancelBelow)) {}

InferenceWorker::~InferenceWorker() = default;

QString InferenceWorker::embeddedModelDir() { return qs(rc::embedded_model_dir()); }

void InferenceWorker::loadModel(quint64 id, const QString& dir, const QString& device,
                                const QString& dtype) {
    const QString folder = dir.isEmpty() ? embeddedModelDir() : dir;
    try {
        rc::LoadParams p;
        p.model_dir = folder.toStdString();
        p.device = device.isEmpty() ? std::string("auto") : device.toStdString();
        p.dtype = rc::parse_precision(dtype.isEmpty() ? std::string("auto") : dtype.toStdString());
        // Progress arrives once per tensor; a real checkpoint has hundreds, so only every
        // 30 ms (and the last one) crosses to the GUI thread.
        QElapsedTimer sinceEmit;
        p.progress = [this, id, &sinceEmit](const rc::LoadProgress& lp) {
            const bool last = lp.tensors_done >= lp.tensors_total;
            if (last || !sinceEmit.isValid() || sinceEmit.elapsed() >= 30) {
                sinceEmit.start();
                emit loadProgress(id, static_cast<qint64>(lp.tensors_done),
                                  static_cast<qint64>(lp.tensors_total));
            }
            return !cancelled(id);
        };
        std::shared_ptr<rc::Model> model = rc::Model::load(p);
        if (cancelled(id)) throw rc::Error("loading cancelled");
        // A new model invalidates the conversation (its KV cache belongs to the old one).
        backend_ = rc::make_local_backend(model);
        sessionImageKey_ = -1;
        model_ = std::move(model);
        emit modelLoaded(id, summarize(*model_, *backend_));
    } catch (const std::exception& e) {
        emit failed(id, tr("Could not load the model in %1: %2").arg(folder, qs(e.what())));
    }
}

void InferenceWorker::connectServer(quint64 id, const RemoteServer& server) {
#ifdef REGIONCHAT_HAS_REMOTE
    try {
        rc::RemoteOptions o;
        o.url = server.url.trimmed().toStdString();
        o.api_key = server.apiKey.toStdString();
        o.model = server.model.toStdString();
        o.region_format = server.regionFormat.toStdString();
        auto backend = rc::make_remote_backend(o);
        if (cancelled(id)) throw rc::Error("connecting cancelled");
        backend_ = std::move(backend);
        sessionImageKey_ = -1;
        const rc::BackendInfo info = backend_->info();
        ModelSummary s;
        s.dir = server.url;
        s.name = qs(info.name.substr(0, info.name.find(" at ")));
        s.device = tr("remote");
        s.backend = qs(info.name);
        s.regionFormat = qs(info.region_format);
        emit modelLoaded(id, s);
    } catch (const std::exception& e) {
        emit failed(id, tr("Could not use the server %1: %2").arg(server.url, qs(e.what())));
    }
#else
    emit failed(id, tr("This build has no remote backend (cpp-httplib was not found)."));
#endif
}

void InferenceWorker::resetConversation() {
    if (backend_) backend_->reset();
}

void InferenceWorker::ask(const rcui::AskRequest& request) {
    const quint64 id = request.id;
    if (cancelled(id)) {  // superseded or stopped before it started
        AnswerResult r;
        r.stopped = true;
        r.stopReason = QStringLiteral("abort");
        emit answered(id, r);
        return;
    }
    try {
        if (!backend_) throw rc::Error(tr("No model is loaded.").toStdString());
        rc::GenerateParams gp;
        gp.max_new_tokens = request.maxNewTokens;
        gp.sampling.temperature = static_cast<float>(request.temperature);
        gp.on_token = [this, id](const std::string& piece) { emit token(id, qs(piece)); };
        gp.should_abort = [this, id] { return cancelled(id); };
        const AnswerResult r =
            request.dualFocus ? askDualFocus(request, gp) : askConversation(request, gp);
        emit answered(id, r);
    } catch (const std::exception& e) {
        emit failed(id, qs(e.what()));
    }
}

rc::ChatRequest chatRequestFor(const AskRequest& request, bool withImage) {
    if (request.prepared) return *request.prepared;
    rc::ChatRequest c;
    c.text = request.question.toStdString();
    if (withImage && !request.image.isNull()) c.images.push_back(toBgrMat(request.image));
    for (const QImage& extra : request.extraImages) c.images.push_back(toBgrMat(extra));
    c.regions = toRegionInputs(request.regions);
    c.region_mode = request.visualPrompts ? rc::RegionMode::VisualPrompt : rc::RegionMode::Text;
    c.point_seed = request.pointSeed;
    if (request.pairSplit > 0) return splitImagePair(c, request.pairSplit, request.pairFirst, request.pairSecond);
    return c;
}

AnswerResult InferenceWorker::askConversation(const AskRequest& request,
                                              const rc::GenerateParams& gp) {
    if (request.newConversation || request.imageKey != sessionImageKey_) {
        backend_->reset();
        sessionImageKey_ = request.imageKey;
    }
    // The image belongs to the first question; later turns reuse its cached features.
    const rc::ChatRequest chat = chatRequestFor(request, backend_->message_count() == 0);
    AnswerResult r;
    r.prompt = qs(backend_->render_question(chat));
    const rc::Reply reply = backend_->ask(chat, gp);
    r.text = qs(reply.text);
    for (const rc::ParsedBox& b : reply.boxes) r.boxes << toRect(b.box);
    r.stopReason = qs(rc::to_string(reply.stop_reason));
    r.stopped = reply.stop_reason == rc::StopReason::Abort;
    r.timings = toTimings(reply.timings);
    return r;
}

AnswerResult InferenceWorker::askDualFocus(const AskRequest& request,
                                           const rc::GenerateParams& gp) {
    if (request.image.isNull()) throw rc::Error(tr("Dual focus needs an image.").toStdString());
    const rc::ChatRequest chat = chatRequestFor(request, true);
    const cv::Mat& image = chat.images.front();
    const quint64 id = request.id;
    rc::DualFocusParams params;
    params.generate = gp;
    int generated = 0;
    params.generate.on_token = [this, id, &generated](const std::string& piece) {
        ++generated;
        emit token(id, qs(piece));
    };
    params.on_stage = [this, id](const std::string& name) { emit stage(id, qs(name)); };
    if (request.dualFocusQuestion) params.question = *request.dualFocusQuestion;
    // The pipeline runs on fresh conversations; the chat's own is left as it was.
    const rc::DualFocusResult d = rc::run_dual_focus(*backend_, chat, params);

    AnswerResult r;
    r.prompt = qs(backend_->fresh()->render_question(chat));
    r.text = qs(d.answer);
    for (const rc::ParsedBox& b :
         backend_->parse_boxes(d.answer, rc::ImageSize{image.cols, image.rows}))
        r.boxes << toRect(b.box);
    r.stopped = d.aborted;
    // The pipeline reports no stop reason of its own: a finished run counts as "eos".
    r.stopReason = d.aborted ? QStringLiteral("abort") : QStringLiteral("eos");
    r.timings.totalMs = d.total_ms;
    r.timings.generatedTokens = generated;
    r.focus.valid = !d.aborted;
    r.focus.macroAnswer = qs(d.macro_answer);
    r.focus.microAnswer = qs(d.micro_answer);
    r.focus.macroNll = d.macro_nll;
    r.focus.microNll = d.micro_nll;
    r.focus.microWon = d.micro_won;
    r.focus.scored = d.scored;
    // Whose wording the passes used, as the benchmark is called.
    QString script;
    switch (d.script) {
        case rc::DualFocusScript::TextVqa: script = QStringLiteral("TextVQA"); break;
        case rc::DualFocusScript::Gqa: script = QStringLiteral("GQA"); break;
        case rc::DualFocusScript::Seed: script = QStringLiteral("SEED"); break;
        case rc::DualFocusScript::MmBench: script = QStringLiteral("MMBench"); break;
    }
    // "TextVQA open-ended", "MMBench multiple-choice": the Focus dock adds "pipeline".
    r.focus.pipeline = (d.pipeline == rc::DualFocusPipeline::MultipleChoice
                            ? tr("%1 multiple-choice")
                            : tr("%1 open-ended"))
                           .arg(script);
    r.focus.decidedBy = qs(d.decided_by);
    if (d.has_box) {
        r.focus.box = toRect(d.box);
        r.focus.cropRect = toRect(d.crop_rect);
        r.crop = toQImage(d.crop);
    }
    return r;
}

void InferenceWorker::setSideControls(std::shared_ptr<std::atomic<quint64>> proposalCancelBelow,
                                      std::shared_ptr<std::atomic<quint64>> hoverLatest) {
    proposalCancelBelow_ = std::move(proposalCancelBelow);
    hoverLatest_ = std::move(hoverLatest);
}

void InferenceWorker::generateProposals(quint64 id, const QImage& image, const QString& generator) {
    auto cancelled = [&] { return proposalCancelBelow_ && id < proposalCancelBelow_->load(); };
    if (cancelled()) return;
    try {
        QElapsedTimer timer;
        timer.start();
        std::unique_ptr<rc::ProposalGenerator> gen;
        if (generator == QLatin1String("sam")) {
            if (!sam_) throw rc::Error("load a SAM folder first (Regions > Load SAM…)");
            gen = rc::make_sam_generator(sam_);
        } else {
            gen = rc::make_classic_generator();
        }
        rc::ProposalParams params;
        params.progress = [&](float f) {
            emit proposalProgress(id, double(f));
            return !cancelled();
        };
        const cv::Mat bgr = toBgrMat(image);
        const auto found = gen->generate(bgr, params);
        QList<ProposalMask> out;
        for (const auto& p : found) {
            ProposalMask m;
            m.mask = toMaskImage(p.mask);
            m.box = toRect(p.box);
            m.area = cv::countNonZero(p.mask);
            m.score = p.score;
            m.source = qs(p.source);
            out.append(m);
        }
        emit proposalsReady(id, out, double(timer.elapsed()));
    } catch (const std::exception& e) {
        emit proposalsFailed(id, cancelled() ? tr("cancelled") : qs(e.what()));
    }
}

void InferenceWorker::rankProposals(quint64 id, const QImage& image,
                                    const QList<ProposalMask>& proposals, const QString& phrase,
                                    quint32 seed) {
    auto cancelled = [&] { return proposalCancelBelow_ && id < proposalCancelBelow_->load(); };
    if (cancelled()) return;
    try {
        if (!backend_) throw rc::Error("load a model first (Model > Open Model…)");
        QElapsedTimer timer;
        timer.start();
        std::vector<rc::RegionInput> candidates;
        for (const ProposalMask& p : proposals) {
            rc::RegionInput r;
            r.box = rc::Box{p.box.left(), p.box.top(), p.box.right(), p.box.bottom()};
            if (!p.mask.isNull()) r.mask = toMaskMat(p.mask);
            candidates.push_back(std::move(r));
        }
        rc::RegionRankOptions o;
        o.seed = seed;
        // Every proposal (the first 30), not only eval_RIS.py's (>= 4% of the image, off the
        // borders): RefCOCO's objects are large, the user's often are not.
        o.ris_filter = false;
        o.max_candidates = 30;
        o.progress = [&](size_t done, size_t total) {
            emit proposalProgress(id, double(done) / double(std::max<size_t>(total, 1)));
            return !cancelled();
        };
        const auto ranks = rc::rank_regions(*backend_, toBgrMat(image), candidates,
                                            phrase.toStdString(), o);
        QList<RankedProposal> out;
        for (const auto& r : ranks) out.append({int(r.index), r.loss});
        emit proposalsRanked(id, out, double(timer.elapsed()));
    } catch (const std::exception& e) {
        emit rankFailed(id, cancelled() ? tr("cancelled") : qs(e.what()));
    }
}

void InferenceWorker::loadSam(quint64 id, const QString& dir) {
    sam_.reset();  // the old one's memory goes before the new one loads
    try {
        rc::SamLoadParams params;
        params.model_dir = dir.toStdString();
        params.progress = [this, id](size_t done, size_t total) {
            emit samLoadProgress(id, qint64(done), qint64(total));
            return !shuttingDown();  // the window is closing: stop at the next tensor
        };
        sam_ = rc::SamModel::load(params);
        const rc::SamInfo& info = sam_->info();
        emit samLoaded(id, tr("SAM %1 on %2: %3 M parameters, %4 px")
                               .arg(QFileInfo(dir).fileName(), qs(info.device))
                               .arg(info.parameters / 1e6, 0, 'f', 1)
                               .arg(info.image_size));
    } catch (const std::exception& e) {
        emit samFailed(id, qs(e.what()));
    }
}

void InferenceWorker::samMask(const rcui::SamRequest& request) {
    // A fast-moving cursor queues many previews: only the newest is worth computing.
    if (request.hover && hoverLatest_ && request.id < hoverLatest_->load()) return;
    if (!sam_) {
        emit samFailed(request.id, tr("no SAM is loaded"));
        return;
    }
    try {
        rc::SamPrompt prompt;
        for (const auto& p : request.positive) {
            prompt.points.emplace_back(float(p.x()), float(p.y()));
            prompt.labels.push_back(1);
        }
        for (const auto& p : request.negative) {
            prompt.points.emplace_back(float(p.x()), float(p.y()));
            prompt.labels.push_back(0);
        }
        prompt.multimask = request.positive.size() + request.negative.size() <= 1;
        const auto masks = sam_->predict(toBgrMat(request.image), prompt);
        if (masks.empty() || masks.front().box.area() <= 0) {
            emit samMaskReady(request.id, request.regionId, request.hover, QImage(), 0);
            return;
        }
        emit samMaskReady(request.id, request.regionId, request.hover,
                          toMaskImage(masks.front().mask), double(masks.front().iou));
    } catch (const std::exception& e) {
        emit samFailed(request.id, qs(e.what()));
    }
}

}  // namespace rcui
