// ImageDocument and its undo commands: the single source of truth the canvas, the region list
// and the chat follow.
#include <QPainterPath>
#include <QJsonObject>
#include <QJsonDocument>
#include <QJsonArray>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QCryptographicHash>
#include <QTemporaryDir>
#include <QtTest>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "document/AddRegionCommand.h"
#include "document/ChangeRegionCommand.h"
#include "document/ImageDocument.h"
#include "document/FileLoading.h"
#include "document/RemoveRegionCommand.h"
#include "document/SessionFile.h"
#include "inference/ImageConversion.h"
#include "regionchat/image_io.h"

using namespace rcui;

namespace {

QImage blankImage(int w = 200, int h = 100) {
    QImage image(w, h, QImage::Format_RGB32);
    image.fill(Qt::gray);
    return image;
}

Region boxRegion(int id, const QRectF& box) {
    Region r;
    r.id = id;
    r.kind = Region::Kind::Box;
    r.box = box;
    r.colour = regionColour(id);
    return r;
}

}  // namespace

class TestDocument : public QObject {
    Q_OBJECT

private slots:
    // The app decodes PNG, JPEG and BMP with Qt's readers straight into its display format;
    // the worker's copy of it has the pixels the command line decodes (OpenCV), to the byte,
    // and the file's hash is the SHA-256 of its bytes. WebP goes through OpenCV.
    void openedImagesArePixelsTheCliSees() {
        QTemporaryDir dir;
        cv::Mat img(301, 457, CV_8UC3);
        cv::RNG(5).fill(img, cv::RNG::UNIFORM, 0, 256);
        cv::GaussianBlur(img, img, cv::Size(0, 0), 2);  // JPEG's blocks are then not noise
        for (const char* ext : {".png", ".jpg", ".bmp", ".webp"}) {
            const QString path = dir.filePath(QStringLiteral("im") + ext);
            QVERIFY(cv::imwrite(path.toStdString(), img));
            const rcui::LoadedImage loaded = rcui::loadImageFile(path);
            QVERIFY2(loaded.error.isEmpty(), qPrintable(loaded.error));
            QCOMPARE(loaded.image.format(), QImage::Format_RGB32);
            const cv::Mat cli = rc::load_image(path.toStdString());
            QVERIFY2(cv::norm(rcui::toBgrMat(loaded.image), cli, cv::NORM_INF) == 0, ext);
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QCOMPARE(loaded.hash, QString::fromLatin1(
                QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex()));
        }
        // With alpha (OpenCV drops it), and 16 bits per channel: the same pixels too.
        cv::Mat alpha(120, 90, CV_8UC4), deep;
        cv::RNG(6).fill(alpha, cv::RNG::UNIFORM, 0, 256);
        img(cv::Rect(0, 0, 90, 120)).convertTo(deep, CV_16UC3, 257.0);
        for (const auto& [name, m] : {std::pair<QString, cv::Mat>{"alpha.png", alpha}, {"deep.png", deep}}) {
            const QString path = dir.filePath(name);
            QVERIFY(cv::imwrite(path.toStdString(), m));
            const rcui::LoadedImage loaded = rcui::loadImageFile(path);
            QVERIFY2(loaded.error.isEmpty(), qPrintable(loaded.error));
            QVERIFY2(cv::norm(rcui::toBgrMat(loaded.image), rc::load_image(path.toStdString()),
                              cv::NORM_INF) == 0, qPrintable(name));
        }
        // Not an image: the loader's own message, naming the file as shown.
        const QString bad = dir.filePath(QStringLiteral("notes.png"));
        QFile b(bad);
        QVERIFY(b.open(QIODevice::WriteOnly));
        b.write("hello, not a picture");
        b.close();
        const rcui::LoadedImage failed = rcui::loadImageFile(bad);
        QVERIFY2(failed.error.startsWith("notes.png: "), qPrintable(failed.error));
    }

    // maskBoundingRect and maskOutline scan eight bytes at a time and merge equal rows: on random
    // masks (odd widths, set pixels at the edges, any non-zero value) they agree with a plain
    // pixel-by-pixel reading.
    void maskHelpersMatchAPixelScan() {
        QRandomGenerator rng(7);
        for (const QSize size : {QSize(1, 1), QSize(9, 5), QSize(37, 23), QSize(64, 40)}) {
            for (int trial = 0; trial < 20; ++trial) {
                QImage mask(size, QImage::Format_Grayscale8);
                mask.fill(0);
                const int blobs = trial % 4;  // 0: an empty mask
                for (int b = 0; b < blobs; ++b) {
                    const QRect r(rng.bounded(size.width()), rng.bounded(size.height()),
                                  1 + rng.bounded(size.width()), 1 + rng.bounded(size.height()));
                    for (int y = r.top(); y <= std::min(r.bottom(), size.height() - 1); ++y)
                        for (int x = r.left(); x <= std::min(r.right(), size.width() - 1); ++x)
                            if (trial % 3 || rng.bounded(4)) mask.scanLine(y)[x] = 1 + b * 80;
                }
                QRect expected;
                for (int y = 0; y < size.height(); ++y)
                    for (int x = 0; x < size.width(); ++x)
                        if (mask.constScanLine(y)[x]) expected |= QRect(x, y, 1, 1);
                QCOMPARE(maskBoundingRect(mask), QRectF(expected));
                const QPainterPath outline = maskOutline(mask);
                for (int y = 0; y < size.height(); ++y)
                    for (int x = 0; x < size.width(); ++x)
                        QVERIFY2(outline.contains(QPointF(x + 0.5, y + 0.5)) ==
                                     (mask.constScanLine(y)[x] != 0),
                                 qPrintable(QString("%1x%2 trial %3: pixel %4,%5")
                                                .arg(size.width())
                                                .arg(size.height())
                                                .arg(trial)
                                                .arg(x)
                                                .arg(y)));
            }
        }
    }

    void addRegionIsUndoable() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        QSignalSpy added(&doc, &ImageDocument::regionAdded);
        QSignalSpy removed(&doc, &ImageDocument::regionRemoved);
        const int id = doc.nextRegionId();
        QCOMPARE(id, 1);
        doc.undoStack()->push(new AddRegionCommand(&doc, boxRegion(id, {10, 20, 30, 40})));
        QCOMPARE(doc.regions().size(), 1);
        QCOMPARE(doc.region(1)->box, QRectF(10, 20, 30, 40));
        QCOMPARE(added.size(), 1);
        QCOMPARE(added.first().first().toInt(), 1);

        doc.undoStack()->undo();
        QVERIFY(doc.regions().isEmpty());
        QVERIFY(doc.region(1) == nullptr);
        QCOMPARE(removed.size(), 1);

        doc.undoStack()->redo();
        QCOMPARE(doc.regions().size(), 1);
        QCOMPARE(doc.region(1)->box, QRectF(10, 20, 30, 40));
    }

    void idsAreNeverReused() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        const int a = doc.nextRegionId();
        doc.undoStack()->push(new AddRegionCommand(&doc, boxRegion(a, {0, 0, 5, 5})));
        doc.undoStack()->undo();
        // A region that was undone may come back with redo; its number must stay its own.
        QVERIFY(doc.nextRegionId() > a);
    }

    void removeRestoresPositionAndClearsSelection() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        for (int i = 0; i < 3; ++i) {
            const int id = doc.nextRegionId();
            doc.undoStack()->push(new AddRegionCommand(&doc, boxRegion(id, {i * 10.0, 0, 5, 5})));
        }
        doc.setSelectedRegion(2);
        QSignalSpy selection(&doc, &ImageDocument::selectionChanged);
        doc.undoStack()->push(new RemoveRegionCommand(&doc, 2));
        QCOMPARE(doc.regions().size(), 2);
        QCOMPARE(doc.selectedRegion(), 0);
        QCOMPARE(selection.size(), 1);
        QCOMPARE(selection.first().first().toInt(), 0);

        doc.undoStack()->undo();
        QCOMPARE(doc.regions().size(), 3);
        QCOMPARE(doc.indexOf(2), 1);  // back in the middle, not appended
        QCOMPARE(doc.region(2)->box, QRectF(10, 0, 5, 5));
    }

    void removingAnUnknownRegionDoesNothing() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        doc.undoStack()->push(
            new AddRegionCommand(&doc, boxRegion(doc.nextRegionId(), {0, 0, 5, 5})));
        doc.undoStack()->push(new RemoveRegionCommand(&doc, 42));
        QCOMPARE(doc.regions().size(), 1);
        doc.undoStack()->undo();
        QCOMPARE(doc.regions().size(), 1);
    }

    void changeMergesWithinOneDrag() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        const Region original = boxRegion(doc.nextRegionId(), {10, 10, 20, 20});
        doc.undoStack()->push(new AddRegionCommand(&doc, original));
        const int before = doc.undoStack()->count();

        // Three steps of one drag (drag id 7): one undo step.
        Region step = original;
        for (int dx = 1; dx <= 3; ++dx) {
            Region next = original;
            next.box.translate(dx * 5, 0);
            doc.undoStack()->push(new ChangeRegionCommand(&doc, step, next, 7));
            step = next;
        }
        QCOMPARE(doc.undoStack()->count(), before + 1);
        QCOMPARE(doc.region(original.id)->box, QRectF(25, 10, 20, 20));

        // A second drag is its own step.
        Region moved = step;
        moved.box.translate(0, 5);
        doc.undoStack()->push(new ChangeRegionCommand(&doc, step, moved, 8));
        QCOMPARE(doc.undoStack()->count(), before + 2);

        doc.undoStack()->undo();
        QCOMPARE(doc.region(original.id)->box, QRectF(25, 10, 20, 20));
        doc.undoStack()->undo();
        QCOMPARE(doc.region(original.id)->box, original.box);
    }

    void changesWithoutDragIdNeverMerge() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        const Region original = boxRegion(doc.nextRegionId(), {10, 10, 20, 20});
        doc.undoStack()->push(new AddRegionCommand(&doc, original));
        Region a = original, b = original;
        a.box.translate(1, 0);
        b.box.translate(2, 0);
        doc.undoStack()->push(new ChangeRegionCommand(&doc, original, a));
        doc.undoStack()->push(new ChangeRegionCommand(&doc, a, b));
        QCOMPARE(doc.undoStack()->count(), 3);
        doc.undoStack()->undo();
        QCOMPARE(doc.region(original.id)->box, a.box);
    }

    void changesOfDifferentRegionsNeverMerge() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        const Region r1 = boxRegion(doc.nextRegionId(), {0, 0, 10, 10});
        const Region r2 = boxRegion(doc.nextRegionId(), {50, 50, 10, 10});
        doc.undoStack()->push(new AddRegionCommand(&doc, r1));
        doc.undoStack()->push(new AddRegionCommand(&doc, r2));
        Region m1 = r1, m2 = r2;
        m1.box.translate(3, 3);
        m2.box.translate(3, 3);
        doc.undoStack()->push(new ChangeRegionCommand(&doc, r1, m1, 9));
        doc.undoStack()->push(new ChangeRegionCommand(&doc, r2, m2, 9));
        QCOMPARE(doc.undoStack()->count(), 4);
        doc.undoStack()->undo();
        QCOMPARE(doc.region(r2.id)->box, r2.box);
        QCOMPARE(doc.region(r1.id)->box, m1.box);
    }

    void setImageClearsEverything() {
        ImageDocument doc;
        doc.setImage(blankImage(), QStringLiteral("/tmp/a.png"));
        doc.undoStack()->push(
            new AddRegionCommand(&doc, boxRegion(doc.nextRegionId(), {0, 0, 5, 5})));
        doc.setSelectedRegion(1);
        ChatEntry answer;
        answer.role = ChatEntry::Role::Assistant;
        answer.boxes = {GroundingBox{QRectF(1, 2, 3, 4), QStringLiteral("cat")}};
        doc.appendEntry(answer);
        doc.setHighlightedBox(0);
        FocusInfo focus;
        focus.valid = true;
        focus.cropRect = QRectF(0, 0, 50, 50);
        doc.setLastFocus(focus, blankImage(50, 50));

        QSignalSpy imageChanged(&doc, &ImageDocument::imageChanged);
        QSignalSpy chatCleared(&doc, &ImageDocument::chatCleared);
        doc.setImage(blankImage(64, 48), QStringLiteral("/tmp/b.png"));
        QCOMPARE(imageChanged.size(), 1);
        QCOMPARE(chatCleared.size(), 1);
        QCOMPARE(doc.image().size(), QSize(64, 48));
        QCOMPARE(doc.imagePath(), QStringLiteral("/tmp/b.png"));
        QVERIFY(doc.regions().isEmpty());
        QCOMPARE(doc.selectedRegion(), 0);
        QVERIFY(doc.chat().isEmpty());
        QVERIFY(doc.groundingBoxes().isEmpty());
        QCOMPARE(doc.highlightedBox(), -1);
        QVERIFY(!doc.lastFocus().valid);
        QCOMPARE(doc.undoStack()->count(), 0);
        QVERIFY(!doc.isModified());
        QCOMPARE(doc.nextRegionId(), 1);  // numbering restarts with a new image
    }

    void modifiedFlagFollowsEdits() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        QVERIFY(!doc.isModified());
        QSignalSpy modified(&doc, &ImageDocument::modifiedChanged);
        doc.undoStack()->push(
            new AddRegionCommand(&doc, boxRegion(doc.nextRegionId(), {0, 0, 5, 5})));
        QVERIFY(doc.isModified());
        QCOMPARE(modified.size(), 1);
        QCOMPARE(modified.first().first().toBool(), true);

        doc.setModified(false);  // saved
        QVERIFY(!doc.isModified());
        ChatEntry question;
        question.text = QStringLiteral("what is <region>?");
        doc.appendEntry(question);
        QVERIFY(doc.isModified());

        // Selection is a view state, not an edit.
        doc.setModified(false);
        doc.setSelectedRegion(1);
        QVERIFY(!doc.isModified());
    }

    void groundingBoxesComeFromAssistantEntriesInOrder() {
        ImageDocument doc;
        doc.setImage(blankImage(), QString());
        ChatEntry user;
        user.role = ChatEntry::Role::User;
        user.boxes = {GroundingBox{QRectF(0, 0, 1, 1), QStringLiteral("ignored")}};
        ChatEntry first;
        first.role = ChatEntry::Role::Assistant;
        first.boxes = {GroundingBox{QRectF(1, 1, 10, 10), QStringLiteral("a")}};
        ChatEntry second;
        second.role = ChatEntry::Role::Assistant;
        second.boxes = {GroundingBox{QRectF(2, 2, 10, 10), QStringLiteral("b")},
                        GroundingBox{QRectF(3, 3, 10, 10), QStringLiteral("c")}};
        doc.appendEntry(user);
        doc.appendEntry(first);
        doc.appendEntry(second);
        const auto boxes = doc.groundingBoxes();
        QCOMPARE(boxes.size(), 3);
        QCOMPARE(boxes[0].label, QStringLiteral("a"));
        QCOMPARE(boxes[2].box, QRectF(3, 3, 10, 10));

        QSignalSpy changed(&doc, &ImageDocument::entryChanged);
        second.boxes.removeLast();
        doc.updateEntry(2, second);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(doc.groundingBoxes().size(), 2);
        doc.updateEntry(7, second);  // out of range: ignored
        QCOMPARE(changed.size(), 1);

        doc.setHighlightedBox(1);
        doc.clearChat();
        QVERIFY(doc.groundingBoxes().isEmpty());
        QCOMPARE(doc.highlightedBox(), -1);
    }

    void selectionSignalsOnlyOnChange() {
        ImageDocument doc;
        QSignalSpy selection(&doc, &ImageDocument::selectionChanged);
        doc.setSelectedRegion(3);
        doc.setSelectedRegion(3);
        QCOMPARE(selection.size(), 1);
        doc.setSelectedRegion(0);
        QCOMPARE(selection.size(), 2);
    }

    void pointBoxIsSixPercentOfShorterSideClipped() {
        const QSizeF size(400, 200);  // 6% of 200 = 12 px square
        const QRectF centre = pointBox(QPointF(100, 100), size);
        QCOMPARE(centre, QRectF(94, 94, 12, 12));
        const QRectF corner = pointBox(QPointF(2, 1), size);
        QCOMPARE(corner, QRectF(0, 0, 8, 7));
    }

    void imagePairOpensSavesAndSplits() {
        // File > Open Image Pair…: two images side by side, 16 px apart, top-aligned.
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        QImage a(60, 40, QImage::Format_RGB32), b(50, 70, QImage::Format_RGB32);
        a.fill(QColor(200, 10, 10));
        b.fill(QColor(10, 10, 200));
        const QString pa = tmp.filePath("a.png"), pb = tmp.filePath("b.png");
        QVERIFY(a.save(pa) && b.save(pb));
        const LoadedPair pair = loadImagePair(pa, pb);
        QVERIFY2(pair.image.error.isEmpty(), qPrintable(pair.image.error));
        QCOMPARE(pair.image.image.size(), QSize(60 + 16 + 50, 70));
        QCOMPARE(pair.split, 76);
        QCOMPARE(pair.image.image.pixelColor(5, 5), QColor(200, 10, 10));
        QCOMPARE(pair.image.image.pixelColor(80, 60), QColor(10, 10, 200));
        QVERIFY(loadImagePair(pa, tmp.filePath("missing.png")).image.error.size() > 0);

        // A session of the pair: regions on both halves, saved and read back with the pair.
        ImageDocument doc;
        doc.setImage(pair.image.image, pa);
        doc.setImageHash(pair.image.hash);
        doc.setPair({pb, pair.secondHash, pair.first, pair.second, pair.split});
        Region left, right;
        left.id = doc.nextRegionId();
        left.box = QRectF(10, 10, 20, 20);
        right.id = doc.nextRegionId();
        right.box = QRectF(90, 30, 20, 30);
        doc.undoStack()->push(new AddRegionCommand(&doc, left));
        doc.undoStack()->push(new AddRegionCommand(&doc, right));
        const QString session = tmp.filePath("pair.regionchat");
        QString error;
        QVERIFY2(writeSessionFile(session, sessionFromDocument(doc, {}), &error), qPrintable(error));
        const LoadedSession back = loadSessionFile(session);
        QVERIFY2(back.error.isEmpty(), qPrintable(back.error));
        QCOMPARE(back.pair.split, 76);
        QCOMPARE(back.data.pairPath, QFileInfo(pb).absoluteFilePath());
        QCOMPARE(back.image.image.size(), pair.image.image.size());
        QCOMPARE(back.data.regions.size(), 2);
        doc.setImage(a, pa);  // a new image forgets the pair
        QVERIFY(!doc.isPair());

        // What a model that reads regions across images gets: the two images, each region on
        // its own image in its pixels, the images named in the question.
        rc::ChatRequest q;
        q.text = "Is <region 1> the same object as <region 2>?";
        q.images = {toBgrMat(pair.image.image)};
        q.regions = toRegionInputs({left, right});
        const rc::ChatRequest s = splitImagePair(q, pair.split, pair.first, pair.second);
        QCOMPARE(s.images.size(), size_t(2));
        QCOMPARE(s.images[0].cols, 60);
        QCOMPARE(s.images[1].rows, 70);
        QCOMPARE(s.images[1].at<cv::Vec3b>(60, 40), cv::Vec3b(200, 10, 10));  // BGR of b
        QCOMPARE(s.regions[0].image, 0);
        QCOMPARE(s.regions[1].image, 1);
        QCOMPARE(s.regions[1].box.x0, 14.0);
        QCOMPARE(s.regions[1].box.y1, 60.0);
        QVERIFY(s.text.rfind("Image-1: <image>\nImage-2: <image>\n", 0) == 0);
    }

    void hostileSessionsAreRefused() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        auto session = [](int w, int h, const QString& image, int masks) {
            QJsonArray regions;
            for (int i = 0; i < masks; ++i)
                regions.append(QJsonObject{{"id", i + 1}, {"kind", "box"},
                                           {"box", QJsonArray{0, 0, 4, 4}}, {"mask_png", "eA=="}});
            return QJsonDocument(QJsonObject{{"format", "regionchat-session"}, {"version", 1},
                                             {"image", QJsonObject{{"path", image}, {"width", w}, {"height", h}}},
                                             {"regions", regions}, {"chat", QJsonArray{}}})
                .toJson();
        };
        SessionData d;
        QString error;
        // Masks are decoded at the image's size: 9 masks of 60 Mpx are refused before any is.
        QVERIFY(!sessionFromJson(session(10000, 6000, "x.png", 9), &d, &error));
        QVERIFY2(error.contains("larger than 512 Mpx"), qPrintable(error));
        QVERIFY(!sessionFromJson(session(20000, 20000, "x.png", 0), &d, &error));
        QVERIFY2(error.contains("larger than 100 Mpx"), qPrintable(error));
        // The image path may name anything: a device is not read.
        QFile f(tmp.filePath("dev.regionchat"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(session(10, 10, "/dev/zero", 0));
        f.close();
        LoadedSession s = loadSessionFile(tmp.filePath("dev.regionchat"));
        QVERIFY2(s.error.contains("not an image file"), qPrintable(s.error));
        // An image that is not the size the session was made on (its regions would not fit).
        QImage img(30, 20, QImage::Format_RGB32);
        img.fill(Qt::red);
        QVERIFY(img.save(tmp.filePath("img.png")));
        QFile g(tmp.filePath("size.regionchat"));
        QVERIFY(g.open(QIODevice::WriteOnly));
        g.write(session(40, 20, tmp.filePath("img.png"), 0));
        g.close();
        s = loadSessionFile(tmp.filePath("size.regionchat"));
        QVERIFY2(s.error.contains("now 30x20 pixels but the session was made on a 40x20"),
                 qPrintable(s.error));
    }

    void regionColoursAreDistinctAndCycle() {
        QVERIFY(regionColour(1) != regionColour(2));
        QCOMPARE(regionColour(1), regionColour(9));
        QVERIFY(regionColour(0).isValid());
    }
};

QTEST_GUILESS_MAIN(TestDocument)
#include "test_document.moc"
