// Model > Open Model…'s dialog (offscreen): what it shows for a model folder, and that it
// refuses a model that will not fit or a folder that is not a model.
#include <QComboBox>
#include <QTemporaryDir>
#include <QtTest>

#include "inference/ModelManagerDialog.h"
#include "support/tiny_model.h"
#include "support/tiny_pink.h"

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
        // fp32 suggests a 16-bit dtype; a 16-bit choice does not suggest itself.
        QVERIFY2(d.messageText().contains("16-bit"), qPrintable(d.messageText()));
        auto* dtype = d.findChildren<QComboBox*>().last();
        dtype->setCurrentIndex(dtype->findData("bf16"));
        QVERIFY(!d.canLoad());
        QVERIFY2(!d.messageText().contains("16-bit"), qPrintable(d.messageText()));
        d.setFreeMemoryForTesting(quint64(64) << 30);
        QVERIFY(d.canLoad());
    }

    void recognisesPink() {
        const auto pink = rc::testing::write_tiny_pink((tmp_.path() + "/pink").toStdString());
        ModelManagerDialog d(QString::fromStdString(pink.model_dir), "cpu");
        QVERIFY2(d.layoutText().startsWith("Pink"), qPrintable(d.layoutText()));
        QVERIFY(d.canLoad());
        // Without its LLaMA-2 folder the dialog says where it looked and refuses.
        QDir().rename(QString::fromStdString(pink.llama_dir), tmp_.path() + "/pink/moved");
        ModelManagerDialog e(QString::fromStdString(pink.model_dir), "cpu");
        QVERIFY(!e.canLoad());
        QVERIFY2(e.messageText().contains("llama_path"), qPrintable(e.messageText()));
    }

    void refusesAFolderThatIsNotAModel() {
        ModelManagerDialog d(tmp_.path(), "cpu");
        QVERIFY(!d.canLoad());
        QVERIFY2(d.messageText().contains("no config.json"), qPrintable(d.messageText()));
    }
};

QTEST_MAIN(TestModelManager)
#include "test_model_manager.moc"
