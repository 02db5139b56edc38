#include "bench/BenchmarkDock.h"

#include <QComboBox>
#include <QFile>
#include <memory>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QTableWidget>
#include <QVBoxLayout>

#include "Background.h"
#include "bench/CaseImages.h"
#include "inference/ImageConversion.h"
#include "inference/InferenceController.h"
#include "regionchat/bench_run.h"

namespace rcui {

namespace {

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

enum Column { ColId, ColQuestion, ColStatus, ColPrediction, ColCount };

QString guessFormat(const QString& root) {
    return qs(rc::bench::guess_benchmark_format(root.toStdString()));
}

QString truthText(const rc::bench::BenchCase& c) {
    if (c.format == "grounding" && c.has_box)
        return QStringLiteral("[%1, %2, %3, %4] px")
            .arg(c.box.x0, 0, 'f', 0)
            .arg(c.box.y0, 0, 'f', 0)
            .arg(c.box.x1, 0, 'f', 0)
            .arg(c.box.y1, 0, 'f', 0);
    return qs(c.answer);
}

}  // namespace

BenchmarkDock::BenchmarkDock(InferenceController* inference, QWidget* parent)
    : QDockWidget(tr("Benchmark"), parent), inference_(inference) {
    qRegisterMetaType<rcui::BenchCaseView>("rcui::BenchCaseView");
    setObjectName(QStringLiteral("BenchmarkDock"));
    auto* body = new QWidget(this);
    auto* layout = new QVBoxLayout(body);

    auto* top = new QHBoxLayout;
    openButton_ = new QPushButton(tr("Open…"), body);
    openButton_->setToolTip(
        tr("Open an MME, MMVM, grounding, TextVQA, GQA-MCQ, SEED or MMBench set"));
    formatBox_ = new QComboBox(body);
    formatBox_->addItem(tr("Auto"), QString());
    formatBox_->addItem(QStringLiteral("MME"), QStringLiteral("mme"));
    formatBox_->addItem(QStringLiteral("MMVM"), QStringLiteral("mmvm"));
    formatBox_->addItem(tr("Grounding"), QStringLiteral("grounding"));
    formatBox_->addItem(QStringLiteral("TextVQA"), QStringLiteral("textvqa"));
    formatBox_->addItem(QStringLiteral("GQA-MCQ"), QStringLiteral("gqa-mcq"));
    formatBox_->addItem(QStringLiteral("SEED-Bench"), QStringLiteral("seed"));
    formatBox_->addItem(QStringLiteral("MMBench"), QStringLiteral("mmbench"));
    rootLabel_ = new QLabel(tr("No benchmark open"), body);
    rootLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    top->addWidget(openButton_);
    top->addWidget(formatBox_);
    top->addWidget(rootLabel_, 1);
    layout->addLayout(top);

    auto* filterRow = new QHBoxLayout;
    filterBox_ = new QComboBox(body);
    filterBox_->addItems({tr("All"), tr("Right"), tr("Wrong"), tr("Not run")});
    search_ = new QLineEdit(body);
    search_->setPlaceholderText(tr("Filter by id, task or question"));
    search_->setClearButtonEnabled(true);
    filterRow->addWidget(filterBox_);
    filterRow->addWidget(search_, 1);
    layout->addLayout(filterRow);

    table_ = new QTableWidget(0, ColCount, body);
    table_->setHorizontalHeaderLabels({tr("Case"), tr("Question"), tr("Result"), tr("Prediction")});
    table_->setWordWrap(false);
    table_->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setStretchLastSection(true);
    layout->addWidget(table_, 1);

    detail_ = new QLabel(body);
    detail_->setWordWrap(true);
    detail_->setTextFormat(Qt::RichText);
    detail_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(detail_);

    auto* runRow = new QHBoxLayout;
    runCaseButton_ = new QPushButton(tr("Run case"), body);
    runAllButton_ = new QPushButton(tr("Run all"), body);
    cancelButton_ = new QPushButton(tr("Cancel"), body);
    exportButton_ = new QPushButton(tr("Export…"), body);
    exportButton_->setToolTip(tr("Save the results as CSV or JSON"));
    runCaseButton_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    runCaseButton_->setToolTip(tr("Run the selected case (Ctrl+R)"));
    for (auto* b : {runCaseButton_, runAllButton_, cancelButton_, exportButton_})
        runRow->addWidget(b);
    dualFocusBox_ = new QCheckBox(tr("DualFocus pipeline"), body);
    dualFocusBox_->setChecked(true);
    dualFocusBox_->setToolTip(
        tr("Answer as DualFocus' evaluation does (macro answer, box, zoomed micro answer, the "
           "choice by perplexity); off: one answer to the question"));
    dualFocusBox_->setVisible(false);
    runRow->addWidget(dualFocusBox_);
    layout->addLayout(runRow);
    progress_ = new QProgressBar(body);
    progress_->setFormat(tr("%v / %m cases"));
    layout->addWidget(progress_);
    score_ = new QLabel(body);
    score_->setWordWrap(true);
    score_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(score_);
    setWidget(body);

    connect(openButton_, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a benchmark folder"));
        if (!dir.isEmpty()) openBenchmark(dir, formatBox_->currentData().toString());
    });
    connect(filterBox_, qOverload<int>(&QComboBox::currentIndexChanged), this,
            [this](int f) { setFilter(f); });
    connect(search_, &QLineEdit::textChanged, this, [this] { refreshTable(); });
    connect(table_, &QTableWidget::currentCellChanged, this, [this](int r) {
        if (r >= 0) openCase(table_->item(r, ColId)->data(Qt::UserRole).toInt());
    });
    connect(runCaseButton_, &QPushButton::clicked, this, [this] { runCase(currentRow()); });
    connect(runAllButton_, &QPushButton::clicked, this, [this] { runAll(); });
    connect(cancelButton_, &QPushButton::clicked, this, [this] { cancel(); });
    connect(exportButton_, &QPushButton::clicked, this, [this] { exportAs(); });
    connect(inference_, &InferenceController::answered, this,
            [this](const AnswerResult& r) { onAnswered(r); });
    connect(inference_, &InferenceController::failed, this,
            [this](const QString& m) { onFailed(m); });
    refreshScore();
}

bool BenchmarkDock::openBenchmark(const QString& root, const QString& format) {
    cancel();
    const QString fmt = format.isEmpty() ? guessFormat(root) : format;
    if (fmt.isEmpty()) {
        setMessage(tr("%1 is not a benchmark: no Data_json folder (MME), no "
                      "mllm_match_eval_full.tsv (MMVM), no TextVQA, GQA-MCQ, SEED or MMBench "
                      "files and no .jsonl file (grounding).")
                       .arg(root));
        return false;
    }
    rc::bench::LoadReport report;
    try {
        report = rc::bench::load_benchmark(fmt.toStdString(), root.toStdString());
    } catch (const std::exception& e) {
        setMessage(qs(e.what()));
        return false;
    }
    if (report.cases.empty()) {
        setMessage(tr("No %1 cases in %2. %3").arg(fmt, root, qs(report.summary())));
        return false;
    }
    format_ = fmt;
    dualFocusBox_->setVisible(rc::bench::is_dualfocus_format(fmt.toStdString()));
    root_ = root;
    cases_ = std::move(report.cases);
    results_.assign(cases_.size(), std::nullopt);
    errors_.assign(cases_.size(), QString());
    openRow_ = -1;
    loadedRow_ = -1;
    loadedImage_ = QImage();
    rootLabel_->setText(QStringLiteral("%1 · %2 · %3 cases")
                            .arg(fmt.toUpper(), QFileInfo(root).fileName())
                            .arg(cases_.size()));
    rootLabel_->setToolTip(root);
    setMessage(report.skipped.empty() ? QString() : qs(report.summary()));
    progress_->setRange(0, static_cast<int>(cases_.size()));
    progress_->setValue(0);
    refreshTable();
    refreshScore();
    if (table_->rowCount() > 0) table_->setCurrentCell(0, 0);
    return true;
}

bool BenchmarkDock::rowVisible(int row) const {
    const auto& r = results_[row];
    if (filter_ == 1 && !(r && rc::bench::case_correct(*r))) return false;
    if (filter_ == 2 && !(r && !rc::bench::case_correct(*r))) return false;
    if (filter_ == 3 && r) return false;
    const QString text = search_->text().trimmed();
    if (text.isEmpty()) return true;
    const auto& c = cases_[row];
    return qs(c.id).contains(text, Qt::CaseInsensitive) ||
           qs(c.task).contains(text, Qt::CaseInsensitive) ||
           qs(c.question).contains(text, Qt::CaseInsensitive);
}

int BenchmarkDock::visibleCount() const {
    return table_->rowCount();
}

void BenchmarkDock::setFilter(int filter) {
    filter_ = filter;
    if (filterBox_->currentIndex() != filter) filterBox_->setCurrentIndex(filter);
    refreshTable();
}

void BenchmarkDock::refreshTable() {
    const QSignalBlocker block(table_);
    table_->setRowCount(0);
    for (int row = 0; row < caseCount(); ++row) {
        if (!rowVisible(row)) continue;
        const int at = table_->rowCount();
        table_->insertRow(at);
        auto* id = new QTableWidgetItem(qs(cases_[row].id));
        id->setData(Qt::UserRole, row);
        id->setToolTip(qs(cases_[row].source));
        table_->setItem(at, ColId, id);
        auto* question = new QTableWidgetItem(qs(cases_[row].question).simplified());
        question->setToolTip(qs(cases_[row].question));
        table_->setItem(at, ColQuestion, question);
        table_->setItem(at, ColStatus, new QTableWidgetItem);
        table_->setItem(at, ColPrediction, new QTableWidgetItem);
        refreshRow(row);
        if (row == openRow_) table_->setCurrentCell(at, 0);
    }
}

void BenchmarkDock::refreshRow(int row) {
    for (int at = 0; at < table_->rowCount(); ++at) {
        if (table_->item(at, ColId)->data(Qt::UserRole).toInt() != row) continue;
        const auto& r = results_[row];
        QString status = tr("not run");
        QColor colour = palette().color(QPalette::PlaceholderText);
        if (row == running_) {
            status = tr("running…");
        } else if (!errors_[row].isEmpty()) {
            status = tr("error");
            colour = QColor(200, 120, 0);
        } else if (r) {
            const bool ok = rc::bench::case_correct(*r);
            status = ok ? tr("right") : tr("wrong");
            colour = ok ? QColor(20, 140, 60) : QColor(200, 40, 40);
        }
        table_->item(at, ColStatus)->setText(status);
        table_->item(at, ColStatus)->setForeground(colour);
        table_->item(at, ColPrediction)->setText(r ? qs(r->prediction).simplified() : errors_[row]);
        return;
    }
}

int BenchmarkDock::currentRow() const {
    const int at = table_->currentRow();
    if (at < 0) return openRow_;
    return table_->item(at, ColId)->data(Qt::UserRole).toInt();
}

BenchCaseView BenchmarkDock::viewFor(int row) const {
    const auto& c = cases_[row];
    BenchCaseView v;
    v.title = QStringLiteral("%1 (%2)").arg(qs(c.id), qs(c.source));
    v.question = qs(rc::bench::case_prompt(c));
    v.truth = truthText(c);
    if (c.has_box) v.truthBoxes << QRectF(QPointF(c.box.x0, c.box.y0), QPointF(c.box.x1, c.box.y1));
    if (const auto& r = results_[row]) {
        v.hasResult = true;
        v.prediction = qs(r->prediction);
        v.correct = rc::bench::case_correct(*r);
        if (r->has_pred_box)
            v.predictedBoxes << QRectF(QPointF(r->pred_box.x0, r->pred_box.y0),
                                       QPointF(r->pred_box.x1, r->pred_box.y1));
    } else if (!errors_[row].isEmpty()) {
        v.prediction = errors_[row];
    }
    return v;
}

void BenchmarkDock::openCase(int row) {
    if (row < 0 || row >= caseCount()) return;
    openRow_ = row;
    for (int at = 0; at < table_->rowCount(); ++at)
        if (table_->item(at, ColId)->data(Qt::UserRole).toInt() == row &&
            table_->currentRow() != at) {
            const QSignalBlocker block(table_);
            table_->setCurrentCell(at, 0);
        }
    const BenchCaseView v = viewFor(row);  // without its image: that is read on a pool thread
    QString html =
        QStringLiteral("<b>%1</b><br>%2<br><i>%3</i> %4")
            .arg(v.title.toHtmlEscaped(), v.question.toHtmlEscaped().replace('\n', "<br>"),
                 tr("Ground truth:"), v.truth.toHtmlEscaped());
    if (v.hasResult || !v.prediction.isEmpty())
        html +=
            QStringLiteral("<br><i>%1</i> %2").arg(tr("Prediction:"), v.prediction.toHtmlEscaped());
    if (const auto& r = results_[size_t(row)]; r && r->dual_focus)
        html += QStringLiteral("<br><i>%1</i> %2").arg(
            tr("DualFocus:"),
            tr("macro “%1”, micro “%2”; %3")
                .arg(qs(r->macro_answer).toHtmlEscaped(), qs(r->micro_answer).toHtmlEscaped(),
                     qs(r->decided_by).toHtmlEscaped()));
    detail_->setText(html);
    auto show = [this, v, html, row](const QImage& image) {
        loadedRow_ = row;
        loadedImage_ = image;
        BenchCaseView shown = v;
        shown.image = image;
        if (image.isNull())
            detail_->setText(html + QStringLiteral("<br><font color=#c00>%1</font>")
                                        .arg(tr("The image cannot be read.")));
        emit caseOpened(shown);
    };
    const int generation = ++caseLoad_;
    if (row == loadedRow_) return show(loadedImage_);  // read already: a run re-opens it
    emit caseLoading(v.title);
    runInBackground(
        this, [paths = cases_[row].images] { return loadCaseView(paths); },
        [this, show, generation](const QImage& image) {
            if (generation == caseLoad_) show(image);  // else another case or image was opened
        });
}

void BenchmarkDock::dropPendingCase() {
    ++caseLoad_;
}

void BenchmarkDock::runCase(int row) {
    if (row < 0 || row >= caseCount()) return;
    cancel();
    queue_ = {row};
    queueTotal_ = 1;
    startNext();
}

void BenchmarkDock::runAll() {
    cancel();
    queue_.clear();
    for (int row = 0; row < caseCount(); ++row)
        if (!results_[row]) queue_.push_back(row);  // finished cases keep their results
    if (queue_.empty())
        for (int row = 0; row < caseCount(); ++row) queue_.push_back(row);
    queueTotal_ = static_cast<int>(queue_.size());
    startNext();
}

void BenchmarkDock::cancel() {
    queue_.clear();
    ++runLoad_;  // a case whose images are still being read is not asked
    if (running_ >= 0) {
        const int row = running_;
        running_ = -1;
        if (requestId_ != 0) inference_->stop();
        refreshRow(row);
        setMessage(tr("Cancelled."));
        emit runFinished();
    }
    runCaseButton_->setEnabled(true);
    runAllButton_->setEnabled(true);
}

void BenchmarkDock::startNext() {
    if (queue_.empty()) {
        running_ = -1;
        runCaseButton_->setEnabled(true);
        runAllButton_->setEnabled(true);
        emit runFinished();
        return;
    }
    const int row = queue_.front();
    queue_.erase(queue_.begin());
    running_ = row;
    requestId_ = 0;  // asked once the images are read
    errors_[row].clear();
    runCaseButton_->setEnabled(false);
    runAllButton_->setEnabled(false);
    progress_->setRange(0, queueTotal_);
    progress_->setValue(queueTotal_ - static_cast<int>(queue_.size()) - 1);
    refreshRow(row);
    const int generation = ++runLoad_;
    // A model that reads region tokens (CoLVA) also gets the MMVM case's raw frames
    // (FRAME0x_ORI), which its region tokens read.
    const bool originals = cases_[row].format == "mmvm" && inference_->model().regionTokens;
    runInBackground(
        this,
        [paths = cases_[row].images, raw = originals ? cases_[row].original_images
                                                      : std::vector<std::string>{}] {
            CaseImages images = loadCaseImages(paths);
            if (!raw.empty() && images.error.isEmpty()) {
                CaseImages o = loadCaseImages(raw);
                if (o.error.isEmpty()) images.originals = QList<QImage>{o.first} + o.extra;
            }
            return images;
        },
        [this, row, generation](const CaseImages& images) {
            if (generation == runLoad_) ask(row, images);  // else cancelled meanwhile
        });
}

void BenchmarkDock::ask(int row, const CaseImages& images) {
    if (!images.error.isEmpty()) {
        running_ = -1;
        errors_[row] = images.error;
        refreshRow(row);
        progress_->setValue(queueTotal_ - static_cast<int>(queue_.size()));
        startNext();
        return;
    }
    const auto& c = cases_[row];
    AskRequest req;
    req.question = qs(rc::bench::case_prompt(c));
    req.newConversation = true;
    req.maxNewTokens = 64;
    if (rc::bench::is_dualfocus_format(c.format) && dualFocusBox_->isChecked()) {
        req.dualFocus = true;
        req.dualFocusQuestion =
            std::make_shared<const rc::DualFocusQuestion>(rc::bench::dualfocus_question(c));
        req.maxNewTokens = 128;  // DualFocus' scripts
    }
    req.subject = qs(c.question);
    req.image = images.first;
    req.extraImages = images.extra;
    req.imageKey = --nextImageKey_;
    if (c.format == "mmvm" && inference_->model().regionTokens) {
        // CoLVA: MMVMEvalKit's prompt, one region token per object read off the raw frames
        // (the drawn ones when the case has none), the kit's 1024-token greedy answer.
        std::vector<cv::Mat> shown = {toBgrMat(images.first)}, raw;
        for (const QImage& e : images.extra) shown.push_back(toBgrMat(e));
        for (const QImage& o : images.originals) raw.push_back(toBgrMat(o));
        if (raw.size() != shown.size()) raw = shown;
        try {
            req.prepared = std::make_shared<const rc::ChatRequest>(
                rc::bench::mmvm_region_token_request(c, shown, raw));
        } catch (const std::exception& e) {
            running_ = -1;
            errors_[row] = qs(e.what());
            refreshRow(row);
            startNext();
            return;
        }
        req.maxNewTokens = 1024;
    }
    requestId_ = inference_->ask(req);
}

void BenchmarkDock::onAnswered(const AnswerResult& result) {
    if (running_ < 0 || requestId_ == 0 || inference_->currentId() != requestId_) return;
    const int row = running_;
    running_ = -1;
    if (result.stopped) {  // Stop in the window, or a chat question took over
        queue_.clear();
        refreshRow(row);
        setMessage(tr("Stopped."));
        startNext();
        return;
    }
    rc::bench::CaseResult r;
    r.bench_case = cases_[row];
    r.prediction = result.text.toStdString();
    if (result.focus.valid) {
        r.dual_focus = true;
        r.macro_answer = result.focus.macroAnswer.toStdString();
        r.micro_answer = result.focus.microAnswer.toStdString();
        r.decided_by = result.focus.decidedBy.toStdString();
    }
    if (!result.boxes.isEmpty()) {
        const QRectF b = result.boxes.front();
        r.has_pred_box = true;
        r.pred_box = rc::Box{b.left(), b.top(), b.right(), b.bottom()};
    }
    results_[row] = std::move(r);
    refreshRow(row);
    refreshScore();
    progress_->setValue(queueTotal_ - static_cast<int>(queue_.size()));
    if (row == openRow_) openCase(row);
    startNext();
}

void BenchmarkDock::onFailed(const QString& message) {
    if (running_ < 0 || requestId_ == 0 || inference_->currentId() != requestId_) return;
    const int row = running_;
    running_ = -1;
    errors_[row] = message;
    refreshRow(row);
    startNext();
}

int BenchmarkDock::resultCount() const {
    int n = 0;
    for (const auto& r : results_) n += r.has_value();
    return n;
}

QString BenchmarkDock::scoreText() const {
    std::vector<rc::bench::CaseResult> done;
    for (const auto& r : results_)
        if (r) done.push_back(*r);
    if (done.empty()) return tr("No results yet.");
    QString head = tr("%1 of %2 cases run. ").arg(done.size()).arg(cases_.size());
    if (rc::bench::is_dualfocus_format(format_.toStdString()))
        return head + qs(rc::bench::dualfocus_score_line(format_.toStdString(), done));
    if (format_ == "mme") {
        const auto s = rc::bench::score_mme(done);
        QStringList parts;
        for (const auto& t : s.tasks)
            parts << QStringLiteral("%1: acc %2, acc+ %3, score %4")
                         .arg(qs(t.task))
                         .arg(100 * t.acc, 0, 'f', 1)
                         .arg(100 * t.acc_plus, 0, 'f', 1)
                         .arg(t.score, 0, 'f', 1);
        return head + parts.join(QStringLiteral("; ")) +
               tr(". Perception %1, cognition %2.")
                   .arg(s.perception, 0, 'f', 1)
                   .arg(s.cognition, 0, 'f', 1);
    }
    if (format_ == "mmvm") {
        const auto s = rc::bench::score_mmvm(done);
        QStringList parts;
        for (const auto& [cue, ct] : s.per_cue)
            if (ct.second > 0)
                parts << QStringLiteral("%1 %2/%3")
                             .arg(qs(rc::bench::mmvm_cue_name(cue)))
                             .arg(ct.first)
                             .arg(ct.second);
        return head +
               tr("Overall %1% (%2/%3). ").arg(100 * s.overall, 0, 'f', 1).arg(s.correct).arg(s.n) +
               parts.join(QStringLiteral(", "));
    }
    const auto s = rc::bench::score_grounding(done);
    return head + tr("Acc@0.5 %1% (%2/%3), mean IoU %4.")
                      .arg(100 * s.acc_at_05, 0, 'f', 1)
                      .arg(s.hits)
                      .arg(s.n)
                      .arg(s.mean_iou, 0, 'f', 3);
}

void BenchmarkDock::refreshScore() {
    score_->setText(scoreText());
}

void BenchmarkDock::setMessage(const QString& m) {
    message_ = m;
    if (!m.isEmpty())
        detail_->setText(QStringLiteral("<font color=#b60>%1</font>").arg(m.toHtmlEscaped()));
}

bool BenchmarkDock::exportCsv(const QString& path) const {
    auto field = [](QString s) {
        s.replace('"', QStringLiteral("\"\""));
        return '"' + s + '"';
    };
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Text)) return false;
    QString out = QStringLiteral("id,task,source,question,answer,prediction,status,pred_box\n");
    for (int row = 0; row < caseCount(); ++row) {
        const auto& c = cases_[row];
        const auto& r = results_[row];
        QString box;
        if (r && r->has_pred_box)
            box = QStringLiteral("%1 %2 %3 %4")
                      .arg(r->pred_box.x0)
                      .arg(r->pred_box.y0)
                      .arg(r->pred_box.x1)
                      .arg(r->pred_box.y1);
        const QString status = !errors_[row].isEmpty()       ? QStringLiteral("error")
                               : !r                          ? QStringLiteral("not run")
                               : rc::bench::case_correct(*r) ? QStringLiteral("right")
                                                             : QStringLiteral("wrong");
        out += QStringList{field(qs(c.id)),
                           field(qs(c.task)),
                           field(qs(c.source)),
                           field(qs(c.question)),
                           field(truthText(c)),
                           field(r ? qs(r->prediction) : errors_[row]),
                           status,
                           box}
                   .join(',') +
               '\n';
    }
    f.write(out.toUtf8());
    return f.commit();
}

bool BenchmarkDock::exportJson(const QString& path) const {
    QJsonArray rows;
    for (int row = 0; row < caseCount(); ++row) {
        const auto& c = cases_[row];
        const auto& r = results_[row];
        QJsonObject o{{"id", qs(c.id)},
                      {"task", qs(c.task)},
                      {"source", qs(c.source)},
                      {"question", qs(c.question)},
                      {"answer", truthText(c)}};
        if (r) {
            o["prediction"] = qs(r->prediction);
            o["correct"] = rc::bench::case_correct(*r);
            if (r->dual_focus)
                o["dual_focus"] = QJsonObject{{"macro", qs(r->macro_answer)},
                                              {"micro", qs(r->micro_answer)},
                                              {"decided_by", qs(r->decided_by)}};
            if (r->has_pred_box)
                o["pred_box"] =
                    QJsonArray{r->pred_box.x0, r->pred_box.y0, r->pred_box.x1, r->pred_box.y1};
        }
        if (!errors_[row].isEmpty()) o["error"] = errors_[row];
        rows.append(o);
    }
    const QJsonObject doc{
        {"format", format_}, {"root", root_}, {"score", scoreText()}, {"cases", rows}};
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return false;
    f.write(QJsonDocument(doc).toJson());
    return f.commit();
}

void BenchmarkDock::exportAs() {
    QString filter;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export benchmark results"),
                                                      QStringLiteral("results.csv"),
                                                      tr("CSV (*.csv);;JSON (*.json)"), &filter);
    if (path.isEmpty()) return;
    const bool ok = path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive) ? exportJson(path)
                                                                               : exportCsv(path);
    setMessage(ok ? tr("Results written to %1").arg(path) : tr("Cannot write %1").arg(path));
}

}  // namespace rcui
