#include "chat/ChatPanel.h"

#include <QCheckBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QTextBrowser>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>
#include <algorithm>

#include "chat/ChatHtml.h"
#include "document/ImageDocument.h"

namespace rcui {

namespace {

constexpr int kRenderIntervalMs = 30;
constexpr double kPresentationScale = 1.6;

/// "box:3" -> 3 when the scheme matches, else -1.
int linkIndex(const QUrl& url, const QString& scheme) {
    const QString s = url.toString();
    if (!s.startsWith(scheme + QLatin1Char(':'))) return -1;
    bool ok = false;
    const int i = s.mid(scheme.size() + 1).toInt(&ok);
    return ok ? i : -1;
}

QString regionTip(const Region& r) {
    const QRectF b = r.box.normalized();
    if (r.kind == Region::Kind::Scribble) {
        return QObject::tr(
                   "Region %1: a scribble of %2 points. Models that read points (RegionVLM) get "
                   "points resampled along it; others its bounding box.\nClick to insert <region %1>.")
            .arg(r.id)
            .arg(r.positive.size());
    }
    if (r.kind == Region::Kind::Point) {
        return QObject::tr(
                   "Region %1: point at (%2, %3). Sent as a small box because the "
                   "model has no point input.\nClick to insert <region %1>.")
            .arg(r.id)
            .arg(r.positive.isEmpty() ? b.center().x() : r.positive.first().x(), 0, 'f', 0)
            .arg(r.positive.isEmpty() ? b.center().y() : r.positive.first().y(), 0, 'f', 0);
    }
    return QObject::tr("Region %1: box %2, %3 – %4, %5 (pixels).\nClick to insert <region %1>.")
        .arg(r.id)
        .arg(b.left(), 0, 'f', 0)
        .arg(b.top(), 0, 'f', 0)
        .arg(b.right(), 0, 'f', 0)
        .arg(b.bottom(), 0, 'f', 0);
}

}  // namespace

ChatPanel::ChatPanel(ImageDocument* document, QWidget* parent) : QDockWidget(parent) {
    setObjectName(QStringLiteral("chatDock"));
    setWindowTitle(tr("Chat"));
    auto* content = new QWidget(this);
    auto* layout = new QVBoxLayout(content);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(6);

    view_ = new QTextBrowser(content);
    view_->setObjectName(QStringLiteral("chatMessages"));
    view_->setOpenLinks(false);
    view_->setOpenExternalLinks(false);
    view_->viewport()->installEventFilter(this);
    connect(view_, &QTextBrowser::anchorClicked, this, &ChatPanel::onAnchorClicked);
    connect(view_, &QTextBrowser::highlighted, this, &ChatPanel::onAnchorHovered);
    layout->addWidget(view_, 1);

    chipRow_ = new QWidget(content);
    chipRow_->setObjectName(QStringLiteral("regionChips"));
    chipLayout_ = new QHBoxLayout(chipRow_);
    chipLayout_->setContentsMargins(0, 0, 0, 0);
    chipLayout_->setSpacing(4);
    chipLayout_->addWidget(new QLabel(tr("Regions:"), chipRow_));
    noRegions_ = new QLabel(tr("none yet: draw a box or click a point on the image"), chipRow_);
    noRegions_->setEnabled(false);
    chipLayout_->addWidget(noRegions_);
    chipLayout_->addStretch(1);
    layout->addWidget(chipRow_);

    input_ = new QPlainTextEdit(content);
    input_->setObjectName(QStringLiteral("chatInput"));
    input_->setPlaceholderText(tr("Ask about the image — type <region> or click a region chip"));
    input_->setTabChangesFocus(true);
    input_->installEventFilter(this);
    layout->addWidget(input_);

    auto* buttons = new QHBoxLayout;
    dualFocus_ = new QCheckBox(tr("Dual focus"), content);
    dualFocus_->setObjectName(QStringLiteral("dualFocus"));
    dualFocus_->setToolTip(
        tr("Answer in three passes: whole image, a box for the question, the "
           "zoomed crop; the likelier answer wins. Slower."));
    connect(dualFocus_, &QCheckBox::toggled, this, &ChatPanel::dualFocusToggled);
    buttons->addWidget(dualFocus_);
    buttons->addStretch(1);
    stop_ = new QPushButton(tr("Stop"), content);
    stop_->setObjectName(QStringLiteral("stopButton"));
    stop_->setToolTip(tr("Stop the answer (Esc)"));
    stop_->setEnabled(false);
    connect(stop_, &QPushButton::clicked, this, &ChatPanel::stopRequested);
    buttons->addWidget(stop_);
    send_ = new QPushButton(tr("Send"), content);
    send_->setObjectName(QStringLiteral("sendButton"));
    send_->setToolTip(tr("Send the question (Enter; Shift+Enter for a new line)"));
    send_->setDefault(true);
    connect(send_, &QPushButton::clicked, this, &ChatPanel::send);
    buttons->addWidget(send_);
    layout->addLayout(buttons);
    setWidget(content);

    basePointSize_ = font().pointSizeF() > 0 ? font().pointSizeF() : 10.0;
    applyFonts();

    renderTimer_.setSingleShot(true);
    renderTimer_.setInterval(kRenderIntervalMs);
    connect(&renderTimer_, &QTimer::timeout, this, &ChatPanel::renderNow);
    setDocument(document);
}

void ChatPanel::setDocument(ImageDocument* document) {
    if (doc_) disconnect(doc_, nullptr, this, nullptr);
    doc_ = document;
    if (doc_) {
        connect(doc_, &ImageDocument::entryAdded, this, &ChatPanel::scheduleRender);
        connect(doc_, &ImageDocument::entryChanged, this, &ChatPanel::scheduleRender);
        connect(doc_, &ImageDocument::chatCleared, this, &ChatPanel::scheduleRender);
        // Region colours and numbers appear in the messages and in the chip row.
        auto regionsChanged = [this] {
            rebuildRegionChips();
            scheduleRender();
        };
        connect(doc_, &ImageDocument::regionAdded, this, regionsChanged);
        connect(doc_, &ImageDocument::regionRemoved, this, regionsChanged);
        connect(doc_, &ImageDocument::regionChanged, this, regionsChanged);
        connect(doc_, &ImageDocument::selectionChanged, this, &ChatPanel::rebuildRegionChips);
        connect(doc_, &ImageDocument::imageChanged, this, regionsChanged);
    }
    rebuildRegionChips();
    renderNow();
}

bool ChatPanel::dualFocus() const {
    return dualFocus_->isChecked();
}

void ChatPanel::setDualFocus(bool on) {
    dualFocus_->setChecked(on);
}

void ChatPanel::setPresentationMode(bool on) {
    if (on == presentation_) return;
    presentation_ = on;
    applyFonts();
    rebuildRegionChips();
    renderNow();
}

void ChatPanel::applyFonts() {
    const double size = basePointSize_ * (presentation_ ? kPresentationScale : 1.0);
    QFont f = font();
    f.setPointSizeF(size);
    widget()->setFont(f);
    // About three lines of question, growing with the font.
    const QFontMetrics fm(f);
    input_->setFixedHeight(fm.lineSpacing() * 3 + 2 * input_->frameWidth() + 10);
}

void ChatPanel::focusInput() {
    input_->setFocus(Qt::OtherFocusReason);
}

void ChatPanel::setBusy(bool busy) {
    busy_ = busy;
    stop_->setEnabled(busy);
}

void ChatPanel::send() {
    const QString question = input_->toPlainText().trimmed();
    if (question.isEmpty()) return;
    input_->clear();
    emit sendRequested(question);
}

void ChatPanel::scheduleRender() {
    if (!renderTimer_.isActive()) renderTimer_.start();
}

void ChatPanel::renderNow() {
    renderTimer_.stop();
    QScrollBar* bar = view_->verticalScrollBar();
    // Follow the answer as it grows unless the user scrolled up to read.
    const bool atBottom = bar->value() >= bar->maximum() - 4;
    const int keep = bar->value();
    view_->setHtml(doc_ ? conversationHtml(*doc_) : QString());
    bar->setValue(atBottom ? bar->maximum() : keep);
}

void ChatPanel::rebuildRegionChips() {
    for (QToolButton* old : chipRow_->findChildren<QToolButton*>()) {
        chipLayout_->removeWidget(old);
        old->hide();
        old->setParent(nullptr);  // out of the row now, gone when control returns
        old->deleteLater();
    }
    QList<Region> regions = doc_ ? doc_->regions() : QList<Region>();
    std::sort(regions.begin(), regions.end(),
              [](const Region& a, const Region& b) { return a.id < b.id; });
    noRegions_->setVisible(regions.isEmpty());
    const int selected = doc_ ? doc_->selectedRegion() : 0;
    int at = 1;  // after the "Regions:" label
    for (const Region& r : regions) {
        auto* b = new QToolButton(chipRow_);
        b->setObjectName(QStringLiteral("regionChip%1").arg(r.id));
        const bool point = r.kind == Region::Kind::Point;
        const bool scribble = r.kind == Region::Kind::Scribble;
        b->setText((point ? QStringLiteral("• ") : scribble ? QStringLiteral("~ ") : QStringLiteral("▭ ")) +
                   QString::number(r.id));
        b->setToolTip(regionTip(r));
        b->setAutoRaise(false);
        b->setCursor(Qt::PointingHandCursor);
        const QColor fill = r.colour.isValid() ? r.colour : regionColour(r.id);
        b->setStyleSheet(
            QStringLiteral("QToolButton { background-color: %1; color: %2; "
                           "border: %3px solid %4; border-radius: 4px; "
                           "padding: 1px 6px; font-weight: bold; }")
                .arg(fill.name(), chipTextColour(fill).name())
                .arg(r.id == selected ? 2 : 1)
                .arg(r.id == selected ? QStringLiteral("#202020") : fill.darker(130).name()));
        const int id = r.id;
        connect(b, &QToolButton::clicked, this, [this, id] { insertReference(id); });
        chipLayout_->insertWidget(at++, b);
    }
}

void ChatPanel::insertReference(int regionId) {
    input_->insertPlainText(QStringLiteral("<region %1>").arg(regionId));
    focusInput();
}

void ChatPanel::onAnchorClicked(const QUrl& url) {
    if (const int box = linkIndex(url, QStringLiteral("box")); box >= 0) {
        emit boxClicked(box);
    } else if (const int make = linkIndex(url, QStringLiteral("make")); make >= 0) {
        emit makeRegionRequested(make);
    } else if (const int region = linkIndex(url, QStringLiteral("region")); region > 0) {
        if (doc_ && doc_->region(region)) doc_->setSelectedRegion(region);
    }
}

void ChatPanel::onAnchorHovered(const QUrl& url) {
    const int box = linkIndex(url, QStringLiteral("box"));
    if (box == hoveredBox_ || !doc_) return;
    // Clear only the highlight this panel set; the canvas may have set another since.
    if (box >= 0 || doc_->highlightedBox() == hoveredBox_) doc_->setHighlightedBox(box);
    hoveredBox_ = box;
}

bool ChatPanel::eventFilter(QObject* watched, QEvent* event) {
    if (watched == input_ && event->type() == QEvent::KeyPress) {
        auto* key = static_cast<QKeyEvent*>(event);
        if (key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter) {
            if (key->modifiers() & Qt::ShiftModifier)
                input_->insertPlainText(QStringLiteral("\n"));
            else
                send();
            return true;
        }
        if (key->key() == Qt::Key_Escape && busy_) {
            emit stopRequested();
            return true;
        }
    }
    if (watched == view_->viewport() && event->type() == QEvent::Leave) onAnchorHovered(QUrl());
    return QDockWidget::eventFilter(watched, event);
}

}  // namespace rcui
