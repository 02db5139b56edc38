// File > Open Model…'s dialog (offscreen): what it shows for a model folder, and that it
// refuses a model that will not fit or a folder that is not a model.
#include <QComboBox>
#include <QTemporaryDir>
#include <QtTest>

#include "inference/ModelManagerDialog.h"
#include "support/tiny_model.h"

using namespace rcui;

class TestModelManager : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    QString model_;

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        model_ = tmp_.path() + "/model";
        rc::testing::write_tiny_model(model_.toStdString(), rc::testing::tiny_config());
    }

    void showsWhatLoadingWouldTake() {
        ModelManagerDialog d(model_, "cpu");
        QVERIFY2(d.layoutText().contains("Hugging Face llava"), qPrintable(d.layoutText()));
        QVERIFY2(d.memoryText().contains("needed of") && d.memoryText().contains("cpu, fp32"),
                 qPrintable(d.memoryText()));
        QVERIFY(d.canLoad());
        QCOMPARE(d.device(), QString("cpu"));
        // Another precision re-plans at once.
        auto* dtype = d.findChildren<QComboBox*>().last();
        dtype->setCurrentIndex(dtype->findData("bf16"));
        QCOMPARE(d.dtype(), QString("bf16"));
        QVERIFY2(d.memoryText().contains("cpu, bf16"), qPrintable(d.memoryText()));
    }

    void refusesWhatDoesNotFit() {
        ModelManagerDialog d(model_, "cpu");
        d.setFreeMemoryForTesting(1 << 20);  // 1 MiB
        QVERIFY(!d.canLoad());
        QVERIFY2(d.messageText().contains("Will not fit") && d.messageText().contains("needs"),
                 qPrintable(d.messageText()));
        d.setFreeMemoryForTesting(quint64(64) << 30);
        QVERIFY(d.canLoad());
    }

    void refusesAFolderThatIsNotAModel() {
        ModelManagerDialog d(tmp_.path(), "cpu");
        QVERIFY(!d.canLoad());
        QVERIFY2(d.messageText().contains("no config.json"), qPrintable(d.messageText()));
    }
};

QTEST_MAIN(TestModelManager)
#include "test_model_manager.moc"
