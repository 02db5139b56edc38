#include "tools/ToolManager.h"

#include <QAction>
#include <QActionGroup>
#include <QKeySequence>

#include "canvas/CanvasView.h"
#include "tools/AbstractTool.h"
#include "tools/BoxTool.h"
#include "tools/PanTool.h"
#include "tools/PointTool.h"
#include "tools/ProposalPickTool.h"
#include "tools/ScribbleTool.h"

namespace rcui {

ToolManager::ToolManager(ImageDocument* document, CanvasView* canvas, QObject* parent)
    : QObject(parent), canvas_(canvas), group_(new QActionGroup(this)) {
    group_->setExclusive(true);
    registerTool(new BoxTool(document, canvas));
    registerTool(new PointTool(document, canvas));
    registerTool(new ScribbleTool(document, canvas));
    registerTool(new ProposalPickTool(document, canvas));
    registerTool(new PanTool(document, canvas));
    setActiveTool(tools_.first()->name());
}

ToolManager::~ToolManager() {
    // The canvas may outlive the tools; it must not call into a deleted one.
    if (canvas_ && canvas_->tool() && tools_.contains(canvas_->tool())) canvas_->setTool(nullptr);
}

void ToolManager::registerTool(AbstractTool* tool) {
    tool->setParent(this);
    tools_.append(tool);

    auto* action = new QAction(tool->icon(), tool->name(), group_);
    action->setCheckable(true);
    action->setShortcut(tool->shortcut());
    action->setToolTip(
        tr("%1 (%2)").arg(tool->name(), tool->shortcut().toString(QKeySequence::NativeText)));
    action->setStatusTip(tool->statusText());
    action->setData(tool->name());
    actions_.append(action);
    connect(action, &QAction::triggered, this, [this, tool] { activate(tool); });
    connect(tool, &AbstractTool::statusMessage, this, &ToolManager::statusMessage);
}

QList<QAction*> ToolManager::actions() const {
    return actions_;
}

AbstractTool* ToolManager::tool(const QString& name) const {
    for (auto* t : tools_)
        if (t->name() == name) return t;
    return nullptr;
}

AbstractTool* ToolManager::activeTool() const {
    return active_;
}

bool ToolManager::setActiveTool(const QString& name) {
    AbstractTool* t = tool(name);
    if (!t) return false;
    activate(t);
    return true;
}

void ToolManager::activate(AbstractTool* tool) {
    const int index = tools_.indexOf(tool);
    if (index >= 0) actions_[index]->setChecked(true);
    if (tool == active_) return;
    active_ = tool;
    if (canvas_) canvas_->setTool(tool);
    emit activeToolChanged(tool);
    emit statusMessage(tool->statusText());
}

}  // namespace rcui
