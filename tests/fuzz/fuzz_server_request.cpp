// `regionchat-cli serve`'s request parser: a hostile chat-completions body (messages, data:
// URL images decoded under the pixel limit, regions with boxes, points and polygons filled
// over their image, generation settings). Refusals are BadRequest; anything else is a finding.
#include <string>

#include "fuzz_file.h"
#include "remote/server_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    rc::ServerOptions o;
    o.max_image_pixels = 4'000'000;  // the harness's memory, not the server's default
    try {
        (void)rc::parse_chat_request(std::string(reinterpret_cast<const char*>(data), size), o);
    } catch (const rc::BadRequest& b) {
        fuzz::refused(b.message.c_str());
    }
    return 0;
}
