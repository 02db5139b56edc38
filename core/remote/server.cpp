// ChatServer (regionchat/server.h): OpenAI's chat-completions API over cpp-httplib in front of
// a ChatBackend. Every bad request gets a 4xx JSON error in OpenAI's envelope and the server
// keeps serving; the model answers one conversation at a time behind a bounded wait.
#include "regionchat/server.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"
#include "regionchat/remote.h"
#include "remote/server_request.h"

namespace rc {

using nlohmann::json;

namespace {

json envelope(const std::string& message, const std::string& type, const std::string& param = {},
              const std::string& code = {}) {
    json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
    if (!param.empty()) e["param"] = param;
    if (!code.empty()) e["code"] = code;
    return {{"error", e}};
}

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::string& type = "invalid_request_error", const std::string& param = {}) {
    res.status = status;
    res.set_content(envelope(message, type, param).dump(), "application/json");
}

int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

struct ChatServer::Impl {
    std::unique_ptr<ChatBackend> backend;
    ServerOptions o;
    httplib::Server server;
    std::mutex model;             // one conversation at a time
    std::atomic<int> waiting{0};  // requests holding or waiting for `model`
    std::atomic<uint64_t> next_id{1};
    int port = 0;

    // A place among the requests being answered or waiting (1 + max_waiting of them), given
    // back when the last copy goes; null, with HTTP 429 sent, when there is none.
    std::shared_ptr<int> admit(httplib::Response& res) {
        if (waiting.fetch_add(1) >= 1 + o.max_waiting) {
            waiting.fetch_sub(1);
            send_error(res, 429, "the server is busy; try again", "rate_limit_error");
            return nullptr;
        }
        return std::shared_ptr<int>(new int(0), [this](int* p) {
            delete p;
            waiting.fetch_sub(1);
        });
    }

    bool authorised(const httplib::Request& req, httplib::Response& res) {
        if (o.api_key.empty()) return true;
        if (req.get_header_value("Authorization") == "Bearer " + o.api_key) return true;
        res.status = 401;
        res.set_content(envelope("invalid or missing API key (Authorization: Bearer ...)",
                                 "invalid_request_error", {}, "invalid_api_key")
                            .dump(),
                        "application/json");
        return false;
    }

    // Puts the request's history into the conversation (the KV cache keeps what it shares
    // with the previous request) and answers the question, streaming through `emit`.
    Reply answer(const ParsedRequest& p, const std::function<bool(const std::string&)>& emit) {
        backend->truncate(0);
        for (const auto& [question, reply] : p.history) backend->add_exchange(question, reply);
        GenerateParams g = p.generate;
        bool gone = false;
        g.on_token = [&](const std::string& piece) {
            if (!gone && emit) gone = !emit(piece);
        };
        g.should_abort = [&] { return gone; };
        return backend->ask(p.question, g);
    }

    // RegionChat's extension: the mean NLL of "answer" after the messages (one_turn: the last
    // user message is DualFocus' one human turn, scored as LLaVA's preprocess labels it).
    void score(const httplib::Request& req, httplib::Response& res) {
        if (!authorised(req, res)) return;
        ParsedRequest p;
        std::string answer;
        bool one_turn = false;
        try {
            p = parse_chat_request(req.body, o);
            const json body = json::parse(req.body, nullptr, false);
            const auto a = body.find("answer");
            if (a == body.end() || !a->is_string()) bad_request("answer must be a string", "answer");
            answer = a->get<std::string>();
            if (const auto ot = body.find("one_turn"); ot != body.end() && !ot->is_null()) {
                if (!ot->is_boolean()) bad_request("one_turn must be true or false", "one_turn");
                one_turn = ot->get<bool>();
            }
            if (one_turn && !p.history.empty())
                bad_request("one_turn scores one user message: no history", "messages");
        } catch (const BadRequest& b) {
            send_error(res, b.status, b.message, b.type, b.param);
            return;
        }
        if (!backend->info().capabilities.answer_scoring) {
            send_error(res, 400, "this model cannot score answers");
            return;
        }
        const auto slot = admit(res);
        if (!slot) return;
        std::lock_guard<std::mutex> lock(model);
        try {
            backend->truncate(0);
            for (const auto& [question, reply] : p.history) backend->add_exchange(question, reply);
            const double nll =
                one_turn ? backend->score_one_turn(p.question.text, p.question.images, answer)
                         : backend->score(p.question, answer);
            res.set_content(json{{"object", "regionchat.score"}, {"nll", nll}}.dump(),
                            "application/json");
        } catch (const Error& e) {
            send_error(res, 400, e.what());
        } catch (const std::exception& e) {
            send_error(res, 500, e.what(), "server_error");
        }
    }

    json chunk(const std::string& id, int64_t created, const json& delta, const json& finish) {
        return {{"id", id},
                {"object", "chat.completion.chunk"},
                {"created", created},
                {"model", o.model_id},
                {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    }

    void completions(const httplib::Request& req, httplib::Response& res) {
        if (!authorised(req, res)) return;
        ParsedRequest p;
        try {
            p = parse_chat_request(req.body, o);
        } catch (const BadRequest& b) {
            send_error(res, b.status, b.message, b.type, b.param);
            return;
        }
        const auto slot = admit(res);
        if (!slot) return;
        const std::string id = "chatcmpl-" + std::to_string(next_id++);
        const int64_t created = now_s();
        if (!p.stream) {
            std::lock_guard<std::mutex> lock(model);
            try {
                const Reply r = answer(p, nullptr);
                json out = {{"id", id},
                            {"object", "chat.completion"},
                            {"created", created},
                            {"model", o.model_id},
                            {"choices", json::array({{{"index", 0},
                                                      {"message", {{"role", "assistant"}, {"content", r.text}}},
                                                      {"finish_reason", r.stop_reason == StopReason::Length ? "length" : "stop"}}})},
                            {"usage", {{"prompt_tokens", r.timings.prompt_tokens},
                                       {"completion_tokens", r.timings.generated_tokens},
                                       {"total_tokens", r.timings.prompt_tokens + r.timings.generated_tokens}}}};
                res.set_content(out.dump(), "application/json");
            } catch (const Error& e) {
                send_error(res, 400, e.what());
            } catch (const std::exception& e) {
                send_error(res, 500, e.what(), "server_error");
            }
            return;
        }
        auto shared = std::make_shared<ParsedRequest>(std::move(p));
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider(
            "text/event-stream", [this, shared, slot, id, created](size_t, httplib::DataSink& sink) {
                auto write = [&](const json& j) {
                    const std::string line = "data: " + j.dump() + "\n\n";
                    return sink.is_writable() && sink.write(line.data(), line.size());
                };
                std::lock_guard<std::mutex> lock(model);
                if (!write(chunk(id, created, {{"role", "assistant"}, {"content", ""}}, nullptr)))
                    return false;
                try {
                    const Reply r = answer(*shared, [&](const std::string& piece) {
                        return write(chunk(id, created, {{"content", piece}}, nullptr));
                    });
                    if (r.stop_reason == StopReason::Abort) return false;  // the client left
                    write(chunk(id, created, json::object(),
                                r.stop_reason == StopReason::Length ? "length" : "stop"));
                    if (shared->usage) {
                        json u = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created},
                                  {"model", o.model_id}, {"choices", json::array()},
                                  {"usage", {{"prompt_tokens", r.timings.prompt_tokens},
                                             {"completion_tokens", r.timings.generated_tokens},
                                             {"total_tokens", r.timings.prompt_tokens + r.timings.generated_tokens}}}};
                        write(u);
                    }
                    const std::string done = "data: [DONE]\n\n";
                    sink.write(done.data(), done.size());
                } catch (const std::exception& e) {
                    // Headers are out: the error goes in the stream, as vLLM sends it.
                    write(envelope(e.what(), dynamic_cast<const Error*>(&e) ? "invalid_request_error" : "server_error"));
                }
                sink.done();
                return true;
            });
    }
};

ChatServer::ChatServer(std::unique_ptr<ChatBackend> backend, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.backend = std::move(backend);
    s.o = std::move(options);
    s.server.set_payload_max_length(s.o.max_body_bytes);
    s.server.Post("/v1/chat/completions",
                  [&s](const httplib::Request& req, httplib::Response& res) { s.completions(req, res); });
    s.server.Post("/v1/regionchat/score",
                  [&s](const httplib::Request& req, httplib::Response& res) { s.score(req, res); });
    s.server.Get("/v1/models", [&s](const httplib::Request& req, httplib::Response& res) {
        if (!s.authorised(req, res)) return;
        const bool scoring = s.backend->info().capabilities.answer_scoring;
        json m = {{"object", "list"},
                  {"data", json::array({{{"id", s.o.model_id},
                                         {"object", "model"},
                                         {"created", now_s()},
                                         {"owned_by", "regionchat"},
                                         {"regionchat", {{"answer_scoring", scoring}}}}})}};
        res.set_content(m.dump(), "application/json");
    });
    s.server.Get("/health", [&s](const httplib::Request&, httplib::Response& res) {
        res.set_content(json{{"status", "ok"}, {"model", s.o.model_id}}.dump(), "application/json");
    });
    // Whatever httplib itself refuses (unknown path, body too large) in OpenAI's envelope.
    s.server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        const std::string message = res.status == 404 ? "no route " + req.method + " " + req.path
                                    : res.status == 413 ? "the request body is too large"
                                                        : "HTTP " + std::to_string(res.status);
        res.set_content(envelope(message, "invalid_request_error").dump(), "application/json");
    });
    s.server.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "internal error";
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            send_error(res, 500, what, "server_error");
        });
}

ChatServer::~ChatServer() {
    stop();
}

int ChatServer::bind() {
    Impl& s = *impl_;
    if (s.o.port == 0) {
        s.port = s.server.bind_to_any_port(s.o.host);
        if (s.port <= 0) throw Error("cannot listen on " + s.o.host);
    } else {
        if (!s.server.bind_to_port(s.o.host, s.o.port))
            throw Error("cannot listen on " + s.o.host + ":" + std::to_string(s.o.port) +
                        " (in use, or not an address of this machine)");
        s.port = s.o.port;
    }
    return s.port;
}

void ChatServer::run() {
    impl_->server.listen_after_bind();
}

void ChatServer::stop() {
    if (impl_) impl_->server.stop();
}

}  // namespace rc
