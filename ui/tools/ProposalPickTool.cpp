#include "tools/ProposalPickTool.h"

#include <QPainter>
#include <QPixmap>

#include "canvas/CanvasView.h"
#include "document/AddRegionCommand.h"
#include "document/ImageDocument.h"

namespace rcui {

namespace {

QIcon pickIcon() {
    QPixmap pixmap(32, 32);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(QPen(QColor(80, 220, 60).darker(130), 2));
    p.setBrush(QColor(80, 220, 60, 110));
    p.drawEllipse(QRectF(4, 8, 16, 14));
    p.setPen(QPen(QColor(0, 200, 255).darker(130), 2));
    p.setBrush(QColor(0, 200, 255, 110));
    p.drawRoundedRect(QRectF(13, 4, 15, 12), 3, 3);
    p.setPen(QPen(Qt::black, 1.5));
    p.setBrush(Qt::white);
    const QPointF arrow[] = {{17, 15}, {17, 29}, {21, 25}, {25, 30}, {27, 28}, {23, 23}, {28, 22}};
    p.drawPolygon(arrow, 7);
    return QIcon(pixmap);
}

}  // namespace

ProposalPickTool::ProposalPickTool(ImageDocument* document, CanvasView* canvas, QObject* parent)
    : AbstractTool(QStringLiteral("Pick"), pickIcon(), QKeySequence(Qt::Key_K), document, canvas,
                   parent) {
    setStatusText(
        tr("Pick: click a highlighted proposal to make it a region. Regions > Propose "
           "Regions makes new proposals (classic or SAM)."));
}

void ProposalPickTool::activate() {
    AbstractTool::activate();
    canvas()->setProposalsVisible(true);
    if (document()->hasImage() && document()->proposals().isEmpty()) emit proposalsWanted();
}

void ProposalPickTool::deactivate() {
    canvas()->setProposalsVisible(false);
    AbstractTool::deactivate();
}

void ProposalPickTool::mouseMoved(const ToolMouseEvent& event) {
    canvas()->setHoveredProposal(canvas()->proposalAt(event.imagePos));
}

void ProposalPickTool::mousePressed(const ToolMouseEvent& event) {
    if (event.button != Qt::LeftButton) return;
    const int index = canvas()->proposalAt(event.imagePos);
    if (index < 0) {
        emit statusMessage(document()->proposals().isEmpty()
                               ? tr("No proposals yet: Regions > Propose Regions makes them.")
                               : tr("No proposal under the cursor."));
        return;
    }
    const ProposalMask& p = document()->proposals()[index];
    Region region;
    region.id = document()->nextRegionId();
    region.kind = Region::Kind::Box;
    region.box = p.box;
    region.mask = p.mask;
    region.colour = regionColour(region.id);
    document()->undoStack()->push(new AddRegionCommand(document(), region));
    document()->setSelectedRegion(region.id);
    emit statusMessage(tr("Region %1 from a %2 proposal (score %3).")
                           .arg(region.id)
                           .arg(p.source)
                           .arg(double(p.score), 0, 'f', 2));
}

}  // namespace rcui
