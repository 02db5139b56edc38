#include "canvas/RegionListWidget.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QKeyEvent>
#include <QLabel>
#include <QPainter>
#include <QPixmap>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <cmath>

#include "document/ImageDocument.h"
#include "document/RemoveRegionCommand.h"

namespace rcui {

namespace {
enum Column { NameColumn, KindColumn, BoxColumn };
constexpr int kRegionIdRole = Qt::UserRole + 1;

QIcon swatch(const QColor& colour) {
    QPixmap pixmap(16, 16);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setPen(QPen(colour.darker(160), 1));
    p.setBrush(colour);
    p.drawRect(QRectF(1.5, 1.5, 13, 13));
    return QIcon(pixmap);
}
}  // namespace

RegionListWidget::RegionListWidget(ImageDocument* document, QWidget* parent)
    : QWidget(parent), document_(document) {
    list_ = new QTreeWidget(this);
    list_->setColumnCount(3);
    list_->setHeaderLabels({tr("Region"), tr("Kind"), tr("Box (px)")});
    list_->setRootIsDecorated(false);
    list_->setUniformRowHeights(true);
    list_->setSelectionMode(QAbstractItemView::SingleSelection);
    list_->setAllColumnsShowFocus(true);
    list_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    list_->header()->setStretchLastSection(true);
    list_->installEventFilter(this);

    emptyHint_ = new QLabel(tr("No regions yet. Drag a box (B) or click a point (P) on the "
                               "image, then refer to it in a question."),
                            this);
    emptyHint_->setWordWrap(true);
    emptyHint_->setEnabled(false);  // greyed: a hint, not content

    deleteButton_ = new QPushButton(tr("Delete"), this);
    deleteButton_->setToolTip(tr("Delete the selected region (Delete)"));
    deleteButton_->setIcon(QIcon::fromTheme(QStringLiteral("edit-delete")));

    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(deleteButton_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(list_, 1);
    layout->addWidget(emptyHint_);
    layout->addLayout(buttons);

    connect(deleteButton_, &QPushButton::clicked, this, &RegionListWidget::deleteSelectedRegion);
    connect(list_, &QTreeWidget::itemSelectionChanged, this,
            &RegionListWidget::onCurrentRowChanged);
    connect(list_, &QTreeWidget::itemDoubleClicked, this, [this](QTreeWidgetItem* row) {
        if (const Region* r = document_->region(row->data(NameColumn, kRegionIdRole).toInt()))
            emit zoomToRegion(r->box);
    });

    connect(document_, &ImageDocument::imageChanged, this, &RegionListWidget::rebuild);
    connect(document_, &ImageDocument::regionAdded, this, &RegionListWidget::rebuild);
    connect(document_, &ImageDocument::regionRemoved, this, &RegionListWidget::rebuild);
    connect(document_, &ImageDocument::regionChanged, this, [this](int id) {
        const Region* region = document_->region(id);
        QTreeWidgetItem* row = rowFor(id);
        if (region && row) fillRow(row, *region);
    });
    connect(document_, &ImageDocument::selectionChanged, this, &RegionListWidget::showSelection);
    rebuild();
}

QString RegionListWidget::boxText(const QRectF& box) {
    auto n = [](double v) { return QString::number(std::lround(v)); };
    return QStringLiteral("%1,%2 \u2013 %3,%4")
        .arg(n(box.left()), n(box.top()), n(box.right()), n(box.bottom()));
}

QString RegionListWidget::kindText(const Region& region) {
    if (region.kind == Region::Kind::Box) return region.hasMask() ? tr("mask") : tr("box");
    if (region.hasMask())
        return tr("SAM mask (%1 points)").arg(region.positive.size() + region.negative.size());
    if (region.negative.isEmpty() && region.positive.size() <= 1) return tr("point");
    if (region.kind == Region::Kind::Scribble)
        return tr("scribble (%n point(s))", nullptr, int(region.positive.size()));
    return tr("points (%1+, %2\u2212)").arg(region.positive.size()).arg(region.negative.size());
}

void RegionListWidget::fillRow(QTreeWidgetItem* row, const Region& region) const {
    row->setData(NameColumn, kRegionIdRole, region.id);
    row->setIcon(NameColumn, swatch(region.colour));
    row->setText(NameColumn, tr("Region %1").arg(region.id));
    row->setText(KindColumn, kindText(region));
    row->setText(BoxColumn, boxText(region.box));
    row->setToolTip(NameColumn, tr("Double-click to zoom to region %1").arg(region.id));
}

void RegionListWidget::rebuild() {
    syncing_ = true;
    list_->clear();
    for (const auto& region : document_->regions()) {
        auto* row = new QTreeWidgetItem(list_);
        fillRow(row, region);
    }
    syncing_ = false;
    emptyHint_->setVisible(document_->regions().isEmpty());
    showSelection(document_->selectedRegion());
}

QTreeWidgetItem* RegionListWidget::rowFor(int regionId) const {
    for (int i = 0; i < list_->topLevelItemCount(); ++i) {
        QTreeWidgetItem* row = list_->topLevelItem(i);
        if (row->data(NameColumn, kRegionIdRole).toInt() == regionId) return row;
    }
    return nullptr;
}

void RegionListWidget::showSelection(int regionId) {
    syncing_ = true;
    QTreeWidgetItem* row = rowFor(regionId);
    list_->clearSelection();
    if (row) {
        list_->setCurrentItem(row);
        row->setSelected(true);
        list_->scrollToItem(row);
    }
    syncing_ = false;
    deleteButton_->setEnabled(row != nullptr);
}

void RegionListWidget::onCurrentRowChanged() {
    if (syncing_) return;
    const QList<QTreeWidgetItem*> rows = list_->selectedItems();
    const int id = rows.isEmpty() ? 0 : rows.first()->data(NameColumn, kRegionIdRole).toInt();
    document_->setSelectedRegion(id);
    deleteButton_->setEnabled(id != 0);
}

void RegionListWidget::deleteSelectedRegion() {
    const int id = document_->selectedRegion();
    if (id == 0 || !document_->region(id)) return;
    document_->undoStack()->push(new RemoveRegionCommand(document_, id));
}

bool RegionListWidget::eventFilter(QObject* watched, QEvent* event) {
    if (watched == list_ && event->type() == QEvent::KeyPress) {
        const int key = static_cast<QKeyEvent*>(event)->key();
        if (key == Qt::Key_Delete || key == Qt::Key_Backspace) {
            deleteSelectedRegion();
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

}  // namespace rcui
