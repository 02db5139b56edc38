// Model > Connect to Server…: the dialog's Test Connection against regionchat's own server on
// loopback (latency, the model list, vision), the controller switching to the server and
// answering through it as the in-process engine answers, and a server that is not there
// failing with a message.
#include <QDialogButtonBox>
#include <QFile>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QtTest>

#include <thread>

#include <opencv2/imgcodecs.hpp>

#include "inference/ConnectServerDialog.h"
#include "inference/InferenceController.h"
#include "regionchat/backend.h"
#include "regionchat/engine.h"
#include "regionchat/server.h"
#include "support/tiny_model.h"

using namespace rcui;

class TestConnectServer : public QObject {
    Q_OBJECT

    std::shared_ptr<rc::Model> model_;
    std::unique_ptr<rc::ChatServer> server_;
    std::thread thread_;
    int port_ = 0;
    QImage image_;

    QString url() const { return QStringLiteral("http://127.0.0.1:%1").arg(port_); }

private slots:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("regionchat-tests"));
        const QString src = qEnvironmentVariable("REGIONCHAT_SOURCE_DIR");
        QVERIFY(!src.isEmpty());
        model_ = rc::Model::load(rc::testing::load_params(
            (src + "/resources/models/shapes-tiny").toStdString(), "cpu"));
        rc::ServerOptions o;
        o.port = 0;
        o.model_id = "shapes-tiny";
        server_ = std::make_unique<rc::ChatServer>(rc::make_local_backend(model_), o);
        port_ = server_->bind();
        thread_ = std::thread([this] { server_->run(); });
        image_ = QImage(src + "/resources/samples/scene_1000000000.png");
        QVERIFY(!image_.isNull());
    }

    void cleanupTestCase() {
        server_->stop();
        thread_.join();
    }

    void testConnectionShowsModelsAndVision() {
        ConnectServerDialog d;
        RemoteServer s;
        s.url = url();
        d.setServer(s);
        QSignalSpy done(&d, &ConnectServerDialog::testFinished);
        d.testConnection();
        QVERIFY(done.wait(60000));
        QCOMPARE(done.first().first().toBool(), true);
        const QString status = d.statusText();
        QVERIFY2(status.contains("1 model") && status.contains("takes images") &&
                     status.contains("scores answers") && status.contains("dualfocus"),
                 qPrintable(status));
        QCOMPARE(d.server().model, QStringLiteral("shapes-tiny"));
        // Connect remembers the URL, and the key nowhere but the keychain (where there is one).
        s.apiKey = QStringLiteral("sekrit-key-123");
        d.setServer(s);
        d.findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok)->click();
        QCOMPARE(ConnectServerDialog::recentServers().front(), url());
        QSettings settings;
        settings.sync();
        QFile file(settings.fileName());
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray stored = file.readAll();
        QVERIFY(stored.contains("127.0.0.1"));
        QVERIFY(!stored.contains("sekrit-key-123"));

        s.url = QStringLiteral("http://127.0.0.1:1");
        d.setServer(s);
        done.clear();
        d.testConnection();
        QVERIFY(done.wait(30000));
        QCOMPARE(done.first().first().toBool(), false);
        QVERIFY2(d.statusText().contains("Cannot connect"), qPrintable(d.statusText()));
    }

    void controllerAnswersThroughTheServer() {
        InferenceController c;
        QSignalSpy ready(&c, &InferenceController::modelReady);
        RemoteServer s;
        s.url = url();
        c.connectServer(s);
        QVERIFY(ready.wait(30000));
        const ModelSummary m = ready.first().first().value<ModelSummary>();
        QVERIFY2(m.backend.contains("at http://127.0.0.1"), qPrintable(m.backend));
        QCOMPARE(m.regionFormat, QStringLiteral("dualfocus"));

        AskRequest r;
        r.question = QStringLiteral("Where is the red circle?");
        r.image = image_;
        r.imageKey = 1;
        r.maxNewTokens = 24;
        QSignalSpy answered(&c, &InferenceController::answered);
        c.ask(r);
        QVERIFY(answered.wait(60000));
        const AnswerResult got = answered.first().first().value<AnswerResult>();
        rc::Session local(model_);
        rc::GenerateParams g;
        g.max_new_tokens = 24;
        const rc::Reply want = local.ask("Where is the red circle?",
                                         {cv::imread((qEnvironmentVariable("REGIONCHAT_SOURCE_DIR") +
                                                      "/resources/samples/scene_1000000000.png")
                                                         .toStdString())},
                                         g);
        QCOMPARE(got.text.toStdString(), want.text);
        QCOMPARE(got.boxes.size(), qsizetype(want.boxes.size()));

        // A server that is not there: the load fails with a message, nothing else changes.
        QSignalSpy failed(&c, &InferenceController::modelFailed);
        s.url = QStringLiteral("http://127.0.0.1:1");
        c.connectServer(s);
        QVERIFY(failed.wait(30000));
        QVERIFY2(failed.first().first().toString().contains("127.0.0.1:1"),
                 qPrintable(failed.first().first().toString()));
    }
};

QTEST_MAIN(TestConnectServer)
#include "test_connect_server.moc"
