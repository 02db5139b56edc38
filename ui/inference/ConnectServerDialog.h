// Model > Connect to Server…: an OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama,
// regionchat-cli serve) to answer through. The URL (recent ones remembered, never the key), the
// API key (kept for this run only), the model from the server's list, the region format
// (guessed from the model's name unless chosen), and Test Connection: latency of the model
// list and whether the model takes an image.
#pragma once

#include <QDialog>
#include <QFutureWatcher>

#include "inference/InferenceTypes.h"

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace rcui {

class ConnectServerDialog : public QDialog {
    Q_OBJECT
public:
    explicit ConnectServerDialog(QWidget* parent = nullptr);
    ~ConnectServerDialog() override;

    RemoteServer server() const;
    /// Fills the fields (tests; a reconnect).
    void setServer(const RemoteServer& server);
    /// Runs Test Connection (asynchronously; testFinished when done).
    void testConnection();
    QString statusText() const;
    /// The URLs remembered (most recent first), at most 8.
    static QStringList recentServers();
    static void rememberServer(const QString& url);
    /// Whether keys can be kept in the platform keychain in this build.
    static bool hasKeychain();

signals:
    void testFinished(bool ok);

private:
    struct Probe {
        bool ok = false;
        QString message;
        QStringList models;
        double listMs = 0;
        int vision = -1;  ///< 1 takes an image, 0 refuses one, -1 not tried
        bool scoring = false;  ///< scores answers (DualFocus' perplexity choice)
    };
    void showProbe(const Probe& p);
    void readKey(const QString& url);  // fills the key field from the keychain, if it has one
    void storeKey(const QString& url, const QString& key);

    QComboBox* url_ = nullptr;
    QLineEdit* key_ = nullptr;
    QComboBox* model_ = nullptr;
    QComboBox* format_ = nullptr;
    QCheckBox* rememberKey_ = nullptr;
    QLabel* status_ = nullptr;
    QPushButton* test_ = nullptr;
    QDialogButtonBox* buttons_ = nullptr;
    QFutureWatcher<Probe> watcher_;
};

}  // namespace rcui
