#include "canvas/CanvasView.h"

#include <QGraphicsPixmapItem>
#include <QGraphicsPathItem>
#include <QGraphicsRectItem>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "canvas/GroundingItem.h"
#include "canvas/MaskItem.h"
#include "canvas/OverlayStyle.h"
#include "canvas/RegionItem.h"
#include "document/ImageDocument.h"
#include "tools/AbstractTool.h"

namespace rcui {

namespace {
constexpr double kMinZoom = 0.01;
constexpr double kMaxZoom = 64.0;
constexpr double kZoomStep = 1.25;
// Regions clicked in the chat or the list get this much room around them...
constexpr double kZoomToRectMargin = 1.4;
// ...but not more magnification than this, so a tiny box is not a blur of pixels.
constexpr double kZoomToRectMax = 8.0;
constexpr int kFitMarginPx = 8;
constexpr double kDraftZ = 10.0;
constexpr double kProposalZ = 0.5;  // under the focus crop, grounding boxes and regions
constexpr double kPreviewZ = 6.0;
// Exports of large images draw overlays as if shown at this many screen pixels per short side.
constexpr double kExportReferenceSide = 640.0;
}  // namespace

CanvasView::CanvasView(ImageDocument* document, QWidget* parent)
    : QGraphicsView(parent),
      document_(document),
      scene_(new QGraphicsScene(this)),
      style_(std::make_unique<OverlayStyle>()) {
    setScene(scene_);
    setTransformationAnchor(QGraphicsView::NoAnchor);  // zoomAround() keeps the anchor itself
    setResizeAnchor(QGraphicsView::AnchorViewCenter);
    setDragMode(QGraphicsView::NoDrag);
    setRenderHints(QPainter::Antialiasing | QPainter::SmoothPixmapTransform |
                   QPainter::TextAntialiasing);
    setBackgroundBrush(QColor(52, 52, 56));
    setFrameShape(QFrame::NoFrame);
    setFocusPolicy(Qt::StrongFocus);
    viewport()->setMouseTracking(true);

    connect(document_, &ImageDocument::imageChanged, this, [this] {
        rebuildAll();
        fitToWindow();
    });
    connect(document_, &ImageDocument::regionAdded, this, &CanvasView::addRegionItem);
    connect(document_, &ImageDocument::regionRemoved, this, &CanvasView::removeRegionItem);
    connect(document_, &ImageDocument::regionChanged, this, &CanvasView::updateRegionItem);
    connect(document_, &ImageDocument::selectionChanged, this, &CanvasView::updateSelection);
    connect(document_, &ImageDocument::entryAdded, this, &CanvasView::syncGroundingItems);
    connect(document_, &ImageDocument::entryChanged, this, &CanvasView::syncGroundingItems);
    connect(document_, &ImageDocument::chatCleared, this, &CanvasView::syncGroundingItems);
    connect(document_, &ImageDocument::highlightChanged, this, &CanvasView::updateHighlight);
    connect(document_, &ImageDocument::focusChanged, this, &CanvasView::syncFocusCrop);
    connect(document_, &ImageDocument::proposalsChanged, this, &CanvasView::syncProposals);
    rebuildAll();
}

CanvasView::~CanvasView() = default;

void CanvasView::setTool(AbstractTool* tool) {
    if (tool == tool_) return;
    if (tool_) tool_->deactivate();
    tool_ = tool;
    if (tool_) {
        tool_->activate();
        setToolCursor(tool_->cursor());
    } else {
        setToolCursor(QCursor(Qt::ArrowCursor));
    }
}

void CanvasView::setProposalsVisible(bool visible) {
    proposalsVisible_ = visible;
    for (auto* item : proposalItems_) item->setVisible(visible);
    if (!visible) setHoveredProposal(-1);
}

int CanvasView::proposalAt(const QPointF& pos) const {
    const auto& proposals = document_->proposals();
    int best = -1;
    double bestArea = 0;
    for (int i = 0; i < proposals.size(); ++i) {
        const auto& p = proposals[i];
        if (!p.box.contains(pos) || !maskContains(p.mask, pos)) continue;
        const double area = p.area > 0 ? p.area : p.box.width() * p.box.height();
        if (best < 0 || area < bestArea) {
            best = i;
            bestArea = area;
        }
    }
    return best;
}

void CanvasView::setHoveredProposal(int index) {
    if (index == hoveredProposal_) return;
    if (hoveredProposal_ >= 0 && hoveredProposal_ < proposalItems_.size())
        proposalItems_[hoveredProposal_]->setHighlighted(false);
    hoveredProposal_ = index;
    if (index >= 0 && index < proposalItems_.size()) proposalItems_[index]->setHighlighted(true);
}

void CanvasView::setPreviewMask(const QImage& mask, const QColor& colour) {
    delete previewItem_;
    previewItem_ = nullptr;
    if (mask.isNull()) return;
    previewItem_ = new MaskItem(mask, colour, style_.get());
    previewItem_->setZValue(kPreviewZ);
    previewItem_->setHighlighted(true);
    scene_->addItem(previewItem_);
}

void CanvasView::syncProposals() {
    qDeleteAll(proposalItems_);
    proposalItems_.clear();
    hoveredProposal_ = -1;
    const auto& proposals = document_->proposals();
    for (int i = 0; i < proposals.size(); ++i) {
        auto* item = new MaskItem(proposals[i].mask, regionColour(i + 1), style_.get());
        item->setZValue(kProposalZ);
        item->setVisible(proposalsVisible_);
        scene_->addItem(item);
        proposalItems_.append(item);
    }
}

void CanvasView::setProposalLabels(const QHash<int, QString>& labels) {
    for (int i = 0; i < proposalItems_.size(); ++i) proposalItems_[i]->setLabel(labels.value(i));
}

AbstractTool* CanvasView::tool() const {
    return tool_;
}

double CanvasView::zoom() const {
    return transform().m11();
}

bool CanvasView::isPresentationMode() const {
    return style_->presentation;
}

QRectF CanvasView::imageRect() const {
    return QRectF(QPointF(0, 0), document_->image().size());
}

QImage CanvasView::renderAnnotated() const {
    const QImage& image = document_->image();
    if (image.isNull()) return {};
    QImage out(image.size(), QImage::Format_ARGB32_Premultiplied);
    out.fill(Qt::transparent);

    // Draw overlays at a size relative to the image, not to the current zoom: an export of a
    // 4000 px photo should look like the screen does, not carry hairlines.
    const double savedUnit = style_->unit;
    const double side = std::min(image.width(), image.height());
    style_->unit = std::max(1.0, side / kExportReferenceSide);
    style_->exporting = true;
    refreshOverlays();
    const bool draftVisible = draftItem_->isVisible();
    draftItem_->setVisible(false);
    const bool draftPathVisible = draftPathItem_->isVisible();
    draftPathItem_->setVisible(false);
    // Candidates and the cursor's preview are not part of the annotated image.
    for (auto* item : proposalItems_) item->setVisible(false);
    if (previewItem_) previewItem_->setVisible(false);
    {
        QPainter painter(&out);
        painter.setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
        scene_->render(&painter, QRectF(QPointF(0, 0), image.size()), imageRect(),
                       Qt::IgnoreAspectRatio);
    }
    draftItem_->setVisible(draftVisible);
    draftPathItem_->setVisible(draftPathVisible);
    for (auto* item : proposalItems_) item->setVisible(proposalsVisible_);
    if (previewItem_) previewItem_->setVisible(true);
    style_->unit = savedUnit;
    style_->exporting = false;
    refreshOverlays();
    return image.hasAlphaChannel() ? out : out.convertToFormat(QImage::Format_RGB32);
}

void CanvasView::panBy(const QPoint& viewportDelta) {
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() - viewportDelta.x());
    verticalScrollBar()->setValue(verticalScrollBar()->value() - viewportDelta.y());
}

void CanvasView::setToolCursor(const QCursor& cursor) {
    toolCursor_ = cursor;
    if (!panning_ && !spaceHeld_) viewport()->setCursor(cursor);
}

void CanvasView::setDraftBox(const QRectF& imageRect) {
    QPen pen(Qt::white, style_->presentation ? 4.0 : 1.5, Qt::DashLine);
    pen.setCosmetic(true);  // screen pixels at any zoom
    draftItem_->setPen(pen);
    draftItem_->setBrush(QColor(0, 120, 215, 50));  // the wash shows the box on white images
    draftItem_->setRect(imageRect);
    draftItem_->setVisible(true);
}

void CanvasView::clearDraftBox() {
    if (draftItem_) draftItem_->setVisible(false);
}

void CanvasView::setDraftPath(const QPainterPath& imagePath) {
    QPen pen(Qt::white, style_->presentation ? 5.0 : 2.5, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin);
    pen.setCosmetic(true);
    draftPathItem_->setPen(pen);
    draftPathItem_->setBrush(Qt::NoBrush);
    draftPathItem_->setPath(imagePath);
    draftPathItem_->setVisible(true);
}

void CanvasView::clearDraftPath() {
    if (draftPathItem_) draftPathItem_->setVisible(false);
}

// --- zoom ---

void CanvasView::zoomIn() {
    zoomAround(zoom() * kZoomStep, viewport()->rect().center());
}

void CanvasView::zoomOut() {
    zoomAround(zoom() / kZoomStep, viewport()->rect().center());
}

void CanvasView::fitToWindow() {
    const QSizeF image = document_->image().size();
    if (image.isEmpty()) return;
    // The size without scroll bars: once fitted they are not needed.
    const QSize area = maximumViewportSize() - QSize(2 * kFitMarginPx, 2 * kFitMarginPx);
    const double z = std::min(area.width() / image.width(), area.height() / image.height());
    zoomAround(std::max(z, kMinZoom), viewport()->rect().center());
    centerOn(imageRect().center());
    fitted_ = true;
}

void CanvasView::actualSize() {
    setZoom(1.0);
}

void CanvasView::zoomToRect(const QRectF& rect) {
    const QRectF target = rect.normalized();
    if (target.isEmpty()) return;
    const QSizeF area = viewport()->size();
    double z = std::min(area.width() / (target.width() * kZoomToRectMargin),
                        area.height() / (target.height() * kZoomToRectMargin));
    z = std::min(z, std::max(kZoomToRectMax, zoom()));
    zoomAround(z, viewport()->rect().center());
    centerOn(target.center());
}

void CanvasView::setZoom(double z) {
    zoomAround(z, viewport()->rect().center());
}

void CanvasView::zoomAround(double z, const QPointF& viewAnchor) {
    z = std::clamp(z, kMinZoom, kMaxZoom);
    fitted_ = false;
    const QPoint anchor = viewAnchor.toPoint();
    const QPointF sceneAnchor = mapToScene(anchor);
    setTransform(QTransform::fromScale(z, z));
    const QPoint moved = mapFromScene(sceneAnchor) - anchor;
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() + moved.x());
    verticalScrollBar()->setValue(verticalScrollBar()->value() + moved.y());
    // Smooth when shrinking; crisp pixels when magnifying, so the user sees what the model sees.
    if (imageItem_)
        imageItem_->setTransformationMode(z < 1.0 ? Qt::SmoothTransformation
                                                  : Qt::FastTransformation);
    style_->unit = 1.0 / z;
    refreshOverlays();
    emit zoomChanged(z);
}

void CanvasView::setPresentationMode(bool on) {
    if (on == style_->presentation) return;
    style_->presentation = on;
    refreshOverlays();
}

void CanvasView::refreshOverlays() const {
    for (auto* item : regionItems_) item->styleChanged();
    for (auto* item : groundingItems_) item->styleChanged();
    if (focusCropItem_) focusCropItem_->styleChanged();
    for (auto* item : proposalItems_) item->styleChanged();
    if (previewItem_) previewItem_->styleChanged();
}

// --- following the document ---

void CanvasView::rebuildAll() {
    regionItems_.clear();
    groundingItems_.clear();
    focusCropItem_ = nullptr;
    proposalItems_.clear();
    previewItem_ = nullptr;
    hoveredProposal_ = -1;
    scene_->clear();
    imageItem_ = nullptr;

    const QImage& image = document_->image();
    style_->imageRect = imageRect();
    setSceneRect(imageRect());
    if (!image.isNull()) {
        imageItem_ = scene_->addPixmap(QPixmap::fromImage(image));
        imageItem_->setPos(0, 0);
        imageItem_->setZValue(0);
    }
    draftItem_ = scene_->addRect(QRectF());
    draftItem_->setZValue(kDraftZ);
    draftItem_->setVisible(false);
    draftPathItem_ = scene_->addPath(QPainterPath());
    draftPathItem_->setZValue(kDraftZ);
    draftPathItem_->setVisible(false);

    for (const auto& region : document_->regions()) addRegionItem(region.id);
    updateSelection(document_->selectedRegion());
    syncProposals();
    syncGroundingItems();
    syncFocusCrop();
}

void CanvasView::addRegionItem(int regionId) {
    const Region* region = document_->region(regionId);
    if (!region) return;
    removeRegionItem(regionId);
    auto* item = new RegionItem(*region, style_.get());
    item->setRegionSelected(regionId == document_->selectedRegion());
    scene_->addItem(item);
    regionItems_.insert(regionId, item);
}

void CanvasView::removeRegionItem(int regionId) {
    delete regionItems_.take(regionId);
}

void CanvasView::updateRegionItem(int regionId) {
    const Region* region = document_->region(regionId);
    RegionItem* item = regionItems_.value(regionId);
    if (region && item) item->setRegion(*region);
}

void CanvasView::updateSelection(int regionId) {
    for (auto* item : regionItems_) item->setRegionSelected(item->region().id == regionId);
}

void CanvasView::syncGroundingItems() {
    const QList<GroundingBox> boxes = document_->groundingBoxes();
    // Streaming answers change their entry every token; rebuild only when boxes changed.
    bool same = boxes.size() == groundingItems_.size();
    for (int i = 0; same && i < boxes.size(); ++i)
        same = groundingItems_[i]->groundingBox() == boxes[i];
    if (!same) {
        qDeleteAll(groundingItems_);
        groundingItems_.clear();
        for (int i = 0; i < boxes.size(); ++i) {
            auto* item = new GroundingItem(boxes[i], i, style_.get());
            scene_->addItem(item);
            groundingItems_.append(item);
        }
    }
    updateHighlight(document_->highlightedBox());
}

void CanvasView::updateHighlight(int index) {
    for (auto* item : groundingItems_) item->setHighlighted(item->index() == index);
}

void CanvasView::syncFocusCrop() {
    const FocusInfo& focus = document_->lastFocus();
    const bool show = focus.valid && focus.cropRect.isValid() && !focus.cropRect.isEmpty();
    if (!show) {
        delete focusCropItem_;
        focusCropItem_ = nullptr;
        return;
    }
    if (!focusCropItem_) {
        focusCropItem_ = new FocusCropItem(focus.cropRect, style_.get());
        scene_->addItem(focusCropItem_);
    } else {
        focusCropItem_->setCropRect(focus.cropRect);
    }
    focusCropItem_->setImageBounds(imageRect());
}

// --- input ---

ToolMouseEvent CanvasView::toolEvent(const QMouseEvent* event) const {
    ToolMouseEvent e;
    e.viewPos = event->position().toPoint();
    e.imagePos = mapToScene(e.viewPos);
    e.button = event->button();
    e.buttons = event->buttons();
    e.modifiers = event->modifiers();
    return e;
}

void CanvasView::wheelEvent(QWheelEvent* event) {
    const int delta = event->angleDelta().y();
    if (delta == 0) {
        event->ignore();
        return;
    }
    // One notch (120) is one zoom step; touchpads send smaller deltas for smoother zoom.
    const double factor = std::pow(kZoomStep, delta / 120.0);
    zoomAround(zoom() * factor, event->position());
    event->accept();
}

void CanvasView::mousePressEvent(QMouseEvent* event) {
    const bool panButton =
        event->button() == Qt::MiddleButton || (event->button() == Qt::LeftButton && spaceHeld_);
    if (panButton && !panning_) {
        panning_ = true;
        panButton_ = event->button();
        lastPanPos_ = event->position().toPoint();
        viewport()->setCursor(Qt::ClosedHandCursor);
        event->accept();
        return;
    }
    if (tool_ && !panning_ && document_->hasImage()) tool_->mousePressed(toolEvent(event));
    event->accept();
}

void CanvasView::mouseMoveEvent(QMouseEvent* event) {
    if (panning_) {
        const QPoint pos = event->position().toPoint();
        panBy(pos - lastPanPos_);
        lastPanPos_ = pos;
        event->accept();
        return;
    }
    const ToolMouseEvent e = toolEvent(event);
    if (document_->hasImage()) emit mouseImagePosition(e.imagePos);
    if (tool_ && document_->hasImage()) tool_->mouseMoved(e);
    event->accept();
}

void CanvasView::leaveEvent(QEvent* event) {
    setHoveredProposal(-1);
    setPreviewMask(QImage(), QColor());
    emit mouseLeft();
    QGraphicsView::leaveEvent(event);
}

void CanvasView::mouseReleaseEvent(QMouseEvent* event) {
    if (panning_) {
        if (event->button() == panButton_) endPan();
        event->accept();
        return;
    }
    if (tool_ && document_->hasImage()) tool_->mouseReleased(toolEvent(event));
    event->accept();
}

void CanvasView::mouseDoubleClickEvent(QMouseEvent* event) {
    // Tools see a double click as a second press, so fast clicks are never lost.
    mousePressEvent(event);
}

void CanvasView::keyPressEvent(QKeyEvent* event) {
    if (event->key() == Qt::Key_Space) {
        if (!event->isAutoRepeat() && !spaceHeld_) {
            spaceHeld_ = true;
            if (!panning_) viewport()->setCursor(Qt::OpenHandCursor);
        }
        event->accept();
        return;
    }
    if (tool_ && tool_->keyPressed(event)) {
        event->accept();
        return;
    }
    QGraphicsView::keyPressEvent(event);
}

void CanvasView::keyReleaseEvent(QKeyEvent* event) {
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        spaceHeld_ = false;
        if (!panning_) restoreCursor();
        event->accept();
        return;
    }
    QGraphicsView::keyReleaseEvent(event);
}

void CanvasView::focusOutEvent(QFocusEvent* event) {
    // The space release may go to another widget; do not stay stuck in pan mode.
    spaceHeld_ = false;
    if (panning_) endPan();
    restoreCursor();
    QGraphicsView::focusOutEvent(event);
}

void CanvasView::resizeEvent(QResizeEvent* event) {
    QGraphicsView::resizeEvent(event);
    if (fitted_) fitToWindow();
}

void CanvasView::drawForeground(QPainter* painter, const QRectF& rect) {
    QGraphicsView::drawForeground(painter, rect);
    if (document_->hasImage()) return;
    // An empty canvas says how to start instead of showing a blank grey area.
    painter->save();
    painter->resetTransform();
    painter->setPen(QColor(200, 200, 200));
    painter->drawText(viewport()->rect(), Qt::AlignCenter | Qt::TextWordWrap,
                      tr("Open an image to start: File › Open, or drop one here."));
    painter->restore();
}

void CanvasView::endPan() {
    panning_ = false;
    panButton_ = Qt::NoButton;
    restoreCursor();
}

void CanvasView::restoreCursor() {
    viewport()->setCursor(spaceHeld_ ? QCursor(Qt::OpenHandCursor) : toolCursor_);
}

}  // namespace rcui
