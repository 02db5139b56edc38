#include "focus/FocusPanel.h"

#include <QGridLayout>
#include <QLabel>
#include <QPainter>
#include <cmath>

#include "Background.h"
#include "document/ImageDocument.h"

namespace rcui {

FocusPanel::FocusPanel(ImageDocument* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    auto* grid = new QGridLayout(this);
    auto header = [this](const QString& text) {
        auto* l = new QLabel(text, this);
        QFont f = l->font();
        f.setBold(true);
        l->setFont(f);
        return l;
    };
    macroView_ = new QLabel(this);
    microView_ = new QLabel(this);
    for (QLabel* v : {macroView_, microView_}) {
        v->setAlignment(Qt::AlignCenter);
        v->setMinimumSize(120, 120);
        v->setFrameShape(QFrame::StyledPanel);
    }
    macroAnswer_ = new QLabel(this);
    microAnswer_ = new QLabel(this);
    verdict_ = new QLabel(this);
    for (QLabel* l : {macroAnswer_, microAnswer_, verdict_}) {
        l->setWordWrap(true);
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    }
    grid->addWidget(header(tr("Macro: whole image")), 0, 0);
    grid->addWidget(header(tr("Micro: zoomed crop")), 0, 1);
    grid->addWidget(macroView_, 1, 0);
    grid->addWidget(microView_, 1, 1);
    grid->addWidget(macroAnswer_, 2, 0);
    grid->addWidget(microAnswer_, 2, 1);
    grid->addWidget(verdict_, 3, 0, 1, 2);
    grid->setRowStretch(4, 1);
    connect(doc_, &ImageDocument::focusChanged, this, &FocusPanel::refresh);
    connect(doc_, &ImageDocument::imageChanged, this, &FocusPanel::refresh);
    refresh();
}

void FocusPanel::setPresentationMode(bool on) {
    thumbSize_ = on ? 300 : 220;
    QFont f = font();
    f.setPointSizeF(on ? 16 : QFont().pointSizeF());
    setFont(f);
    refresh();
}

void FocusPanel::scaleInBackground(const QImage& image) {
    const qint64 key = image.cacheKey();
    const int size = thumbSize_;
    if (key == pendingKey_ && size == pendingSize_) return;  // under way
    pendingKey_ = key;
    pendingSize_ = size;
    runInBackground(
        this,
        [image, size] {
            return image.scaled(size, size, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                .convertToFormat(QImage::Format_RGB32);
        },
        [this, key, size](const QImage& scaled) {
            if (key != pendingKey_ || size != pendingSize_) return;  // another image came
            scaled_ = scaled;
            scaledKey_ = key;
            scaledSize_ = size;
            refresh();
        });
}

QPixmap FocusPanel::thumbnail(const QImage& image, const QRectF& box, const QRectF& crop) {
    if (image.isNull()) return {};
    if (image.cacheKey() != scaledKey_ || thumbSize_ != scaledSize_) {
        scaleInBackground(image);  // refresh() draws it once it is ready
        return {};
    }
    QImage scaled = scaled_;
    const double s = double(scaled.width()) / image.width();
    QPainter p(&scaled);
    p.setRenderHint(QPainter::Antialiasing);
    auto rect = [s](const QRectF& r) {
        return QRectF(r.x() * s, r.y() * s, r.width() * s, r.height() * s);
    };
    if (!crop.isEmpty()) {
        p.setPen(QPen(QColor(255, 200, 0), 2, Qt::DashLine));
        p.drawRect(rect(crop));
    }
    if (!box.isEmpty()) {
        p.setPen(QPen(QColor(0, 200, 255), 2));
        p.drawRect(rect(box));
    }
    return QPixmap::fromImage(scaled);
}

void FocusPanel::refresh() {
    const FocusInfo& f = doc_->lastFocus();
    if (!f.valid) {
        macroView_->setPixmap(thumbnail(doc_->image(), {}, {}));
        microView_->setText(
            tr("Turn on Dual focus in the chat and ask a question:\nthe zoomed crop "
               "and both answers show here."));
        macroAnswer_->clear();
        microAnswer_->clear();
        verdict_->clear();
        return;
    }
    macroView_->setPixmap(thumbnail(doc_->image(), f.box, f.cropRect));
    const QImage& crop = doc_->lastFocusCrop();
    if (crop.isNull())
        microView_->setText(tr("No box was found: the macro answer stands."));
    else
        microView_->setPixmap(QPixmap::fromImage(
            crop.scaled(thumbSize_, thumbSize_, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    const bool scored = f.scored;
    auto ppl = [](double nll) { return std::exp(nll); };
    macroAnswer_->setText(
        scored ? tr("“%1”\nperplexity %2").arg(f.macroAnswer).arg(ppl(f.macroNll), 0, 'f', 3)
               : tr("“%1”").arg(f.macroAnswer));
    microAnswer_->setText(
        scored          ? tr("“%1”\nperplexity %2").arg(f.microAnswer).arg(ppl(f.microNll), 0, 'f', 3)
        : crop.isNull() ? QString()
                        : tr("“%1”").arg(f.microAnswer));
    const QString win = QStringLiteral("<b style='color:#1a9e3a'>%1</b>");
    const QString which = f.microWon ? win.arg(tr("micro, the zoomed crop"))
                                     : win.arg(tr("macro, the whole image"));
    const QString pipeline =
        f.pipeline.isEmpty() ? QString() : tr("%1 pipeline · ").arg(f.pipeline.toHtmlEscaped());
    verdict_->setText(
        pipeline + (crop.isNull() ? tr("Answer: the macro answer (no zoom)")
                    : scored      ? tr("Winner: %1 (lower perplexity)").arg(which)
                                  : tr("Winner: %1 (%2)")
                                        .arg(which, f.decidedBy.toHtmlEscaped())));
}

}  // namespace rcui
