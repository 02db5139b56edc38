// An OpenAI-compatible chat-completions server in front of any ChatBackend (regionchat-cli
// serve puts the local engine behind it): POST /v1/chat/completions (streamed or not),
// GET /v1/models, GET /health. One conversation is answered at a time; a request that
// continues the previous one reuses the KV cache (the backend keeps the shared prefix).
// cpp-httplib underneath; torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "regionchat/backend.h"

namespace rc {

struct ServerOptions {
    std::string host = "127.0.0.1";  ///< loopback unless told otherwise
    int port = 8080;                 ///< 0: any free port (bind() says which)
    std::string api_key;             ///< "" : none asked for
    std::string model_id = "regionchat";
    int max_waiting = 4;             ///< requests waiting beyond the one answered: 429 above
    size_t max_body_bytes = size_t(64) << 20;
    int64_t max_image_pixels = 40'000'000;
    int max_images = 16;
    int max_tokens = 4096;           ///< a request's max_tokens is capped here
    int default_max_tokens = 512;
};

/// Extensions: "regions": [{"id": N, "box": [x0, y0, x1, y1]}] in a request, pixels of the
/// last user message's first image, referred to as "<region N>" in its text (written in the
/// model's region format, as the app writes them); POST /v1/regionchat/score with the same
/// messages plus "answer" (and "one_turn": DualFocus' one human turn) answers {"nll": x}, the
/// mean negative log-likelihood per token, when the model can score ("regionchat":
/// {"answer_scoring": true} in /v1/models).
class ChatServer {
public:
    ChatServer(std::unique_ptr<ChatBackend> backend, ServerOptions options);
    ~ChatServer();
    /// Binds the socket; returns the port. Throws rc::Error when it cannot.
    int bind();
    /// Serves until stop(); call bind() first.
    void run();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rc
