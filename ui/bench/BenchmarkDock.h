// The Benchmark dock: open an MME, MMVM, grounding, TextVQA, GQA-MCQ, SEED or MMBench set,
// browse and filter its cases, open one on the canvas with its annotations, run one or all on
// the inference worker (progress, cancel), watch the score update, export the results as CSV
// or JSON.
#pragma once

#include <QCheckBox>
#include <QDockWidget>
#include <QImage>
#include <QList>
#include <QRectF>
#include <optional>
#include <vector>

#include "regionchat/bench.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace rcui {

class InferenceController;
struct AnswerResult;
struct CaseImages;

/// What the window shows for an opened case.
struct BenchCaseView {
    QImage image;        ///< MMVM: query and candidate frames side by side
    QString title;       ///< "color:7 (Data_json/color.txt:7)"
    QString question;    ///< as sent to the model
    QString truth;       ///< ground truth as text
    QString prediction;  ///< "" when not run
    bool hasResult = false;
    bool correct = false;
    QList<QRectF> truthBoxes, predictedBoxes;  ///< image pixels of `image`
};

class BenchmarkDock : public QDockWidget {
    Q_OBJECT

public:
    explicit BenchmarkDock(InferenceController* inference, QWidget* parent = nullptr);

    /// Loads a set; `format` "" guesses from the folder (rc::bench::guess_benchmark_format:
    /// Data_json: MME, MMBench or MMVM .tsv by its columns, DualFocus' benchmarks by their file
    /// names, .jsonl: grounding). False with the message in lastMessage() when nothing loads.
    bool openBenchmark(const QString& root, const QString& format = QString());
    /// Selects case `row` (index into the loaded cases) and reads its image on a pool thread;
    /// caseOpened() follows unless another case is opened first.
    void openCase(int row);
    /// The case image being read is not shown (the window opened something else).
    void dropPendingCase();
    void runCase(int row);
    void runAll();
    void cancel();
    bool exportCsv(const QString& path) const;
    bool exportJson(const QString& path) const;

    int caseCount() const { return static_cast<int>(cases_.size()); }
    int visibleCount() const;
    /// Filter: 0 all, 1 right, 2 wrong, 3 not run.
    void setFilter(int filter);
    bool isRunning() const { return running_ >= 0; }
    int resultCount() const;
    QString scoreText() const;
    QString lastMessage() const { return message_; }
    QString format() const { return format_; }

signals:
    /// A case's image is being read (caseOpened follows).
    void caseLoading(const QString& title);
    /// A case is opened: the window shows its image, question, truth and prediction.
    void caseOpened(const rcui::BenchCaseView& view);
    /// Run all finished or was cancelled.
    void runFinished();

private:
    void onAnswered(const AnswerResult& result);
    void onFailed(const QString& message);
    void refreshTable();
    void refreshRow(int row);
    void refreshScore();
    void setMessage(const QString& m);
    void startNext();
    /// Sends case `row` to the model once its images are read (or records why not).
    void ask(int row, const CaseImages& images);
    BenchCaseView viewFor(int row) const;  ///< all but the image
    int currentRow() const;
    bool rowVisible(int row) const;
    void exportAs();

    InferenceController* inference_;
    QString format_, root_, message_;
    std::vector<rc::bench::BenchCase> cases_;
    std::vector<std::optional<rc::bench::CaseResult>> results_;
    std::vector<QString> errors_;
    std::vector<int> queue_;  ///< rows still to run in this run
    int running_ = -1;        ///< row being read or answered, -1 when idle
    quint64 requestId_ = 0;
    int queueTotal_ = 0;
    int filter_ = 0;
    int openRow_ = -1;
    int loadedRow_ = -1;  ///< the case whose image was read last (a run re-opens it)
    QImage loadedImage_;
    int caseLoad_ = 0;             ///< generation of the case image being read for the window
    int runLoad_ = 0;              ///< generation of the run's case images being read
    qint64 nextImageKey_ = -1000;  ///< every case is a new image for the worker

    QLabel* rootLabel_;
    QComboBox* formatBox_;
    QComboBox* filterBox_;
    QLineEdit* search_;
    QTableWidget* table_;
    QLabel* detail_;
    QLabel* score_;
    QProgressBar* progress_;
    QPushButton *openButton_, *runCaseButton_, *runAllButton_, *cancelButton_, *exportButton_;
    QCheckBox* dualFocusBox_;  ///< DualFocus' four sets: its pipeline, or one answer
};

}  // namespace rcui

Q_DECLARE_METATYPE(rcui::BenchCaseView)
