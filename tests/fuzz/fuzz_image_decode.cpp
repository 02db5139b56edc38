// The image decode path with its pixel limit (4 Mpx here so that the fuzzer stays fast): no
// decoded image is larger than the limit, and nothing but rc::Error escapes.
#include <string>

#include "regionchat/error.h"
#include "regionchat/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    rc::ImageLoadLimits limits;
    limits.max_pixels = 4'000'000;
    try {
        const cv::Mat m = rc::decode_image(std::string(reinterpret_cast<const char*>(data), size),
                                           "fuzz", limits);
        if (uint64_t(m.cols) * uint64_t(m.rows) > limits.max_pixels) __builtin_trap();
    } catch (const rc::Error&) {
    }
    return 0;
}
