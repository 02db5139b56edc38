// The canvas, its tools and the region list, driven with real mouse and key events on an
// offscreen window. Expected boxes are computed from the dragged image points, not read back.
#include <QAction>
#include <QPushButton>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTreeWidget>
#include <QtTest>
#include <memory>

#include "canvas/CanvasView.h"
#include "canvas/GroundingItem.h"
#include "canvas/RegionItem.h"
#include "canvas/RegionListWidget.h"
#include "document/AddRegionCommand.h"
#include "document/ImageDocument.h"
#include "document/SessionFile.h"
#include "inference/ImageConversion.h"
#include "tools/AbstractTool.h"
#include "tools/ToolManager.h"

using namespace rcui;

namespace {

const QColor kBackground(128, 128, 128);

QImage greyImage(const QSize& size) {
    QImage image(size, QImage::Format_RGB32);
    image.fill(kBackground);
    return image;
}

bool near(const QRectF& a, const QRectF& b, double tolerance = 1.0) {
    return std::abs(a.left() - b.left()) <= tolerance && std::abs(a.top() - b.top()) <= tolerance &&
           std::abs(a.right() - b.right()) <= tolerance &&
           std::abs(a.bottom() - b.bottom()) <= tolerance;
}

bool near(const QPointF& a, const QPointF& b, double tolerance = 1.0) {
    return std::abs(a.x() - b.x()) <= tolerance && std::abs(a.y() - b.y()) <= tolerance;
}

QString describe(const QRectF& r) {
    return QStringLiteral("(%1,%2)-(%3,%4)")
        .arg(r.left())
        .arg(r.top())
        .arg(r.right())
        .arg(r.bottom());
}

int colourDistance(QRgb a, const QColor& b) {
    return std::abs(qRed(a) - b.red()) + std::abs(qGreen(a) - b.green()) +
           std::abs(qBlue(a) - b.blue());
}

// A window with a 400x300 image, the canvas at 800x600 and the standard tools.
struct Canvas {
    ImageDocument doc;
    std::unique_ptr<CanvasView> view;
    std::unique_ptr<ToolManager> tools;

    explicit Canvas(const QSize& imageSize = QSize(400, 300)) {
        doc.setImage(greyImage(imageSize), QString());
        view = std::make_unique<CanvasView>(&doc);
        tools = std::make_unique<ToolManager>(&doc, view.get());
        view->resize(800, 600);
        view->show();
        view->activateWindow();
        view->setFocus();
        (void)QTest::qWaitForWindowExposed(view.get());
        view->fitToWindow();
    }
    ~Canvas() {
        tools.reset();  // tools before the canvas they draw on
        view.reset();
    }

    QWidget* viewport() const { return view->viewport(); }
    QPoint at(const QPointF& imagePos) const { return view->mapFromScene(imagePos); }

    /// A left-button drag between two image points, in a few steps like a real mouse.
    void drag(const QPointF& from, const QPointF& to, Qt::MouseButton button = Qt::LeftButton,
              Qt::KeyboardModifiers modifiers = Qt::NoModifier) {
        QTest::mousePress(viewport(), button, modifiers, at(from));
        for (int step = 1; step <= 4; ++step)
            QTest::mouseMove(viewport(), at(from + (to - from) * step / 4.0));
        QTest::mouseRelease(viewport(), button, modifiers, at(to));
    }
    /// The same, in viewport pixels (for panning, where image positions shift under the mouse).
    void dragView(const QPoint& from, const QPoint& to, Qt::MouseButton button) {
        QTest::mousePress(viewport(), button, Qt::NoModifier, from);
        QTest::mouseMove(viewport(), from + (to - from) / 2);
        QTest::mouseMove(viewport(), to);
        QTest::mouseRelease(viewport(), button, Qt::NoModifier, to);
    }
    void click(const QPointF& pos, Qt::KeyboardModifiers modifiers = Qt::NoModifier) {
        QTest::mouseClick(viewport(), Qt::LeftButton, modifiers, at(pos));
    }
    int addBox(const QRectF& box) {
        Region r;
        r.id = doc.nextRegionId();
        r.box = box;
        r.colour = regionColour(r.id);
        doc.undoStack()->push(new AddRegionCommand(&doc, r));
        return r.id;
    }
    void wheel(const QPoint& pos, int delta) {
        QWheelEvent event(pos, view->mapToGlobal(pos), QPoint(), QPoint(0, delta), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(viewport(), &event);
    }
};

}  // namespace

class TestCanvas : public QObject {
    Q_OBJECT

private slots:
    // --- box tool ---

    void boxDragMakesOneUndoableRegion() {
        Canvas c;
        QCOMPARE(c.tools->activeTool()->name(), QStringLiteral("Box"));
        const QPointF from(50, 40), to(250, 200);
        c.drag(from, to);
        QCOMPARE(c.doc.regions().size(), 1);
        const Region r = c.doc.regions().first();
        QVERIFY2(near(r.box, QRectF(from, to)), qPrintable(describe(r.box)));
        QCOMPARE(r.kind, Region::Kind::Box);
        QCOMPARE(r.id, 1);
        QCOMPARE(r.colour, regionColour(1));
        QCOMPARE(c.doc.selectedRegion(), 1);
        QVERIFY(c.view->regionItem(1));
        QCOMPARE(c.doc.undoStack()->count(), 1);

        c.doc.undoStack()->undo();
        QVERIFY(c.doc.regions().isEmpty());
        QVERIFY(!c.view->regionItem(1));
        c.doc.undoStack()->redo();
        QCOMPARE(c.doc.regions().size(), 1);
        QCOMPARE(c.doc.regions().first().box, r.box);
        QVERIFY(c.view->regionItem(1));
    }

    void backwardsDragMakesTheSameBox() {
        Canvas c;
        c.drag(QPointF(250, 200), QPointF(50, 40));
        QCOMPARE(c.doc.regions().size(), 1);
        QVERIFY(near(c.doc.regions().first().box, QRectF(50, 40, 200, 160)));
    }

    void tinyDragMakesNoRegion() {
        Canvas c;
        c.drag(QPointF(100, 100), QPointF(101.5, 101.5));
        QVERIFY(c.doc.regions().isEmpty());
        QCOMPARE(c.doc.undoStack()->count(), 0);
        // A thin sliver is as useless to the model as a dot.
        c.drag(QPointF(100, 100), QPointF(200, 101));
        QVERIFY(c.doc.regions().isEmpty());
    }

    void dragPastTheImageEdgeIsClipped() {
        Canvas c;
        c.view->actualSize();  // 400x300 image centred in 800x600: room outside the image
        QCOMPARE(c.view->zoom(), 1.0);
        c.drag(QPointF(300, 200), QPointF(470, 360));
        QCOMPARE(c.doc.regions().size(), 1);
        const QRectF box = c.doc.regions().first().box;
        QVERIFY2(near(box, QRectF(QPointF(300, 200), QPointF(400, 300))),
                 qPrintable(describe(box)));
        QVERIFY(QRectF(0, 0, 400, 300).contains(box));
    }

    void clickOnEmptyImageDeselects() {
        Canvas c;
        const int id = c.addBox(QRectF(100, 100, 80, 60));
        c.doc.setSelectedRegion(id);
        c.click(QPointF(300, 250));
        QCOMPARE(c.doc.selectedRegion(), 0);
        QCOMPARE(c.doc.regions().size(), 1);
        c.click(QPointF(120, 120));  // inside: selects
        QCOMPARE(c.doc.selectedRegion(), id);
        QCOMPARE(c.doc.region(id)->box, QRectF(100, 100, 80, 60));  // a click does not move it
    }

    void draggingARegionMovesItInOneUndoStep() {
        Canvas c;
        const QRectF original(100, 100, 80, 60);
        const int id = c.addBox(original);
        c.doc.setSelectedRegion(0);
        const int commands = c.doc.undoStack()->count();
        c.drag(QPointF(140, 130), QPointF(190, 150));
        QCOMPARE(c.doc.regions().size(), 1);  // moved, not a new box
        QCOMPARE(c.doc.selectedRegion(), id);
        const QRectF moved = c.doc.region(id)->box;
        QVERIFY2(near(moved, original.translated(50, 20)), qPrintable(describe(moved)));
        QCOMPARE(c.doc.undoStack()->count(), commands + 1);
        c.doc.undoStack()->undo();
        QCOMPARE(c.doc.region(id)->box, original);
        c.doc.undoStack()->redo();
        QCOMPARE(c.doc.region(id)->box, moved);
    }

    void maskRegionsMoveWithTheirMaskAndResizeToBoxes() {
        Canvas c;
        QImage mask(c.doc.image().size(), QImage::Format_Grayscale8);
        mask.fill(0);
        for (int y = 110; y < 150; ++y)
            for (int x = 100 + (y - 110); x < 180; ++x) mask.scanLine(y)[x] = 255;  // a wedge
        Region r;
        r.id = c.doc.nextRegionId();
        r.mask = mask;
        r.box = maskBoundingRect(mask);
        r.colour = regionColour(r.id);
        c.doc.undoStack()->push(new AddRegionCommand(&c.doc, r));
        QCOMPARE(r.box, QRectF(100, 110, 80, 40));

        // The mask is drawn under the outline: a pixel inside the wedge takes its colour,
        // one inside the box but outside the wedge does not.
        const QImage shot = c.view->renderAnnotated();
        QVERIFY(colourDistance(shot.pixel(170, 140), kBackground) > 30);
        QVERIFY(colourDistance(shot.pixel(105, 145), kBackground) < 10);

        c.drag(QPointF(160, 120), QPointF(210, 140));
        const Region* moved = c.doc.region(r.id);
        QVERIFY(moved->hasMask());
        QVERIFY2(near(moved->box, r.box.translated(50, 20)), qPrintable(describe(moved->box)));
        QVERIFY2(near(maskBoundingRect(moved->mask), moved->box),
                 qPrintable(describe(maskBoundingRect(moved->mask))));
        c.doc.undoStack()->undo();
        QCOMPARE(c.doc.region(r.id)->mask, mask);

        // Resizing makes it the box the user drew.
        c.doc.setSelectedRegion(r.id);
        c.drag(r.box.bottomRight(), QPointF(220, 200));
        QVERIFY(!c.doc.region(r.id)->hasMask());
        QVERIFY(near(c.doc.region(r.id)->box, QRectF(QPointF(100, 110), QPointF(220, 200))));
    }

    void movingStopsAtTheImageEdge() {
        Canvas c;
        const int id = c.addBox(QRectF(300, 200, 80, 60));
        c.drag(QPointF(340, 230), QPointF(395, 290));
        const QRectF box = c.doc.region(id)->box;
        QCOMPARE(box.size(), QSizeF(80, 60));  // kept its size
        QVERIFY2(near(box, QRectF(320, 240, 80, 60)), qPrintable(describe(box)));
    }

    void draggingAHandleResizes() {
        Canvas c;
        const QRectF original(100, 100, 80, 60);
        const int id = c.addBox(original);
        c.doc.setSelectedRegion(id);
        const int commands = c.doc.undoStack()->count();
        c.drag(original.bottomRight(), QPointF(220, 200));
        QCOMPARE(c.doc.regions().size(), 1);
        const QRectF resized = c.doc.region(id)->box;
        QVERIFY2(near(resized, QRectF(QPointF(100, 100), QPointF(220, 200))),
                 qPrintable(describe(resized)));
        QCOMPARE(c.doc.undoStack()->count(), commands + 1);

        // The top edge handle moves only the top.
        c.drag(QPointF(160, 100), QPointF(160, 70));
        QVERIFY(near(c.doc.region(id)->box, QRectF(QPointF(100, 70), QPointF(220, 200))));

        c.doc.undoStack()->undo();
        c.doc.undoStack()->undo();
        QCOMPARE(c.doc.region(id)->box, original);
    }

    void deleteKeyOnCanvasRemovesSelectedRegion() {
        Canvas c;
        const int id = c.addBox(QRectF(10, 10, 50, 50));
        c.doc.setSelectedRegion(id);
        QTest::keyClick(c.view.get(), Qt::Key_Delete);
        QVERIFY(c.doc.regions().isEmpty());
        c.doc.undoStack()->undo();
        QCOMPARE(c.doc.regions().size(), 1);
    }

    // --- scribble tool ---

    // A drag records a stroke in order (one undo step); a click alone marks nothing; the
    // stroke survives a session round trip and reaches core as a scribble.
    void scribbleDragMakesAStrokeRegion() {
        Canvas c;
        QVERIFY(c.tools->setActiveTool(QStringLiteral("Scribble")));
        QVERIFY(c.tools->activeTool()->statusText().contains(QStringLiteral("stroke")));
        QSignalSpy messages(c.tools.get(), &ToolManager::statusMessage);
        c.click(QPointF(50, 50));
        QVERIFY(c.doc.regions().isEmpty());
        QCOMPARE(messages.size(), 1);
        c.drag(QPointF(40, 200), QPointF(240, 120));
        QCOMPARE(c.doc.regions().size(), 1);
        const Region r = c.doc.regions().first();
        QCOMPARE(r.kind, Region::Kind::Scribble);
        QVERIFY(r.positive.size() >= 3);
        QVERIFY(near(r.positive.first(), QPointF(40, 200)));
        QVERIFY(near(r.positive.last(), QPointF(240, 120)));
        for (int i = 1; i < r.positive.size(); ++i) QVERIFY(r.positive[i].x() > r.positive[i - 1].x());
        QVERIFY(r.box.contains(QRectF(41, 121, 198, 78)));
        QCOMPARE(c.doc.selectedRegion(), r.id);
        c.doc.undoStack()->undo();
        QVERIFY(c.doc.regions().isEmpty());
        c.doc.undoStack()->redo();
        QCOMPARE(c.doc.regions().first(), r);

        SessionData data;
        data.imagePath = QStringLiteral("/tmp/x.png");
        data.imageWidth = 400;
        data.imageHeight = 300;
        data.regions = c.doc.regions();
        SessionData back;
        QString error;
        QVERIFY2(sessionFromJson(sessionToJson(data), &back, &error), qPrintable(error));
        QCOMPARE(back.regions.size(), 1);
        QCOMPARE(back.regions.first().kind, Region::Kind::Scribble);
        QCOMPARE(back.regions.first().positive, r.positive);
        const auto inputs = toRegionInputs(back.regions);
        QVERIFY(inputs.front().scribble);
        QCOMPARE(inputs.front().points.size(), size_t(r.positive.size()));
    }

    // --- point tool ---

    void pointClickMakesAPointRegion() {
        Canvas c;
        QVERIFY(c.tools->setActiveTool(QStringLiteral("Point")));
        QVERIFY(c.tools->activeTool()->statusText().contains(QStringLiteral("small box")));
        const QSizeF size(400, 300);
        const QPointF p(100, 80);
        c.click(p);
        QCOMPARE(c.doc.regions().size(), 1);
        const Region r = c.doc.regions().first();
        QCOMPARE(r.kind, Region::Kind::Point);
        QCOMPARE(r.positive.size(), 1);
        QVERIFY(near(r.positive.first(), p));
        QCOMPARE(r.box, pointBox(r.positive.first(), size));
        QVERIFY(near(r.box, QRectF(p.x() - 9, p.y() - 9, 18, 18)));  // 6% of 300 = 18 px
        QCOMPARE(c.doc.selectedRegion(), r.id);

        // Shift-click: a negative point on the same region; the box stays.
        const QPointF n(108, 86);
        c.click(n, Qt::ShiftModifier);
        QCOMPARE(c.doc.regions().size(), 1);
        const Region withNegative = c.doc.regions().first();
        QCOMPARE(withNegative.negative.size(), 1);
        QVERIFY(near(withNegative.negative.first(), n));
        QCOMPARE(withNegative.positive.size(), 1);
        QCOMPARE(withNegative.box, r.box);

        // Ctrl-click: another positive point; the box covers both.
        const QPointF q(200, 150);
        c.click(q, Qt::ControlModifier);
        const Region two = c.doc.regions().first();
        QCOMPARE(two.positive.size(), 2);
        QCOMPARE(two.box, pointBox(two.positive[0], size) | pointBox(two.positive[1], size));

        c.doc.undoStack()->undo();
        c.doc.undoStack()->undo();
        QCOMPARE(c.doc.regions().first(), r);
    }

    void shiftClickWithoutPointRegionExplains() {
        Canvas c;
        c.tools->setActiveTool(QStringLiteral("Point"));
        QSignalSpy messages(c.tools.get(), &ToolManager::statusMessage);
        c.click(QPointF(50, 50), Qt::ShiftModifier);
        QVERIFY(c.doc.regions().isEmpty());
        QCOMPARE(messages.size(), 1);
        QVERIFY(messages.first().first().toString().contains(QStringLiteral("point region")));
    }

    // --- region list ---

    void regionListShowsAndDeletes() {
        Canvas c;
        RegionListWidget list(&c.doc);
        list.resize(360, 300);
        list.show();
        QVERIFY(QTest::qWaitForWindowExposed(&list));
        const int a = c.addBox(QRectF(100, 100, 80, 60));
        const int b = c.addBox(QRectF(10, 20, 30, 40));
        QTreeWidget* tree = list.list();
        QCOMPARE(tree->topLevelItemCount(), 2);
        QCOMPARE(tree->topLevelItem(0)->text(0), QStringLiteral("Region 1"));
        QCOMPARE(tree->topLevelItem(0)->text(1), QStringLiteral("box"));
        QCOMPARE(tree->topLevelItem(0)->text(2), QStringLiteral("100,100 \u2013 180,160"));

        // Document -> list.
        c.doc.setSelectedRegion(b);
        QCOMPARE(tree->selectedItems().size(), 1);
        QCOMPARE(tree->selectedItems().first(), tree->topLevelItem(1));
        // List -> document.
        tree->setCurrentItem(tree->topLevelItem(0));
        QCOMPARE(c.doc.selectedRegion(), a);

        // Delete key in the list.
        tree->setFocus();
        QTest::keyClick(tree, Qt::Key_Delete);
        QCOMPARE(c.doc.regions().size(), 1);
        QVERIFY(!c.doc.region(a));
        QCOMPARE(tree->topLevelItemCount(), 1);
        c.doc.undoStack()->undo();
        QCOMPARE(c.doc.regions().size(), 2);
        QCOMPARE(c.doc.regions().first().id, a);  // back in its place
        QCOMPARE(tree->topLevelItemCount(), 2);

        // The Delete button.
        c.doc.setSelectedRegion(b);
        auto* button = list.findChild<QPushButton*>();
        QVERIFY(button && button->isEnabled());
        button->click();
        QVERIFY(!c.doc.region(b));
        QVERIFY(!button->isEnabled());

        // Geometry changes show up.
        c.doc.setSelectedRegion(a);
        c.drag(QPointF(140, 130), QPointF(150, 130));
        QCOMPARE(tree->topLevelItem(0)->text(2), RegionListWidget::boxText(c.doc.region(a)->box));
        QVERIFY(tree->topLevelItem(0)->text(2) != QStringLiteral("100,100 \u2013 180,160"));
    }

    void regionListDoubleClickAsksForZoom() {
        Canvas c;
        RegionListWidget list(&c.doc);
        list.show();
        QVERIFY(QTest::qWaitForWindowExposed(&list));
        c.addBox(QRectF(10, 20, 30, 40));
        QSignalSpy zoom(&list, &RegionListWidget::zoomToRegion);
        QTreeWidget* tree = list.list();
        const QPoint pos = tree->visualItemRect(tree->topLevelItem(0)).center();
        // A double click follows a press, as from a real mouse (the view checks the pressed row).
        QTest::mouseClick(tree->viewport(), Qt::LeftButton, Qt::NoModifier, pos);
        QTest::mouseDClick(tree->viewport(), Qt::LeftButton, Qt::NoModifier, pos);
        QCOMPARE(zoom.size(), 1);
        QCOMPARE(zoom.first().first().toRectF(), QRectF(10, 20, 30, 40));

        connect(&list, &RegionListWidget::zoomToRegion, c.view.get(), &CanvasView::zoomToRect);
        QTest::mouseClick(tree->viewport(), Qt::LeftButton, Qt::NoModifier, pos);
        QTest::mouseDClick(tree->viewport(), Qt::LeftButton, Qt::NoModifier, pos);
        const QRect shown = c.view->mapFromScene(QRectF(10, 20, 30, 40)).boundingRect();
        QVERIFY(c.viewport()->rect().contains(shown));
        QVERIFY(shown.height() > c.viewport()->height() / 2);  // large, not a speck
    }

    // --- zoom and pan ---

    void zoomCommands() {
        Canvas c;
        const QSize viewport = c.viewport()->size();
        const double fit = c.view->zoom();
        QVERIFY(400 * fit <= viewport.width() && 300 * fit <= viewport.height());
        QVERIFY(std::max(400 * fit / viewport.width(), 300 * fit / viewport.height()) > 0.95);

        c.view->actualSize();
        QCOMPARE(c.view->zoom(), 1.0);
        c.view->zoomIn();
        QVERIFY(c.view->zoom() > 1.0);
        c.view->zoomOut();
        c.view->zoomOut();
        QVERIFY(c.view->zoom() < 1.0);
        c.view->fitToWindow();
        QVERIFY(std::abs(c.view->zoom() - fit) < 1e-9);

        c.view->zoomToRect(QRectF(10, 10, 40, 30));
        QVERIFY(c.view->zoom() > fit);
        const QRect shown = c.view->mapFromScene(QRectF(10, 10, 40, 30)).boundingRect();
        QVERIFY(c.viewport()->rect().contains(shown));
    }

    void wheelZoomsAroundTheCursor() {
        Canvas c;
        QSignalSpy zoomed(c.view.get(), &CanvasView::zoomChanged);
        const double before = c.view->zoom();
        const QPoint cursor = c.at(QPointF(100, 75));
        c.wheel(cursor, 120);
        QVERIFY(c.view->zoom() > before * 1.1);
        QCOMPARE(zoomed.size(), 1);
        c.wheel(cursor, 120);
        // The pixel under the mouse stays under it.
        const QPointF under = c.view->mapToScene(cursor);
        QVERIFY2(near(under, QPointF(100, 75), 2.0),
                 qPrintable(QStringLiteral("%1,%2").arg(under.x()).arg(under.y())));
        const double in = c.view->zoom();
        c.wheel(cursor, -120);
        QVERIFY(c.view->zoom() < in);
    }

    void middleAndSpaceDragPanWithoutDrawing() {
        Canvas c;
        c.view->setZoom(4.0);
        QScrollBar* h = c.view->horizontalScrollBar();
        QScrollBar* v = c.view->verticalScrollBar();
        const QPoint centre = c.viewport()->rect().center();
        int x = h->value(), y = v->value();
        c.dragView(centre, centre + QPoint(-60, -40), Qt::MiddleButton);
        QCOMPARE(h->value(), x + 60);
        QCOMPARE(v->value(), y + 40);

        x = h->value();
        QTest::keyPress(c.view.get(), Qt::Key_Space);
        c.dragView(centre, centre + QPoint(50, 0), Qt::LeftButton);
        QTest::keyRelease(c.view.get(), Qt::Key_Space);
        QCOMPARE(h->value(), x - 50);
        QVERIFY(c.doc.regions().isEmpty());  // the box tool never saw the drag

        c.tools->setActiveTool(QStringLiteral("Pan"));
        x = h->value();
        c.dragView(centre, centre + QPoint(-30, 0), Qt::LeftButton);
        QCOMPARE(h->value(), x + 30);
        QVERIFY(c.doc.regions().isEmpty());
    }

    // --- tools ---

    void toolActionsAreExclusive() {
        Canvas c;
        const QList<QAction*> actions = c.tools->actions();
        QCOMPARE(actions.size(), 5);
        QCOMPARE(actions[0]->text(), QStringLiteral("Box"));
        QCOMPARE(actions[1]->text(), QStringLiteral("Point"));
        QCOMPARE(actions[2]->text(), QStringLiteral("Scribble"));
        QCOMPARE(actions[3]->text(), QStringLiteral("Pick"));
        QCOMPARE(actions[4]->text(), QStringLiteral("Pan"));
        QCOMPARE(actions[0]->shortcut(), QKeySequence(Qt::Key_B));
        QCOMPARE(actions[1]->shortcut(), QKeySequence(Qt::Key_P));
        QCOMPARE(actions[2]->shortcut(), QKeySequence(Qt::Key_S));
        QCOMPARE(actions[3]->shortcut(), QKeySequence(Qt::Key_K));
        QCOMPARE(actions[4]->shortcut(), QKeySequence(Qt::Key_H));
        QVERIFY(actions[1]->toolTip().contains(QStringLiteral("P")));
        QVERIFY(actions[0]->isChecked());

        QSignalSpy changed(c.tools.get(), &ToolManager::activeToolChanged);
        actions[1]->trigger();
        QCOMPARE(changed.size(), 1);
        QCOMPARE(c.tools->activeTool()->name(), QStringLiteral("Point"));
        QCOMPARE(c.view->tool(), c.tools->activeTool());
        QVERIFY(actions[1]->isChecked());
        QVERIFY(!actions[0]->isChecked());
        QVERIFY(!c.tools->setActiveTool(QStringLiteral("Lasso")));
        QCOMPARE(c.tools->activeTool()->name(), QStringLiteral("Point"));
    }

    // --- overlays ---

    void groundingBoxesAndFocusCropAppear() {
        Canvas c;
        ChatEntry answer;
        answer.role = ChatEntry::Role::Assistant;
        answer.boxes = {GroundingBox{QRectF(20, 30, 100, 80), QStringLiteral("the red circle")},
                        GroundingBox{QRectF(200, 100, 60, 60), QStringLiteral("the square")}};
        c.doc.appendEntry(answer);
        QCOMPARE(c.view->groundingItems().size(), 2);
        QCOMPARE(c.view->groundingItems()[0]->groundingBox().box, QRectF(20, 30, 100, 80));
        QVERIFY(c.view->groundingItems()[1]->tagText().contains(QStringLiteral("the square")));
        QVERIFY(!c.view->groundingItems()[1]->isHighlighted());

        c.doc.setHighlightedBox(1);
        QVERIFY(c.view->groundingItems()[1]->isHighlighted());
        QVERIFY(!c.view->groundingItems()[0]->isHighlighted());
        QVERIFY(c.view->groundingItems()[1]->outlineWidth() >
                c.view->groundingItems()[0]->outlineWidth());

        answer.boxes.removeFirst();
        c.doc.updateEntry(0, answer);
        QCOMPARE(c.view->groundingItems().size(), 1);
        c.doc.clearChat();
        QVERIFY(c.view->groundingItems().isEmpty());

        QVERIFY(!c.view->focusCropItem());
        FocusInfo focus;
        focus.valid = true;
        focus.cropRect = QRectF(50, 50, 150, 150);
        c.doc.setLastFocus(focus, greyImage(QSize(150, 150)));
        QVERIFY(c.view->focusCropItem());
        QCOMPARE(c.view->focusCropItem()->cropRect(), focus.cropRect);
        c.doc.setImage(greyImage(QSize(64, 64)), QString());
        QVERIFY(!c.view->focusCropItem());
    }

    void renderAnnotatedDrawsOverlaysAtNativeSize() {
        Canvas c;
        c.view->setZoom(3.0);  // the export must not depend on the zoom
        const QRectF box(100, 100, 100, 80);
        const int id = c.addBox(box);
        ChatEntry answer;
        answer.role = ChatEntry::Role::Assistant;
        answer.boxes = {GroundingBox{QRectF(250, 150, 100, 100), QStringLiteral("answer")}};
        c.doc.appendEntry(answer);

        const QImage out = c.view->renderAnnotated();
        QCOMPARE(out.size(), QSize(400, 300));
        const QColor colour = regionColour(id);
        // On the left outline, half way down: the region's colour.
        QVERIFY2(colourDistance(out.pixel(100, 140), colour) < 60,
                 qPrintable(QColor(out.pixel(100, 140)).name()));
        // Inside the box and far from everything: the image untouched.
        QCOMPARE(QColor(out.pixel(150, 150)), kBackground);
        QCOMPARE(QColor(out.pixel(30, 250)), kBackground);
        // The grounding box outline changes the image too.
        QVERIFY(QColor(out.pixel(250, 200)) != kBackground);
        // The screen zoom is back to what it was and items are sized for it again.
        QCOMPARE(c.view->zoom(), 3.0);
        QVERIFY(std::abs(c.view->regionItem(id)->outlineWidth() - 2.0 / 3.0) < 1e-9);
    }

    void presentationModeThickensOverlays() {
        Canvas c;
        const int id = c.addBox(QRectF(100, 100, 100, 80));
        const double normal = c.view->regionItem(id)->outlineWidth();
        const QImage before = c.view->renderAnnotated();
        c.view->setPresentationMode(true);
        QVERIFY(c.view->isPresentationMode());
        QVERIFY(std::abs(c.view->regionItem(id)->outlineWidth() - 3 * normal) < 1e-9);
        const QImage after = c.view->renderAnnotated();
        auto coloured = [&](const QImage& image) {
            int n = 0;
            for (int y = 0; y < image.height(); ++y)
                for (int x = 0; x < image.width(); ++x)
                    n += colourDistance(image.pixel(x, y), regionColour(id)) < 60;
            return n;
        };
        QVERIFY(coloured(after) > 2 * coloured(before));
        c.view->setPresentationMode(false);
        QCOMPARE(c.view->regionItem(id)->outlineWidth(), normal);
    }

    void overlaysKeepTheirScreenSizeWhenZooming() {
        Canvas c;
        const int id = c.addBox(QRectF(100, 100, 100, 80));
        c.view->setZoom(1.0);
        const double atOne = c.view->regionItem(id)->outlineWidth();
        c.view->setZoom(4.0);
        QVERIFY(std::abs(c.view->regionItem(id)->outlineWidth() * 4.0 - atOne) < 1e-9);
    }
};

QTEST_MAIN(TestCanvas)
#include "test_canvas.moc"
