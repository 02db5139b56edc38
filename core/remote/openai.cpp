// Server-sent events and chat.completion.chunk payloads (regionchat/openai.h).
#include "regionchat/openai.h"

#include <nlohmann/json.hpp>

namespace rc {

using nlohmann::json;

bool SseReader::feed(std::string_view bytes, const Handler& on_event) {
    size_t from = 0;  // start of the run of line bytes not yet in partial_
    for (size_t i = 0; i < bytes.size(); ++i) {
        const char c = bytes[i];
        if (c != '\n' && c != '\r') continue;
        partial_.append(bytes.substr(from, i - from));
        from = i + 1;
        // The "\n" of a "\r\n" pair (perhaps the first byte of this read) ends nothing.
        const bool second_half = c == '\n' && after_cr_ && partial_.empty();
        after_cr_ = c == '\r';
        if (second_half) continue;
        const std::string whole = std::move(partial_);
        partial_.clear();
        if (!line(whole, on_event)) return false;
    }
    if (from < bytes.size()) {
        after_cr_ = false;
        partial_.append(bytes.substr(from));
    }
    if (partial_.size() > max_line_bytes) {
        error_ = "a server-sent-events line is longer than " + std::to_string(max_line_bytes >> 20) +
                 " MiB";
        partial_.clear();
        return false;
    }
    return true;
}

bool SseReader::finish(const Handler& on_event) {
    if (!partial_.empty()) {
        const std::string whole = std::move(partial_);
        partial_.clear();
        if (!line(whole, on_event)) return false;
    }
    return dispatch(on_event);
}

bool SseReader::line(std::string_view text, const Handler& on_event) {
    if (text.empty()) return dispatch(on_event);
    if (text.front() == ':') return true;  // comment / keep-alive
    const size_t colon = text.find(':');
    const std::string_view field = text.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
        if (has_data_) pending_.data += '\n';
        pending_.data.append(value);
        has_data_ = true;
        if (pending_.data.size() > max_line_bytes) {
            error_ = "a server-sent event is longer than " + std::to_string(max_line_bytes >> 20) +
                     " MiB";
            return false;
        }
    } else if (field == "event") {
        pending_.event = std::string(value);
    }
    return true;
}

bool SseReader::dispatch(const Handler& on_event) {
    if (!has_data_) {
        pending_ = Event{};
        return true;
    }
    Event e = std::move(pending_);
    pending_ = Event{};
    has_data_ = false;
    return on_event(e);
}

namespace {

std::string message_of(const json& e) {
    if (e.is_string()) return e.get<std::string>();
    if (e.is_object()) {
        const auto m = e.find("message");
        if (m != e.end() && m->is_string()) return m->get<std::string>();
        const auto d = e.find("detail");
        if (d != e.end() && d->is_string()) return d->get<std::string>();
        // Not dump(): a server's nested value would recurse once per level.
        return "an error object without a message (" + std::to_string(e.size()) + " keys)";
    }
    if (e.is_array()) return "an error array of " + std::to_string(e.size());
    return e.dump();
}

int count(const json& usage, const char* key) {
    const auto it = usage.find(key);
    return it != usage.end() && it->is_number_integer() ? it->get<int>() : 0;
}

}  // namespace

ChatChunk parse_chat_chunk(const std::string& data) {
    ChatChunk c;
    size_t a = data.find_first_not_of(" \t\r\n");
    if (a != std::string::npos && data.compare(a, 6, "[DONE]") == 0) {
        c.done = true;
        return c;
    }
    const json j = json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        c.error = "the server sent something that is not a JSON chunk: " + data.substr(0, 200);
        return c;
    }
    if (const auto e = j.find("error"); e != j.end() && !e->is_null()) {
        c.error = message_of(*e);
        return c;
    }
    if (const auto u = j.find("usage"); u != j.end() && u->is_object()) {
        c.has_usage = true;
        c.prompt_tokens = count(*u, "prompt_tokens");
        c.completion_tokens = count(*u, "completion_tokens");
    }
    const auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty()) return c;
    const json& choice = (*choices)[0];
    if (!choice.is_object()) return c;
    for (const char* key : {"delta", "message"}) {
        const auto m = choice.find(key);
        if (m == choice.end() || !m->is_object()) continue;
        const auto content = m->find("content");
        if (content != m->end() && content->is_string()) c.content += content->get<std::string>();
    }
    if (const auto f = choice.find("finish_reason"); f != choice.end() && f->is_string())
        c.finish_reason = f->get<std::string>();
    return c;
}

std::string openai_error_message(const std::string& body) {
    const json j = json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
        if (const auto e = j.find("error"); e != j.end() && !e->is_null()) return message_of(*e);
        if (const auto d = j.find("detail"); d != j.end()) return message_of(*d);
    }
    return body.size() > 300 ? body.substr(0, 300) + "..." : body;
}

}  // namespace rc
