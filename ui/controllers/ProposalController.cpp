#include "controllers/ProposalController.h"

#include <QFileDialog>
#include <QLabel>
#include <QProgressBar>
#include <QSettings>
#include <cmath>

#include "canvas/CanvasView.h"
#include "controllers/UserFeedback.h"
#include "document/ChangeRegionCommand.h"
#include "document/ImageDocument.h"
#include "inference/InferenceController.h"
#include "tools/PointTool.h"
#include "tools/ProposalPickTool.h"
#include "tools/ToolManager.h"

namespace rcui {

ProposalController::ProposalController(ImageDocument* doc, InferenceController* inference,
                                       CanvasView* canvas, ToolManager* tools,
                                       UserFeedback* feedback, QWidget* window)
    : QObject(window),
      doc_(doc),
      inference_(inference),
      canvas_(canvas),
      tools_(tools),
      feedback_(feedback),
      window_(window),
      bar_(new QProgressBar(window)),
      samLabel_(new QLabel(window)) {
    bar_->setMaximumWidth(160);
    bar_->setRange(0, 100);
    bar_->setFormat(tr("proposals %p%"));
    bar_->setVisible(false);
    samLabel_->setVisible(false);
    connectInference();
    connectTools();
}

void ProposalController::whichRegion(const QString& phrase, quint32 seed) {
    if (doc_->image().isNull()) return;
    if (doc_->proposals().isEmpty()) {
        feedback_->showError(tr("Which region is this?"),
                             tr("There are no proposals to choose from: propose regions first "
                                "(Regions > Propose Regions, or with SAM)."));
        return;
    }
    bar_->setFormat(tr("ranking %p%"));
    bar_->setValue(0);
    bar_->setVisible(true);
    emit runningChanged(true);
    inference_->rankProposals(doc_->image(), doc_->proposals(), phrase, seed);
}

void ProposalController::connectInference() {
    connect(inference_, &InferenceController::proposalProgress, this, [this](double f) {
        bar_->setFormat(tr("proposals %p%"));
        bar_->setVisible(true);
        bar_->setValue(int(std::lround(100 * f)));
    });
    connect(inference_, &InferenceController::proposalsReady, this,
            [this](const QList<ProposalMask>& proposals, double ms) {
                bar_->setVisible(false);
                emit runningChanged(false);
                // The image changes cancel runs; masks of another size are never shown.
                QList<ProposalMask> fitting;
                for (const auto& p : proposals)
                    if (p.mask.size() == doc_->image().size()) fitting.append(p);
                doc_->setProposals(fitting);
                feedback_->showStatus(
                    tr("%n proposal(s) in %1 ms; the Pick tool (K) makes one a region.", nullptr,
                       int(fitting.size()))
                        .arg(ms, 0, 'f', 0),
                    8000);
                emit proposalsFinished(true);
            });
    connect(inference_, &InferenceController::proposalsRanked, this,
            [this](const QList<RankedProposal>& ranks, double ms) {
                bar_->setVisible(false);
                emit runningChanged(false);
                QHash<int, QString> labels;
                QStringList best;
                for (int k = 0; k < ranks.size() && k < 3; ++k) {
                    labels.insert(ranks[k].proposal,
                                  QStringLiteral("#%1  %2").arg(k + 1).arg(ranks[k].loss, 0, 'f', 2));
                    best << tr("#%1 %2").arg(k + 1).arg(ranks[k].loss, 0, 'f', 2);
                }
                canvas_->setProposalsVisible(true);
                canvas_->setProposalLabels(labels);
                if (!ranks.isEmpty()) canvas_->setHoveredProposal(ranks.first().proposal);
                feedback_->showStatus(
                    tr("Which region: %1 of %2 proposals scored in %3 s; best (caption loss, lower "
                       "is better): %4. The Pick tool (K) makes one a region.")
                        .arg(ranks.size())
                        .arg(doc_->proposals().size())
                        .arg(ms / 1000.0, 0, 'f', 1)
                        .arg(best.join(QStringLiteral(", "))),
                    0);
                emit rankingFinished(ranks);
            });
    connect(inference_, &InferenceController::rankFailed, this, [this](const QString& msg) {
        bar_->setVisible(false);
        emit runningChanged(false);
        if (msg == QLatin1String("cancelled"))
            feedback_->showStatus(tr("Ranking cancelled."), 5000);
        else
            feedback_->showError(tr("Which region is this?"), msg);
        emit rankingFinished({});
    });
    connect(inference_, &InferenceController::proposalsFailed, this, [this](const QString& msg) {
        bar_->setVisible(false);
        emit runningChanged(false);
        if (msg == QLatin1String("cancelled"))
            feedback_->showStatus(tr("Proposals cancelled."), 5000);
        else
            feedback_->showError(tr("No proposals"), msg);
        emit proposalsFinished(false);
    });
    connect(inference_, &InferenceController::samLoadProgress, this,
            [this](qint64 done, qint64 total) {
                bar_->setFormat(tr("SAM %p%"));
                bar_->setVisible(true);
                bar_->setValue(int(total > 0 ? 100 * done / total : 0));
            });
    connect(inference_, &InferenceController::samReady, this, [this](const QString& what) {
        QSettings().setValue("samFolder", samFolder_);
        bar_->setVisible(false);
        samLabel_->setText(tr("SAM"));
        samLabel_->setToolTip(what);
        samLabel_->setVisible(true);
        feedback_->showStatus(what, 8000);
        setSamEnabled(true);
        emit samFinished(true);
    });
    connect(inference_, &InferenceController::samLoadFailed, this, [this](const QString& msg) {
        bar_->setVisible(false);
        samLabel_->setVisible(false);
        setSamEnabled(false);
        feedback_->showError(tr("SAM could not be loaded"),
                             tr("SAM could not be loaded from %1: %2").arg(samFolder_, msg));
        emit samFinished(false);
    });
    connect(inference_, &InferenceController::samFailed, this,
            [this](const QString& msg) { feedback_->showStatus(tr("SAM: %1").arg(msg), 8000); });
    connect(inference_, &InferenceController::samHoverMask, this, [this](const QImage& mask) {
        auto* point = qobject_cast<PointTool*>(tools_->tool(QStringLiteral("Point")));
        if (point && tools_->activeTool() == point)
            canvas_->setPreviewMask(mask, regionColour(int(doc_->regions().size()) + 1));
    });
    connect(inference_, &InferenceController::samRegionMask, this,
            [this](const SamRequest& request, const QImage& mask) {
                const Region* r = doc_->region(request.regionId);
                // The points changed (or the region went) while SAM ran: a newer request
                // is on its way, or nothing is needed.
                if (!r || r->positive != request.positive || r->negative != request.negative ||
                    mask.isNull() || mask.size() != doc_->image().size())
                    return;
                Region after = *r;
                after.mask = mask;
                after.box = maskBoundingRect(mask);
                if (after.box.isEmpty()) return;
                auto* command = new ChangeRegionCommand(doc_, *r, after);
                command->setText(tr("SAM mask for region %1").arg(r->id));
                doc_->undoStack()->push(command);
            });
}

void ProposalController::connectTools() {
    connect(canvas_, &CanvasView::mouseLeft, inference_, &InferenceController::cancelSamHover);
    if (auto* point = qobject_cast<PointTool*>(tools_->tool(QStringLiteral("Point")))) {
        connect(point, &PointTool::hoverLeft, inference_, &InferenceController::cancelSamHover);
        connect(point, &PointTool::hoverMaskWanted, this,
                [this](const QPointF& pos) { inference_->requestSamHover(doc_->image(), pos); });
        connect(point, &PointTool::regionMaskWanted, this, [this](int id) {
            if (const Region* r = doc_->region(id))
                inference_->requestSamRegion(doc_->image(), id, r->positive, r->negative);
        });
    }
    if (auto* pick = qobject_cast<ProposalPickTool*>(tools_->tool(QStringLiteral("Pick"))))
        connect(pick, &ProposalPickTool::proposalsWanted, this, [this] {
            // Classic unless SAM is loaded and was the last generator chosen.
            proposeRegions(preferSam_ && inference_->hasSam() ? QStringLiteral("sam")
                                                              : QStringLiteral("classic"));
        });
}

void ProposalController::setSamEnabled(bool on) {
    if (auto* point = qobject_cast<PointTool*>(tools_->tool(QStringLiteral("Point"))))
        point->setSamEnabled(on);
}

void ProposalController::proposeRegions(const QString& generator) {
    if (!doc_->hasImage()) {
        feedback_->showError(tr("No image"), tr("Open an image first."));
        emit proposalsFinished(false);
        return;
    }
    if (generator == QLatin1String("sam") && !inference_->hasSam()) {
        feedback_->showError(
            tr("No SAM loaded"),
            tr("Load a Segment Anything folder first (Regions > Load SAM…), or use the "
               "classic generator (Ctrl+Shift+R)."));
        emit proposalsFinished(false);
        return;
    }
    preferSam_ = generator == QLatin1String("sam");
    bar_->setFormat(tr("proposals %p%"));
    bar_->setValue(0);
    bar_->setVisible(true);
    emit runningChanged(true);
    feedback_->showStatus(tr("Finding regions (%1)… Esc cancels.").arg(generator));
    inference_->generateProposals(doc_->image(), generator);
}

void ProposalController::loadSam(const QString& dir) {
    samFolder_ = dir;  // remembered once it has loaded
    feedback_->showStatus(tr("Loading SAM from %1…").arg(dir));
    inference_->loadSam(dir);
}

void ProposalController::chooseSamFolder() {
    const QString dir = QFileDialog::getExistingDirectory(
        window_, tr("Open a Segment Anything Folder (config.json + model.safetensors)"),
        QSettings().value("samFolder").toString());
    if (!dir.isEmpty()) loadSam(dir);
}

}  // namespace rcui
