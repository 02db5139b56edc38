// Model answers are garbage in: every region format parses any text without throwing, and
// every box it returns lies inside the image.
#include <string>

#include "regionchat/region_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    static const auto names = rc::builtin_region_formats();
    for (const std::string& name : names) {
        auto f = rc::make_builtin_region_format(name);
        if (!f) continue;
        for (const rc::ImageSize s : {rc::ImageSize{640, 480}, rc::ImageSize{1, 3000}}) {
            for (const auto& b : f->parse(text, s))
                if (!(b.box.x0 >= 0 && b.box.y0 >= 0 && b.box.x1 <= s.width && b.box.y1 <= s.height))
                    __builtin_trap();
        }
    }
    return 0;
}
