// A server's byte stream: the SSE reader fed in pieces (the first byte says where to split),
// each event's data parsed as a chat chunk, and the body as an error envelope.
#include <string>
#include <string_view>

#include "regionchat/openai.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t step = 1 + data[0] % 64;
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    rc::SseReader reader;
    reader.max_line_bytes = 1 << 16;
    auto on_event = [](const rc::SseReader::Event& e) {
        (void)rc::parse_chat_chunk(e.data);
        return true;
    };
    for (size_t at = 0; at < body.size(); at += step)
        if (!reader.feed(body.substr(at, step), on_event)) break;
    reader.finish(on_event);
    (void)rc::openai_error_message(std::string(body));
    return 0;
}
