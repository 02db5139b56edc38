// `.regionchat` session files: the JSON parser with its size checks and the masks' PNG decode.
// sessionFromJson never throws; whatever it accepts is written back and read again.
#include <QByteArray>
#include <QString>

#include "document/SessionFile.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const QByteArray json(reinterpret_cast<const char*>(data), int(size));
    rcui::SessionData d;
    QString error;
    if (!rcui::sessionFromJson(json, &d, &error)) {
        if (error.isEmpty()) __builtin_trap();  // every refusal says why
        fuzz::refused(qPrintable(error));
        return 0;
    }
    rcui::SessionData again;
    if (!rcui::sessionFromJson(rcui::sessionToJson(d), &again, &error)) __builtin_trap();
    if (again.regions.size() != d.regions.size() || again.chat.size() != d.chat.size())
        __builtin_trap();
    return 0;
}
