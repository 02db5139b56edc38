// The chat side: composing prompts from region references, labelling grounding boxes, and the
// chat panel's input, region chips, box chips and Stop button (offscreen).
#include <QMainWindow>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTextBlock>
#include <QTextBrowser>
#include <QToolButton>
#include <QtTest>

#include "chat/ChatHtml.h"
#include "chat/ChatPanel.h"
#include "chat/PromptComposer.h"
#include "support/compose_prompt.h"
#include "document/ImageDocument.h"
#include "regionchat/region_format.h"

using namespace rcui;

using rcui::testing::composePrompt;

namespace {

Region boxRegion(int id, const QRectF& box) {
    Region r;
    r.id = id;
    r.box = box;
    r.colour = regionColour(id);
    return r;
}

Region pointRegion(int id, const QPointF& p, const QSizeF& image) {
    Region r;
    r.id = id;
    r.kind = Region::Kind::Point;
    r.positive = {p};
    r.box = pointBox(p, image);
    r.colour = regionColour(id);
    return r;
}

ChatEntry userEntry(const QString& text) {
    ChatEntry e;
    e.role = ChatEntry::Role::User;
    e.text = text;
    return e;
}

ChatEntry answerEntry(const QString& text, const QStringList& labels) {
    ChatEntry e;
    e.role = ChatEntry::Role::Assistant;
    e.text = text;
    for (int i = 0; i < labels.size(); ++i)
        e.boxes << GroundingBox{QRectF(10 + 20 * i, 10, 30, 20), labels[i]};
    e.tokensPerSecond = 42.5;
    return e;
}

/// Centre (viewport coordinates) of the link `href` in the message view, or (-1, -1).
QPoint anchorCentre(QTextBrowser* view, const QString& href) {
    QTextDocument* d = view->document();
    for (QTextBlock b = d->begin(); b.isValid(); b = b.next()) {
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextFragment f = it.fragment();
            if (f.charFormat().anchorHref() != href) continue;
            QTextCursor c(d);
            c.setPosition(f.position() + f.length() / 2);
            return view->cursorRect(c).center();
        }
    }
    return QPoint(-1, -1);
}

}  // namespace

class TestChatPanel : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<rc::RegionFormat> format_ = rc::make_region_format("dualfocus");

    /// A 200x100 image with region 1 (box) and region 2 (point); region 2 is first in the list.
    void fill(ImageDocument& doc) {
        QImage image(200, 100, QImage::Format_RGB32);
        image.fill(Qt::darkGray);
        doc.setImage(image, QString());
        doc.insertRegion(0, boxRegion(1, QRectF(QPointF(20, 10), QPointF(100, 50))));
        doc.insertRegion(0, pointRegion(2, QPointF(150, 50), QSizeF(200, 100)));
    }

    QString encoded(const ImageDocument& doc, int id) const {
        const QRectF b = doc.region(id)->box;
        return QString::fromStdString(format_->encode(
            rc::Box{b.left(), b.top(), b.right(), b.bottom()}, rc::ImageSize{200, 100}));
    }

private slots:
    void composesNumberedReferences() {
        ImageDocument doc;
        fill(doc);
        QString error = QStringLiteral("stale");
        const QString p = composePrompt(QStringLiteral("What is in <region 1> next to <region 2>?"),
                                        doc, *format_, &error);
        QVERIFY(error.isEmpty());
        QCOMPARE(p, QStringLiteral("What is in [0.10, 0.10, 0.50, 0.50] next to ") +
                        encoded(doc, 2) + QLatin1Char('?'));
        QVERIFY(encoded(doc, 2) != encoded(doc, 1));
        // Spaces and case inside the reference are forgiven.
        QCOMPARE(composePrompt(QStringLiteral("Is < Region 1 > red?"), doc, *format_, &error),
                 QStringLiteral("Is [0.10, 0.10, 0.50, 0.50] red?"));
        // No references: the question as typed.
        QCOMPARE(composePrompt(QStringLiteral(" What is this? "), doc, *format_, &error),
                 QStringLiteral("What is this?"));
    }

    void composesPlainReferences() {
        ImageDocument doc;
        fill(doc);
        QString error;
        // No selection: regions in creation order (1 then 2), whatever the list order.
        QCOMPARE(
            composePrompt(QStringLiteral("Compare <region> and <region>."), doc, *format_, &error),
            QStringLiteral("Compare [0.10, 0.10, 0.50, 0.50] and ") + encoded(doc, 2) +
                QLatin1Char('.'));
        // With a selection every plain <region> is the selected one.
        doc.setSelectedRegion(2);
        QCOMPARE(composePrompt(QStringLiteral("What is <region>?"), doc, *format_, &error),
                 QStringLiteral("What is ") + encoded(doc, 2) + QLatin1Char('?'));
        QCOMPARE(composePrompt(QStringLiteral("<region> or <region 1>?"), doc, *format_, &error),
                 encoded(doc, 2) + QStringLiteral(" or [0.10, 0.10, 0.50, 0.50]?"));
        QVERIFY(error.isEmpty());
    }

    void composeErrors() {
        ImageDocument doc;
        fill(doc);
        QString error;
        QVERIFY(
            composePrompt(QStringLiteral("What is <region 7>?"), doc, *format_, &error).isEmpty());
        QVERIFY2(error.contains(QStringLiteral("no region 7")) && error.contains("1, 2"),
                 qPrintable(error));
        QVERIFY(
            composePrompt(QStringLiteral("<region>, <region> and <region>?"), doc, *format_, &error)
                .isEmpty());
        QVERIFY2(error.contains(QStringLiteral("3 <region>")) && error.contains("only 2"),
                 qPrintable(error));
        QVERIFY(composePrompt(QStringLiteral("   "), doc, *format_, &error).isEmpty());
        QVERIFY(!error.isEmpty());

        ImageDocument empty;
        QImage image(50, 50, QImage::Format_RGB32);
        image.fill(Qt::white);
        empty.setImage(image, QString());
        QVERIFY(
            composePrompt(QStringLiteral("What is <region>?"), empty, *format_, &error).isEmpty());
        QVERIFY2(error.contains(QStringLiteral("no region is marked")), qPrintable(error));
        QVERIFY(composePrompt(QStringLiteral("Where?"), empty, *format_, nullptr) == "Where?");
    }

    void groundingLabels_data() {
        QTest::addColumn<QString>("question");
        QTest::addColumn<QString>("answer");
        QTest::addColumn<QString>("label");
        QTest::newRow("where is") << "Where is the red circle?"
                                  << "[0.1, 0.2, 0.3, 0.4]"
                                  << "the red circle";
        QTest::newRow("where are") << "where are the blue squares ?"
                                   << "[0.1, 0.2, 0.3, 0.4]"
                                   << "the blue squares";
        QTest::newRow("find") << "Find the green triangle"
                              << ""
                              << "the green triangle";
        QTest::newRow("locate") << "Please locate the small star."
                                << ""
                                << "the small star";
        QTest::newRow("pink") << "Where is <des>the dog</des>? answer in [x0,y0,x1,y1] format."
                              << "[0.100,0.200,0.300,0.400]"
                              << "the dog";
        QTest::newRow("answer text") << "What is in <region 1>?"
                                     << "A red circle [0.10, 0.20, 0.30, 0.40]."
                                     << "A red circle";
        QTest::newRow("answer loc") << "What is that?"
                                    << "It is <loc>[0.1,0.2,0.3,0.4]</loc>"
                                    << "It is";
        QTest::newRow("only a box") << "What is that?"
                                    << "[0.10, 0.20, 0.30, 0.40]"
                                    << "box";
        QTest::newRow("not find") << "Findings?"
                                  << "Nothing (1, 2, 3, 4)"
                                  << "Nothing";
    }

    void groundingLabels() {
        QFETCH(QString, question);
        QFETCH(QString, answer);
        QFETCH(QString, label);
        QCOMPARE(groundingLabel(question, answer), label);
    }

    void enterSendsAndClears() {
        ImageDocument doc;
        fill(doc);
        QMainWindow host;  // a dock lives in a main window (a floating one warns offscreen)
        ChatPanel& panel = *new ChatPanel(&doc);
        host.addDockWidget(Qt::RightDockWidgetArea, &panel);
        host.show();
        QVERIFY(QTest::qWaitForWindowExposed(&host));
        QCOMPARE(panel.input()->placeholderText(),
                 QStringLiteral("Ask about the image — type <region> or click a region chip"));
        QSignalSpy sent(&panel, &ChatPanel::sendRequested);
        panel.focusInput();
        QTest::keyClicks(panel.input(), QStringLiteral("What is"));
        QTest::keyClick(panel.input(), Qt::Key_Return, Qt::ShiftModifier);
        QTest::keyClicks(panel.input(), QStringLiteral("this?"));
        QCOMPARE(sent.count(), 0);
        QCOMPARE(panel.input()->toPlainText(), QStringLiteral("What is\nthis?"));
        QTest::keyClick(panel.input(), Qt::Key_Return);
        QCOMPARE(sent.count(), 1);
        QCOMPARE(sent.first().at(0).toString(), QStringLiteral("What is\nthis?"));
        QVERIFY(panel.input()->toPlainText().isEmpty());
        QTest::keyClick(panel.input(), Qt::Key_Enter);  // nothing to send
        QCOMPARE(sent.count(), 1);
    }

    void regionChipInsertsReference() {
        ImageDocument doc;
        fill(doc);
        QMainWindow host;  // a dock lives in a main window (a floating one warns offscreen)
        ChatPanel& panel = *new ChatPanel(&doc);
        host.addDockWidget(Qt::RightDockWidgetArea, &panel);
        host.show();
        QVERIFY(QTest::qWaitForWindowExposed(&host));
        auto* chip2 = panel.findChild<QToolButton*>(QStringLiteral("regionChip2"));
        auto* chip1 = panel.findChild<QToolButton*>(QStringLiteral("regionChip1"));
        QVERIFY(chip1 && chip2);
        QVERIFY(chip2->toolTip().contains(QStringLiteral("small box")));
        QVERIFY(!chip1->toolTip().contains(QStringLiteral("small box")));
        QTest::keyClicks(panel.input(), QStringLiteral("Is "));
        QTest::mouseClick(chip2, Qt::LeftButton);
        QCOMPARE(panel.input()->toPlainText(), QStringLiteral("Is <region 2>"));
        // New regions get chips; removed ones lose them.
        doc.insertRegion(2, boxRegion(doc.nextRegionId(), QRectF(0, 0, 10, 10)));
        QVERIFY(panel.findChild<QToolButton*>(QStringLiteral("regionChip3")));
        doc.removeRegion(1);
        QVERIFY(!panel.findChild<QToolButton*>(QStringLiteral("regionChip1")));
        QCOMPARE(panel.findChildren<QToolButton*>().size(), 2);
    }

    void boxChipsEmitGlobalIndex() {
        ImageDocument doc;
        fill(doc);
        doc.appendEntry(userEntry(QStringLiteral("Where is <region 1>?")));
        doc.appendEntry(answerEntry(QStringLiteral("Here [0.1, 0.1, 0.5, 0.5]"), {"first"}));
        doc.appendEntry(userEntry(QStringLiteral("And the others?")));
        doc.appendEntry(answerEntry(QStringLiteral("Two of them"), {"second", "third"}));
        QMainWindow host;  // a dock lives in a main window (a floating one warns offscreen)
        ChatPanel& panel = *new ChatPanel(&doc);
        host.addDockWidget(Qt::RightDockWidgetArea, &panel);
        host.resize(420, 600);
        host.show();
        QVERIFY(QTest::qWaitForWindowExposed(&host));
        panel.renderNow();
        const QString html = panel.messageView()->toHtml();
        for (const char* href : {"box:0", "box:1", "box:2", "make:2"})
            QVERIFY2(html.contains(QLatin1String(href)), href);
        QVERIFY(html.contains(QStringLiteral("third")));
        QVERIFY(html.contains(regionColour(1).name()));  // the user's region chip

        QSignalSpy clicked(&panel, &ChatPanel::boxClicked);
        QSignalSpy make(&panel, &ChatPanel::makeRegionRequested);
        const QPoint at = anchorCentre(panel.messageView(), QStringLiteral("box:2"));
        QVERIFY(at.x() >= 0);
        QTest::mouseMove(panel.messageView()->viewport(), at);
        QTRY_COMPARE(doc.highlightedBox(), 2);
        QTest::mouseClick(panel.messageView()->viewport(), Qt::LeftButton, {}, at);
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(clicked.first().at(0).toInt(), 2);
        emit panel.messageView()->anchorClicked(QUrl(QStringLiteral("box:1")));
        QCOMPARE(clicked.last().at(0).toInt(), 1);
        emit panel.messageView()->anchorClicked(QUrl(QStringLiteral("make:2")));
        QCOMPARE(make.count(), 1);
        QCOMPARE(make.first().at(0).toInt(), 2);
        QCOMPARE(clicked.count(), 2);
        emit panel.messageView()->anchorClicked(QUrl(QStringLiteral("region:1")));
        QCOMPARE(doc.selectedRegion(), 1);
    }

    void streamingRendersAndStoppedAndErrors() {
        ImageDocument doc;
        fill(doc);
        QMainWindow host;  // a dock lives in a main window (a floating one warns offscreen)
        ChatPanel& panel = *new ChatPanel(&doc);
        host.addDockWidget(Qt::RightDockWidgetArea, &panel);
        host.show();
        ChatEntry e = answerEntry(QString(), {});
        e.streaming = true;
        doc.appendEntry(e);
        for (const char* piece : {"A ", "red ", "circle"}) {
            e.text += QLatin1String(piece);
            doc.updateEntry(0, e);
        }
        QTRY_VERIFY(panel.messageView()->toPlainText().contains(QStringLiteral("A red circle")));
        e.streaming = false;
        e.stopped = true;
        doc.updateEntry(0, e);
        QTRY_VERIFY(panel.messageView()->toPlainText().contains(QStringLiteral("(stopped)")));
        QVERIFY(panel.messageView()->toPlainText().contains(QStringLiteral("42.5 tokens/s")));
        e.error = QStringLiteral("the conversation is too long");
        doc.updateEntry(0, e);
        QTRY_VERIFY(panel.messageView()->toHtml().contains(QStringLiteral("#d03030")));
        doc.clearChat();
        QTRY_VERIFY(!panel.messageView()->toPlainText().contains(QStringLiteral("red circle")));
    }

    void stopEnabledOnlyWhenBusy() {
        ImageDocument doc;
        QMainWindow host;  // a dock lives in a main window (a floating one warns offscreen)
        ChatPanel& panel = *new ChatPanel(&doc);
        host.addDockWidget(Qt::RightDockWidgetArea, &panel);
        host.show();
        auto* stop = panel.findChild<QPushButton*>(QStringLiteral("stopButton"));
        QVERIFY(stop);
        QVERIFY(!stop->isEnabled());
        QSignalSpy stopped(&panel, &ChatPanel::stopRequested);
        panel.setBusy(true);
        QVERIFY(stop->isEnabled());
        QTest::mouseClick(stop, Qt::LeftButton);
        QTest::keyClick(panel.input(), Qt::Key_Escape);
        QCOMPARE(stopped.count(), 2);
        panel.setBusy(false);
        QVERIFY(!stop->isEnabled());
        QTest::keyClick(panel.input(), Qt::Key_Escape);
        QCOMPARE(stopped.count(), 2);

        QSignalSpy toggled(&panel, &ChatPanel::dualFocusToggled);
        QVERIFY(!panel.dualFocus());
        panel.setDualFocus(true);
        QVERIFY(panel.dualFocus());
        QCOMPARE(toggled.count(), 1);
        const double before = panel.input()->font().pointSizeF();
        panel.setPresentationMode(true);
        QVERIFY(panel.input()->font().pointSizeF() > before * 1.3);
    }

    void screenshot() {
        // REGIONCHAT_SCREENSHOT=/tmp/chat.png saves what the panel looks like.
        ImageDocument doc;
        fill(doc);
        doc.appendEntry(userEntry(QStringLiteral("Where is the red circle next to <region 1>?")));
        ChatEntry a = answerEntry(QStringLiteral("The red circle is at [0.12, 0.40, 0.55, 0.93]."),
                                  {"the red circle"});
        doc.appendEntry(a);
        ChatEntry s = answerEntry(QStringLiteral("It is a small"), {});
        s.streaming = true;
        doc.appendEntry(userEntry(QStringLiteral("What colour is <region>?")));
        doc.appendEntry(s);
        QMainWindow host;  // a dock lives in a main window (a floating one warns offscreen)
        ChatPanel& panel = *new ChatPanel(&doc);
        host.addDockWidget(Qt::RightDockWidgetArea, &panel);
        host.resize(440, 600);
        panel.setBusy(true);
        host.show();
        QVERIFY(QTest::qWaitForWindowExposed(&host));
        panel.input()->setPlainText(QStringLiteral("And <region 2>?"));
        panel.renderNow();
        const QImage shot = panel.grab().toImage();
        QVERIFY(!shot.isNull());
        const QString path = qEnvironmentVariable("REGIONCHAT_SCREENSHOT");
        if (!path.isEmpty()) QVERIFY(shot.save(path));
    }
};

QTEST_MAIN(TestChatPanel)
#include "test_chat_panel.moc"
