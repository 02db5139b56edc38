// How a controller tells the user something: the window's status bar, its last error and, when
// the window may ask, a message box. MainWindow implements it.
#pragma once

#include <QString>

namespace rcui {

class UserFeedback {
public:
    virtual ~UserFeedback() = default;
    /// Remembered as the last error, shown in the status bar and (when the window is visible
    /// and may ask) in a message box.
    virtual void showError(const QString& title, const QString& message) = 0;
    /// Remembered as the last error only (the chat shows it already).
    virtual void noteError(const QString& message) = 0;
    /// A status-bar message; 0 ms keeps it until the next one.
    virtual void showStatus(const QString& message, int timeoutMs = 0) = 0;
    virtual void clearStatus() = 0;
};

}  // namespace rcui
