// Region proposals and Segment Anything in the window: runs a generator on the worker with a
// progress bar (Esc cancels) and keeps the masks that fit the image for the Pick tool; loads
// SAM (the folder is remembered once it loads) and feeds the Point tool its hover and region
// masks.
#pragma once

#include <QObject>
#include <QString>

#include "inference/InferenceTypes.h"

class QLabel;
class QProgressBar;
class QWidget;

namespace rcui {

class CanvasView;
class ImageDocument;
class InferenceController;
class ToolManager;
class UserFeedback;

class ProposalController : public QObject {
    Q_OBJECT

public:
    /// The status-bar widgets are created as children of `window`.
    ProposalController(ImageDocument* doc, InferenceController* inference, CanvasView* canvas,
                       ToolManager* tools, UserFeedback* feedback, QWidget* window);

    /// Runs a proposal generator ("classic", "sam") on the image, with a progress bar.
    void proposeRegions(const QString& generator);
    /// Loads a SAM folder on the worker (remembered in the settings once it has loaded);
    /// errors show in the window.
    void loadSam(const QString& dir);
    /// Regions > Load SAM…: asks for the folder.
    void chooseSamFolder();
    /// "Which region is this?": ranks the current proposals by the model's caption loss of
    /// `phrase` (RegionVLM); the best three get tags with their losses, the best is highlighted.
    void whichRegion(const QString& phrase, quint32 seed);

    /// For the status bar: proposal and SAM loading progress.
    QProgressBar* progressBar() const { return bar_; }
    /// For the status bar: "SAM" while one is loaded (its tooltip says which).
    QLabel* samLabel() const { return samLabel_; }

signals:
    /// A proposal run finished (ok = false when it failed or was cancelled).
    void proposalsFinished(bool ok);
    /// A SAM load finished.
    void samFinished(bool ok);
    /// A proposal run started or ended (Cancel Proposals is enabled while one runs).
    void runningChanged(bool running);
    /// A ranking finished: the proposals in rank order (empty when it failed).
    void rankingFinished(const QList<rcui::RankedProposal>& ranks);

private:
    void connectInference();
    void connectTools();
    void setSamEnabled(bool on);

    ImageDocument* doc_;
    InferenceController* inference_;
    CanvasView* canvas_;
    ToolManager* tools_;
    UserFeedback* feedback_;
    QWidget* window_;
    QProgressBar* bar_;
    QLabel* samLabel_;
    QString samFolder_;       // the SAM folder loading or loaded
    bool preferSam_ = false;  // the last proposal run used SAM (the Pick tool follows it)
};

}  // namespace rcui
