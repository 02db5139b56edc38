// Work off the GUI thread: runInBackground() runs a function on the global thread pool and hands
// its result back to the GUI thread (the pattern of every file read, decode and large scaling in
// ui/; the GUI thread never decodes an image).
#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QtConcurrent/QtConcurrentRun>
#include <type_traits>
#include <utility>

namespace rcui {

/// Runs `work()` on the global thread pool, then `apply(result)` on `context`'s thread; nothing
/// is applied once `context` is gone. Callers tag their requests to drop stale results.
template <typename Work, typename Apply>
void runInBackground(QObject* context, Work work, Apply apply) {
    using Result = std::invoke_result_t<Work>;
    auto* watcher = new QFutureWatcher<Result>(context);
    QObject::connect(watcher, &QFutureWatcher<Result>::finished, context,
                     [watcher, apply = std::move(apply)] {
                         watcher->deleteLater();
                         apply(watcher->result());
                     });
    watcher->setFuture(QtConcurrent::run(std::move(work)));
}

}  // namespace rcui
