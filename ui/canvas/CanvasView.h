// The image with its overlays: user regions, grounding boxes from answers and the DualFocus
// crop. Follows the document's signals; hands mouse and key input to the active tool in image
// pixels (the scene is the image, its pixmap at (0,0)). Wheel zooms, middle or space drag pans.
#pragma once

#include <QGraphicsView>
#include <QHash>
#include <QImage>
#include <QList>
#include <QPainterPath>
#include <QPointer>
#include <memory>

class QGraphicsPixmapItem;
class QGraphicsRectItem;
class QGraphicsPathItem;

namespace rcui {

class AbstractTool;
class FocusCropItem;
class GroundingItem;
class MaskItem;
class ImageDocument;
class RegionItem;
struct OverlayStyle;
struct ToolMouseEvent;

class CanvasView : public QGraphicsView {
    Q_OBJECT

public:
    explicit CanvasView(ImageDocument* document, QWidget* parent = nullptr);
    ~CanvasView() override;

    ImageDocument* document() const { return document_; }

    /// The tool that receives mouse and key input (ToolManager sets it); nullptr for none.
    void setTool(AbstractTool* tool);
    AbstractTool* tool() const;

    /// Screen pixels per image pixel.
    double zoom() const;
    bool isPresentationMode() const;
    /// The image at its native size with every overlay drawn, for export and the clipboard.
    /// Null when there is no image.
    QImage renderAnnotated() const;
    /// The image's extent in scene coordinates (= image pixels).
    QRectF imageRect() const;

    // --- for tools ---
    /// Scrolls the view by a mouse movement in viewport pixels (content follows the mouse).
    void panBy(const QPoint& viewportDelta);
    /// The cursor shown over the image when no pan is in progress.
    void setToolCursor(const QCursor& cursor);
    /// Shows the box being drawn, before it becomes a region. clearDraftBox() hides it.
    void setDraftBox(const QRectF& imageRect);
    void clearDraftBox();
    /// Shows the stroke being drawn (the scribble tool); clearDraftPath() hides it.
    void setDraftPath(const QPainterPath& imagePath);
    void clearDraftPath();
    /// Image pixels per screen pixel: how far a tool's "a few pixels" reaches in the image.
    double imagePixelsPerScreenPixel() const { return 1.0 / zoom(); }

    // --- proposals and masks (the pick tool, SAM's preview) ---
    /// Shows the document's proposals as translucent masks (the pick tool turns them on).
    void setProposalsVisible(bool visible);
    bool proposalsVisible() const { return proposalsVisible_; }
    /// The smallest proposal whose mask holds image pixel `pos`: index into the document's
    /// proposals, or -1.
    int proposalAt(const QPointF& pos) const;
    /// Tags on proposals by index ("#1 2.31": "Which region is this?"); the others lose theirs.
    /// Cleared when the proposals change.
    void setProposalLabels(const QHash<int, QString>& labels);
    /// Highlights one proposal (-1: none).
    void setHoveredProposal(int index);
    int hoveredProposal() const { return hoveredProposal_; }
    /// A mask drawn under the cursor (SAM's answer while the point tool moves); a null image
    /// hides it.
    void setPreviewMask(const QImage& mask, const QColor& colour);
    bool hasPreviewMask() const { return previewItem_ != nullptr; }
    /// The proposal overlays, for tests.
    const QList<MaskItem*>& proposalItems() const { return proposalItems_; }

    // --- the overlay items, for tests and tooltips ---
    RegionItem* regionItem(int regionId) const { return regionItems_.value(regionId); }
    QList<GroundingItem*> groundingItems() const { return groundingItems_; }
    /// The DualFocus crop outline, nullptr when the last answer had none.
    FocusCropItem* focusCropItem() const { return focusCropItem_; }

public slots:
    void zoomIn();
    void zoomOut();
    /// Shows the whole image, as large as the view allows; stays fitted while the view resizes.
    void fitToWindow();
    /// 100%: one image pixel per screen pixel.
    void actualSize();
    /// Zooms and scrolls so `imageRect` (image pixels) fills most of the view.
    void zoomToRect(const QRectF& imageRect);
    /// Zooms around the view's centre.
    void setZoom(double zoom);
    /// Thick, high-contrast overlays with large labels, for talks and projectors.
    void setPresentationMode(bool on);

signals:
    void zoomChanged(double zoom);
    /// The image pixel under the mouse (for the status bar); emitted while the mouse moves.
    void mouseImagePosition(const QPointF& imagePos);
    /// The mouse left the canvas (the hover highlight and SAM preview are cleared).
    void mouseLeft();

protected:
    void wheelEvent(QWheelEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void keyReleaseEvent(QKeyEvent* event) override;
    void focusOutEvent(QFocusEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void drawForeground(QPainter* painter, const QRectF& rect) override;

private:
    void rebuildAll();
    void addRegionItem(int regionId);
    void removeRegionItem(int regionId);
    void updateRegionItem(int regionId);
    void updateSelection(int regionId);
    void syncGroundingItems();
    void updateHighlight(int index);
    void syncFocusCrop();
    void syncProposals();
    /// Zooms keeping the scene point under `viewAnchor` (viewport pixels) in place.
    void zoomAround(double zoom, const QPointF& viewAnchor);
    /// Tells every overlay that sizes changed (zoom, presentation mode, export scale).
    void refreshOverlays() const;
    ToolMouseEvent toolEvent(const QMouseEvent* event) const;
    void endPan();
    void restoreCursor();

    ImageDocument* document_;
    QGraphicsScene* scene_;
    // Shared by all overlays; a pointer so renderAnnotated() can switch to the export scale.
    std::unique_ptr<OverlayStyle> style_;
    QGraphicsPixmapItem* imageItem_ = nullptr;
    QGraphicsRectItem* draftItem_ = nullptr;
    QGraphicsPathItem* draftPathItem_ = nullptr;
    QHash<int, RegionItem*> regionItems_;
    QList<GroundingItem*> groundingItems_;
    FocusCropItem* focusCropItem_ = nullptr;
    QList<MaskItem*> proposalItems_;
    MaskItem* previewItem_ = nullptr;
    bool proposalsVisible_ = false;
    int hoveredProposal_ = -1;
    QPointer<AbstractTool> tool_;
    QCursor toolCursor_;
    bool fitted_ = true;  // keep fitting on resize until the user zooms
    bool spaceHeld_ = false;
    bool panning_ = false;
    Qt::MouseButton panButton_ = Qt::NoButton;
    QPoint lastPanPos_;
};

}  // namespace rcui
