// Owns the canvas tools, offers them as one exclusive group of checkable actions and tells the
// canvas which one receives input. A new tool is one class plus one registerTool() call.
#pragma once

#include <QList>
#include <QObject>
#include <QPointer>

class QAction;
class QActionGroup;

namespace rcui {

class AbstractTool;
class CanvasView;
class ImageDocument;

class ToolManager : public QObject {
    Q_OBJECT

public:
    /// Registers the standard tools (Box, Point, Pan) for `document` on `canvas`; Box is active.
    ToolManager(ImageDocument* document, CanvasView* canvas, QObject* parent = nullptr);
    ~ToolManager() override;

    /// Adds a tool (ownership passes to the manager) and its action.
    void registerTool(AbstractTool* tool);

    /// One checkable action per tool, in registration order; add them to a toolbar or menu
    /// so their shortcuts (B, P, H) work.
    QList<QAction*> actions() const;
    QActionGroup* actionGroup() const { return group_; }
    QList<AbstractTool*> tools() const { return tools_; }
    /// The tool named `name` ("Box", "Point", "Pan"), or nullptr.
    AbstractTool* tool(const QString& name) const;
    AbstractTool* activeTool() const;
    /// Makes the named tool active; false when there is no such tool.
    bool setActiveTool(const QString& name);

signals:
    void activeToolChanged(AbstractTool* tool);
    /// Text for the status bar: the active tool's description, or a tool's short message.
    void statusMessage(const QString& message);

private:
    void activate(AbstractTool* tool);

    QPointer<CanvasView> canvas_;  // may be destroyed first by the window
    QActionGroup* group_;
    QList<AbstractTool*> tools_;
    QList<QAction*> actions_;
    QPointer<AbstractTool> active_;
};

}  // namespace rcui
