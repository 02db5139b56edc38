// The regions dock: one row per region (colour swatch, "Region N", kind, box in pixels).
// Selection follows the document both ways; Delete removes through the undo stack; a double
// click asks the canvas to zoom to the region.
#pragma once

#include <QRectF>
#include <QWidget>

class QLabel;
class QPushButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace rcui {

class ImageDocument;
struct Region;

class RegionListWidget : public QWidget {
    Q_OBJECT

public:
    explicit RegionListWidget(ImageDocument* document, QWidget* parent = nullptr);

    /// The list itself (one top-level item per region, in document order).
    QTreeWidget* list() const { return list_; }
    /// The text of the box column: "x0,y0 – x1,y1" in whole image pixels.
    static QString boxText(const QRectF& box);
    /// The text of the kind column: "box", or "point" with the point counts.
    static QString kindText(const Region& region);

public slots:
    /// Removes the selected region (undoable); does nothing when none is selected.
    void deleteSelectedRegion();

signals:
    /// The user double-clicked a region: show `imageRect` (image pixels) large.
    void zoomToRegion(const QRectF& imageRect);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();
    void showSelection(int regionId);
    void fillRow(QTreeWidgetItem* row, const Region& region) const;
    QTreeWidgetItem* rowFor(int regionId) const;
    void onCurrentRowChanged();

    ImageDocument* document_;
    QTreeWidget* list_;
    QPushButton* deleteButton_;
    QLabel* emptyHint_;
    bool syncing_ = false;  // true while the list follows the document, to avoid echoing back
};

}  // namespace rcui
