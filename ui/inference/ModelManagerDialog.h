// Model > Open Model…: shows what loading a model folder would take before it is loaded (the
// layout recognised, parameters, dtype, device, memory needed against memory free) and
// refuses with a message when it will not fit. Planning reads config.json and the weight
// files' headers only, so the dialog opens at once even for a 7B checkpoint.
#pragma once

#include <QDialog>
#include <optional>

class QComboBox;
class QDialogButtonBox;
class QLabel;
class QProgressBar;

namespace rcui {

class ModelManagerDialog : public QDialog {
    Q_OBJECT
public:
    ModelManagerDialog(const QString& dir, const QString& device, QWidget* parent = nullptr);

    QString modelDir() const { return dir_; }
    QString device() const;  ///< "auto", "cpu", "cuda"
    QString dtype() const;   ///< "auto", "fp32", "fp16", "bf16"
    bool canLoad() const { return canLoad_; }
    QString layoutText() const;
    QString memoryText() const;
    QString messageText() const;

    /// Tests: pretend this much memory is free on every device (0 = unknown).
    void setFreeMemoryForTesting(quint64 bytes);

private:
    void replan();

    QString dir_;
    std::optional<quint64> freeOverride_;
    bool canLoad_ = false;
    QComboBox* device_ = nullptr;
    QComboBox* dtype_ = nullptr;
    QLabel* layout_ = nullptr;
    QLabel* params_ = nullptr;
    QLabel* memory_ = nullptr;
    QProgressBar* memoryBar_ = nullptr;
    QLabel* message_ = nullptr;
    QDialogButtonBox* buttons_ = nullptr;
};

}  // namespace rcui
