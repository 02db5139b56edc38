#include "inference/ConnectServerDialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QElapsedTimer>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>
#include <QtConcurrent>

#include "regionchat/region_format.h"
#ifdef REGIONCHAT_HAS_REMOTE
#include "regionchat/remote.h"
#endif
#ifdef REGIONCHAT_HAS_KEYCHAIN
#include <qt6keychain/keychain.h>
#endif

namespace rcui {

namespace {
const char* kRecentKey = "servers/recent";
}

ConnectServerDialog::ConnectServerDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Connect to Server"));
    auto* form = new QFormLayout;
    url_ = new QComboBox(this);
    url_->setEditable(true);
    url_->addItems(recentServers());
    if (url_->count() == 0) url_->setEditText(QStringLiteral("http://127.0.0.1:8080"));
    url_->setToolTip(tr("An OpenAI-compatible server: vLLM, SGLang, llama.cpp, Ollama, "
                        "regionchat-cli serve"));
    key_ = new QLineEdit(this);
    key_->setEchoMode(QLineEdit::Password);
    key_->setPlaceholderText(tr("none"));
    key_->setToolTip(hasKeychain()
                         ? tr("Sent as a Bearer token; kept in the system keychain if asked, "
                              "never in settings or sessions")
                         : tr("Sent as a Bearer token; kept for this run only, never saved"));
    rememberKey_ = new QCheckBox(tr("Remember the key in the system keychain"), this);
    rememberKey_->setChecked(hasKeychain());
    rememberKey_->setEnabled(hasKeychain());
    if (!hasKeychain())
        rememberKey_->setToolTip(tr("No keychain here (this build has none, or no session bus runs)"));
    model_ = new QComboBox(this);
    model_->setEditable(true);
    model_->setToolTip(tr("Test Connection fills this from the server's list"));
    format_ = new QComboBox(this);
    format_->addItem(tr("Guess from the model's name"), QString());
    for (const char* f : {"qwen2-vl", "qwen2.5-vl", "qwen3-vl", "internvl", "dualfocus", "pink",
                          "pixels"})
        format_->addItem(QString::fromLatin1(f), QString::fromLatin1(f));
    format_->setToolTip(tr("How regions are written into questions and boxes read from answers"));
    form->addRow(tr("Server URL:"), url_);
    form->addRow(tr("API key:"), key_);
    form->addRow(QString(), rememberKey_);
    form->addRow(tr("Model:"), model_);
    form->addRow(tr("Region format:"), format_);

    status_ = new QLabel(tr("Not tested yet."), this);
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    test_ = new QPushButton(tr("&Test Connection"), this);
    buttons_ = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons_->button(QDialogButtonBox::Ok)->setText(tr("Connect"));
    buttons_->addButton(test_, QDialogButtonBox::ActionRole);
    connect(test_, &QPushButton::clicked, this, &ConnectServerDialog::testConnection);
    connect(buttons_, &QDialogButtonBox::accepted, this, [this] {
        const QString url = url_->currentText().trimmed();
        rememberServer(url);
        if (rememberKey_->isChecked() && !key_->text().isEmpty()) storeKey(url, key_->text());
        accept();
    });
    connect(url_, &QComboBox::currentTextChanged, this, [this](const QString& url) {
        if (key_->text().isEmpty()) readKey(url.trimmed());
    });
    readKey(url_->currentText().trimmed());
    connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(&watcher_, &QFutureWatcher<Probe>::finished, this, [this] {
        const Probe p = watcher_.result();
        showProbe(p);
        test_->setEnabled(true);
        emit testFinished(p.ok);
    });

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(status_);
    layout->addWidget(buttons_);
    resize(520, sizeHint().height());
}

ConnectServerDialog::~ConnectServerDialog() {
    watcher_.waitForFinished();
}

RemoteServer ConnectServerDialog::server() const {
    RemoteServer s;
    s.url = url_->currentText().trimmed();
    s.apiKey = key_->text();
    s.model = model_->currentText().trimmed();
    s.regionFormat = format_->currentData().toString();
    return s;
}

void ConnectServerDialog::setServer(const RemoteServer& s) {
    url_->setEditText(s.url);
    key_->setText(s.apiKey);
    model_->setEditText(s.model);
    const int f = format_->findData(s.regionFormat);
    format_->setCurrentIndex(f < 0 ? 0 : f);
}

QString ConnectServerDialog::statusText() const {
    return status_->text();
}

void ConnectServerDialog::testConnection() {
    if (watcher_.isRunning()) return;
    test_->setEnabled(false);
    status_->setText(tr("Testing…"));
    const RemoteServer s = server();
    watcher_.setFuture(QtConcurrent::run([s]() -> Probe {
        Probe p;
#ifdef REGIONCHAT_HAS_REMOTE
        rc::RemoteOptions o;
        o.url = s.url.toStdString();
        o.api_key = s.apiKey.toStdString();
        o.connect_timeout_s = 5;
        o.first_token_timeout_s = 60;
        try {
            QElapsedTimer t;
            t.start();
            for (const std::string& m : rc::list_remote_models(o)) p.models << QString::fromStdString(m);
            p.listMs = double(t.nsecsElapsed()) / 1e6;
            o.model = s.model.isEmpty() && !p.models.isEmpty() ? p.models.front().toStdString()
                                                                 : s.model.toStdString();
            p.ok = true;
            // Does the model take an image? One token about a small gray picture.
            try {
                auto backend = rc::make_remote_backend(o);
                p.scoring = backend->info().capabilities.answer_scoring;
                rc::ChatRequest q;
                q.text = "What colour is this?";
                q.images = {cv::Mat(32, 32, CV_8UC3, cv::Scalar(128, 128, 128))};
                rc::GenerateParams g;
                g.max_new_tokens = 1;
                backend->ask(q, g);
                p.vision = 1;
            } catch (const std::exception& e) {
                p.vision = 0;
                p.message = QString::fromStdString(e.what());
            }
        } catch (const std::exception& e) {
            p.message = QString::fromStdString(e.what());
        }
#else
        p.message = QObject::tr("this build has no remote backend (cpp-httplib was not found)");
#endif
        return p;
    }));
}

void ConnectServerDialog::showProbe(const Probe& p) {
    if (!p.ok) {
        status_->setText(tr("<b>Cannot connect:</b> %1").arg(p.message.toHtmlEscaped()));
        return;
    }
    const QString current = model_->currentText();
    model_->clear();
    model_->addItems(p.models);
    if (!current.isEmpty()) model_->setEditText(current);
    const QString models =
        p.models.size() == 1 ? tr("1 model") : tr("%1 models").arg(p.models.size());
    QString text = tr("Connected: %1 listed in %2 ms.").arg(models).arg(p.listMs, 0, 'f', 0);
    const QString model = model_->currentText();
    text += p.vision == 1   ? tr(" %1 takes images.").arg(model.toHtmlEscaped())
            : p.vision == 0 ? tr(" %1 did not answer about an image: %2")
                                  .arg(model.toHtmlEscaped(), p.message.toHtmlEscaped())
                            : QString();
    text += p.scoring ? tr(" It scores answers (DualFocus picks by perplexity).")
                      : tr(" It does not score answers (DualFocus will show both).");
    if (format_->currentData().toString().isEmpty())
        text += tr(" Region format: %1 (guessed).")
                    .arg(QString::fromStdString(rc::guess_region_format(model.toStdString())));
    status_->setText(text);
}

bool ConnectServerDialog::hasKeychain() {
#ifdef REGIONCHAT_HAS_KEYCHAIN
    // Only with a session bus to reach a keychain through: on a headless machine qtkeychain's
    // D-Bus autolaunch runs on a thread of its own and reads the environment while others may
    // be writing it (a crash seen in CI), and there is no keychain to find anyway.
    const QByteArray bus = qgetenv("DBUS_SESSION_BUS_ADDRESS");
    return !bus.isEmpty();
#else
    return false;
#endif
}

// Keys live under the service "RegionChat", one per server URL. A keychain that is not there
// (no Secret Service on a headless machine) just leaves the field empty: no insecure fallback.
void ConnectServerDialog::readKey(const QString& url) {
#ifdef REGIONCHAT_HAS_KEYCHAIN
    if (url.isEmpty() || !hasKeychain()) return;
    auto* job = new QKeychain::ReadPasswordJob(QStringLiteral("RegionChat"), this);
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    job->setKey(url);
    connect(job, &QKeychain::Job::finished, this, [this, url](QKeychain::Job* j) {
        auto* read = static_cast<QKeychain::ReadPasswordJob*>(j);
        if (read->error() == QKeychain::NoError && key_->text().isEmpty() &&
            url_->currentText().trimmed() == url)
            key_->setText(read->textData());
    });
    job->start();
#else
    (void)url;
#endif
}

void ConnectServerDialog::storeKey(const QString& url, const QString& key) {
#ifdef REGIONCHAT_HAS_KEYCHAIN
    if (!hasKeychain()) return;
    auto* job = new QKeychain::WritePasswordJob(QStringLiteral("RegionChat"));
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    job->setKey(url);
    job->setTextData(key);
    job->start();  // outlives the dialog; a keychain that is not there just fails
#else
    (void)url;
    (void)key;
#endif
}

QStringList ConnectServerDialog::recentServers() {
    return QSettings().value(kRecentKey).toStringList();
}

void ConnectServerDialog::rememberServer(const QString& url) {
    if (url.isEmpty()) return;
    QStringList list = recentServers();
    list.removeAll(url);
    list.prepend(url);
    while (list.size() > 8) list.removeLast();
    QSettings().setValue(kRecentKey, list);
}

}  // namespace rcui
