// The chat-completions request parser of `regionchat-cli serve` (server.cpp): JSON body ->
// history, question (images decoded from data: URLs, regions), generation settings, or a
// BadRequest with its HTTP status and the field at fault. No network code, so tests/fuzz/
// feeds it hostile bodies.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "regionchat/backend.h"
#include "regionchat/server.h"

namespace rc {

// A request the server refuses, with its HTTP status and OpenAI error type.
struct BadRequest {
    int status;
    std::string message, type, param;
};

[[noreturn]] inline void bad_request(const std::string& message, const std::string& param = {}, int status = 400) {
    throw BadRequest{status, message, "invalid_request_error", param};
}

// A parsed request: the history as exchanges, the question, generation settings.
struct ParsedRequest {
    std::vector<std::pair<ChatRequest, std::string>> history;
    ChatRequest question;
    GenerateParams generate;
    bool stream = false, usage = false;
};

/// Parses one POST /v1/chat/completions (or /v1/regionchat/score) body; throws BadRequest.
ParsedRequest parse_chat_request(const std::string& body, const ServerOptions& options);

}  // namespace rc
