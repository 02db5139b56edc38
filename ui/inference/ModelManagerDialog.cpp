#include "inference/ModelManagerDialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include "regionchat/engine.h"

namespace rcui {

namespace {

QString gib(quint64 bytes) {
    return QStringLiteral("%1 GiB").arg(bytes / double(1ull << 30), 0, 'f', 2);
}


}  // namespace

ModelManagerDialog::ModelManagerDialog(const QString& dir, const QString& device, QWidget* parent)
    : QDialog(parent), dir_(dir) {
    setWindowTitle(tr("Open Model"));
    auto* form = new QFormLayout;
    auto* folder = new QLabel(dir, this);
    folder->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(tr("Folder:"), folder);
    layout_ = new QLabel(this);
    form->addRow(tr("Layout:"), layout_);
    params_ = new QLabel(this);
    form->addRow(tr("Parameters:"), params_);
    device_ = new QComboBox(this);
    device_->addItem(tr("Auto (CUDA when available)"), QStringLiteral("auto"));
    device_->addItem(tr("CPU"), QStringLiteral("cpu"));
    device_->addItem(tr("CUDA"), QStringLiteral("cuda"));
    device_->setCurrentIndex(std::max(0, device_->findData(device)));
    form->addRow(tr("Device:"), device_);
    dtype_ = new QComboBox(this);
    dtype_->addItem(tr("Auto (fp16 on CUDA, fp32 on CPU)"), QStringLiteral("auto"));
    dtype_->addItem(QStringLiteral("fp32"), QStringLiteral("fp32"));
    dtype_->addItem(QStringLiteral("fp16"), QStringLiteral("fp16"));
    dtype_->addItem(QStringLiteral("bf16"), QStringLiteral("bf16"));
    dtype_->addItem(tr("int8 (CPU only: 8-bit weights, fastest decoding of large models)"), QStringLiteral("int8"));
    form->addRow(tr("Precision:"), dtype_);
    memory_ = new QLabel(this);
    memoryBar_ = new QProgressBar(this);
    memoryBar_->setRange(0, 1000);
    auto* memoryBox = new QVBoxLayout;
    memoryBox->addWidget(memory_);
    memoryBox->addWidget(memoryBar_);
    form->addRow(tr("Memory:"), memoryBox);
    message_ = new QLabel(this);
    message_->setWordWrap(true);
    buttons_ = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
    buttons_->addButton(tr("&Load"), QDialogButtonBox::AcceptRole);
    connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* v = new QVBoxLayout(this);
    v->addLayout(form);
    v->addWidget(message_);
    v->addWidget(buttons_);
    connect(device_, &QComboBox::currentIndexChanged, this, &ModelManagerDialog::replan);
    connect(dtype_, &QComboBox::currentIndexChanged, this, &ModelManagerDialog::replan);
    setMinimumWidth(480);
    replan();
}

QString ModelManagerDialog::device() const {
    return device_->currentData().toString();
}
QString ModelManagerDialog::dtype() const {
    return dtype_->currentData().toString();
}
QString ModelManagerDialog::layoutText() const {
    return layout_->text();
}
QString ModelManagerDialog::memoryText() const {
    return memory_->text();
}
QString ModelManagerDialog::messageText() const {
    return message_->text();
}

void ModelManagerDialog::setFreeMemoryForTesting(quint64 bytes) {
    freeOverride_ = bytes;
    replan();
}

void ModelManagerDialog::replan() {
    canLoad_ = false;
    try {
        rc::LoadParams p;
        p.model_dir = dir_.toStdString();
        p.device = device().toStdString();
        p.dtype = rc::parse_precision(dtype().toStdString());
        rc::ModelPlan plan = rc::plan_model(p);
        if (freeOverride_) plan.set_free(*freeOverride_);
        layout_->setText(QString::fromStdString(plan.layout_description));
        params_->setText(tr("%1 M").arg(plan.parameters / 1e6, 0, 'f', 1));
        const QString on = QString::fromStdString(rc::to_string(plan.device) + ", " + rc::to_string(plan.dtype));
        if (plan.bytes_free > 0) {
            memory_->setText(tr("%1 needed of %2 free (%3)")
                                 .arg(gib(plan.bytes_needed), gib(plan.bytes_free), on));
            const double share = double(plan.bytes_needed) / plan.bytes_free;
            memoryBar_->setValue(int(std::min(1.0, share) * 1000));
            memoryBar_->setFormat(tr("%1% of the free memory").arg(share * 100, 0, 'f', 1));
        } else {
            memory_->setText(tr("%1 needed; free memory unknown (%2)")
                                 .arg(gib(plan.bytes_needed), on));
            memoryBar_->setValue(0);
        }
        memoryBar_->setVisible(plan.bytes_free > 0);
        canLoad_ = plan.fits;
        QString text = plan.fits ? tr("Weights: %1.").arg(gib(plan.weight_bytes))
                                 : tr("Will not fit: %1.").arg(QString::fromStdString(plan.message));
        for (const auto& w : plan.warnings) text += "\n" + QString::fromStdString(w);
        message_->setText(text);
        message_->setStyleSheet(plan.fits ? QString() : QStringLiteral("color: #b00020;"));
    } catch (const std::exception& e) {
        layout_->setText(tr("not recognised"));
        params_->clear();
        memory_->clear();
        memoryBar_->setVisible(false);
        message_->setText(tr("Cannot load: %1").arg(QString::fromUtf8(e.what())));
        message_->setStyleSheet(QStringLiteral("color: #b00020;"));
    }
    for (QAbstractButton* b : buttons_->buttons())
        if (buttons_->buttonRole(b) == QDialogButtonBox::AcceptRole) b->setEnabled(canLoad_);
}

}  // namespace rcui
