// A benchmark case's images, read and decoded off the GUI thread: the picture the window shows
// (MMVM: the query and candidate frames side by side at one height) and the images a run sends.
#pragma once

#include <QImage>
#include <QList>
#include <QString>
#include <string>
#include <vector>

namespace rcui {

/// The images a run sends to the model, or why one cannot be read.
struct CaseImages {
    QImage first;
    QList<QImage> extra;
    QList<QImage> originals;  ///< MMVM's raw frames, when asked for and readable
    QString error;  ///< "" when all were read
};

/// What the window shows for a case with these image files (displayReady()); null when none
/// can be read. Thread-safe (for a pool thread).
QImage loadCaseView(const std::vector<std::string>& paths);

/// Every image of a case, for a run; error names the first that cannot be read. Thread-safe.
CaseImages loadCaseImages(const std::vector<std::string>& paths);

}  // namespace rcui
