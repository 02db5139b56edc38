// `regionchat --crash-safety-writer DIR` (hidden; tests/test_crash_safety.cpp): writes, round
// after round, new versions of every file RegionChat replaces while it runs, each through the
// app's own writer, until it is killed: a session and the autosave recovery file
// (writeSessionFile, as DocumentController's save and autosave), the settings (QSettings, as
// the model manager, recent files and SAM folder), the MME result files and a scores.json
// (rc::bench::write_mme_results, write_file_atomically, as `regionchat-cli bench`) and the
// benchmark dock's JSON export (QSaveFile). Every version is internally consistent (its number
// in every entry), so a reader can tell a whole version from a torn one.
#pragma once

#include <QString>

int runCrashSafetyWriter(const QString& dir);
