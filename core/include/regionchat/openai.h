// The OpenAI chat-completions wire format as servers speak it (vLLM, SGLang, llama.cpp,
// Ollama, transformers serve, regionchat-cli serve): a server-sent-events reader that takes the
// stream as it comes off the socket, and the pieces of a chat.completion.chunk RegionChat
// reads. Torch-free and Qt-free; never throws on bad input, it reports it.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace rc {

/// Server-sent events (the WHATWG rules OpenAI-compatible servers follow): lines end in "\n",
/// "\r\n" or "\r", possibly split anywhere across reads; "data:" lines (one leading space
/// dropped) are joined by "\n" into one event, which a blank line ends; ":" lines are comments
/// (keep-alives); "event:" names the event; other fields are ignored.
class SseReader {
public:
    struct Event {
        std::string event;  ///< "" unless an "event:" line named it
        std::string data;
    };
    /// `on_event` returns false to stop reading (feed then returns false too).
    using Handler = std::function<bool(const Event&)>;

    /// Feeds the next bytes. False when the handler asked to stop, or a line grew past
    /// max_line_bytes (a server sending garbage; error() says so).
    bool feed(std::string_view bytes, const Handler& on_event);
    /// The stream ended: an event whose blank line never came is delivered (servers that
    /// close right after their last "data:" line).
    bool finish(const Handler& on_event);
    const std::string& error() const { return error_; }
    size_t max_line_bytes = size_t(64) << 20;

private:
    bool line(std::string_view text, const Handler& on_event);
    bool dispatch(const Handler& on_event);
    std::string partial_;  // a line not yet ended
    bool after_cr_ = false;
    Event pending_;
    bool has_data_ = false;
    std::string error_;
};

/// What one "data:" payload of a chat-completions stream says.
struct ChatChunk {
    bool done = false;          ///< "data: [DONE]"
    std::string content;        ///< choices[0].delta.content (or message.content)
    std::string finish_reason;  ///< "stop", "length", ... ("" while streaming)
    bool has_usage = false;     ///< a usage object (often with empty choices)
    int prompt_tokens = 0, completion_tokens = 0;
    std::string error;  ///< an error envelope's message, or why the payload is not a chunk
};
/// Parses one payload (a streamed chunk or a whole non-streamed response).
ChatChunk parse_chat_chunk(const std::string& data);

/// The message of an OpenAI error envelope ({"error": {"message": ...}} or {"error": "..."},
/// or {"detail": ...} as some servers send), else `body` cut to 300 bytes.
std::string openai_error_message(const std::string& body);

}  // namespace rc
