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

namespace rc {

using nlohmann::json;

namespace {

// A request the server refuses, with its HTTP status and OpenAI error type.
struct BadRequest {
    int status;
    std::string message, type, param;
};

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

[[noreturn]] void bad(const std::string& message, const std::string& param = {}, int status = 400) {
    throw BadRequest{status, message, "invalid_request_error", param};
}

// One chat turn of a request: text with "<image>" markers where its images go.
struct Message {
    std::string role;
    ChatRequest request;
};

Message read_message(const json& m, size_t index, const ServerOptions& o, int* images_seen) {
    const std::string at = "messages[" + std::to_string(index) + "]";
    if (!m.is_object()) bad(at + " must be an object", at);
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string()) bad(at + ".role must be a string", at + ".role");
    Message out;
    out.role = role->get<std::string>();
    if (out.role != "user" && out.role != "assistant" && out.role != "system")
        bad(at + ".role '" + out.role + "' is not user, assistant or system", at + ".role");
    const auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
        if (out.role == "assistant") return out;  // an empty earlier answer
        bad(at + ".content is missing", at + ".content");
    }
    if (content->is_string()) {
        out.request.text = content->get<std::string>();
        return out;
    }
    if (!content->is_array()) bad(at + ".content must be a string or an array of parts", at);
    for (size_t k = 0; k < content->size(); ++k) {
        const json& part = (*content)[k];
        const std::string where = at + ".content[" + std::to_string(k) + "]";
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
            bad(where + " must be an object with a type", where);
        const std::string type = part["type"];
        if (type == "text") {
            if (!part.contains("text") || !part["text"].is_string())
                bad(where + ".text must be a string", where);
            out.request.text += part["text"].get<std::string>();
        } else if (type == "image_url") {
            if (out.role != "user") bad(where + ": only user messages may carry images", where);
            const json* url = nullptr;
            if (part.contains("image_url")) {
                const json& iu = part["image_url"];
                if (iu.is_string()) url = &iu;
                else if (iu.is_object() && iu.contains("url") && iu["url"].is_string()) url = &iu["url"];
            }
            if (!url) bad(where + ".image_url.url must be a string", where);
            if (++*images_seen > o.max_images)
                bad("more than " + std::to_string(o.max_images) + " images in one request", where);
            const std::string u = url->get<std::string>();
            if (u.rfind("data:", 0) != 0)
                bad(where + ": only data: URLs are accepted (this server fetches nothing)", where);
            try {
                out.request.images.push_back(decode_data_url(u, o.max_image_pixels));
            } catch (const Error& e) {
                bad(where + ": " + e.what(), where);
            }
            out.request.text += "<image>\n";
        } else {
            bad(where + ".type '" + type + "' is not supported (text, image_url)", where);
        }
    }
    return out;
}

// `polygons` gets each region's polygon (empty when it has none), filled once the images are
// known.
std::vector<RegionInput> read_regions(const json& body, std::vector<std::vector<Point>>* polygons) {
    std::vector<RegionInput> regions;
    const auto it = body.find("regions");
    if (it == body.end() || it->is_null()) return regions;
    if (!it->is_array()) bad("regions must be an array", "regions");
    for (size_t k = 0; k < it->size(); ++k) {
        const json& r = (*it)[k];
        const std::string where = "regions[" + std::to_string(k) + "]";
        const bool has_points = r.is_object() && r.contains("points");
        const bool has_polygon = r.is_object() && r.contains("polygon") && !r["polygon"].is_null();
        if (!r.is_object() || !r.contains("id") || !r["id"].is_number_integer() ||
            (!has_points && !has_polygon &&
             (!r.contains("box") || !r["box"].is_array() || r["box"].size() != 4)))
            bad(where + " must be {\"id\": N, \"box\": [x0, y0, x1, y1]}, {\"id\": N, "
                        "\"points\": [[x, y], ...], \"scribble\": false} or {\"id\": N, "
                        "\"polygon\": [[x, y], ...]} (each with an optional \"image\": K)",
                where);
        RegionInput in;
        in.id = r["id"].get<int>();
        std::vector<Point> polygon;
        // RegionChat's extension for models that read regions on several images (CoLVA):
        // which image of the last user message the region is on (0-based), and a polygon
        // [[x, y], ...] filled as its mask.
        if (const auto im = r.find("image"); im != r.end() && !im->is_null()) {
            if (!im->is_number_integer() || im->get<int64_t>() < 0 || im->get<int64_t>() > 1000)
                bad(where + ".image must be the index of an image of the last user message", where);
            in.image = int(im->get<int64_t>());
        }
        if (const auto pg = r.find("polygon"); pg != r.end() && !pg->is_null()) {
            if (!pg->is_array() || pg->size() < 3 || pg->size() > 10000)
                bad(where + ".polygon must be 3 to 10000 [x, y] pairs", where);
            for (const json& p : *pg) {
                if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number() ||
                    !std::isfinite(p[0].get<double>()) || !std::isfinite(p[1].get<double>()))
                    bad(where + ".polygon must hold [x, y] pairs of finite numbers", where);
                polygon.push_back({p[0].get<double>(), p[1].get<double>()});
            }
        }
        polygons->push_back(polygon);
        if (has_points) {  // clicked points in order, or a scribble's stroke (RegionVLM)
            const json& pts = r["points"];
            if (!pts.is_array() || pts.empty() || pts.size() > 10000)
                bad(where + ".points must be 1 to 10000 [x, y] pairs", where);
            for (const json& p : pts) {
                if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number() ||
                    !std::isfinite(p[0].get<double>()) || !std::isfinite(p[1].get<double>()))
                    bad(where + ".points must hold [x, y] pairs of finite numbers", where);
                in.points.push_back({p[0].get<double>(), p[1].get<double>()});
            }
            const auto sc = r.find("scribble");
            if (sc != r.end() && !sc->is_boolean()) bad(where + ".scribble must be true or false", where);
            in.scribble = sc != r.end() && sc->get<bool>();
            Box b{in.points[0].x, in.points[0].y, in.points[0].x + 1, in.points[0].y + 1};
            for (const Point& p : in.points) {
                b.x0 = std::min(b.x0, p.x);
                b.y0 = std::min(b.y0, p.y);
                b.x1 = std::max(b.x1, p.x + 1);
                b.y1 = std::max(b.y1, p.y + 1);
            }
            in.box = b;
            regions.push_back(in);
            continue;
        }
        if (!polygon.empty() && !r.contains("box")) {  // the box comes from the filled polygon
            regions.push_back(in);
            continue;
        }
        double v[4];
        for (int i = 0; i < 4; ++i) {
            if (!r["box"][i].is_number()) bad(where + ".box must hold four numbers", where);
            v[i] = r["box"][i].get<double>();
            if (!std::isfinite(v[i])) bad(where + ".box must hold finite numbers", where);
        }
        in.box = Box{v[0], v[1], v[2], v[3]}.normalized();
        regions.push_back(in);
    }
    return regions;
}

int read_int(const json& body, const char* key, int fallback, int lo, int hi) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) bad(std::string(key) + " must be an integer", key);
    const int64_t v = it->get<int64_t>();
    if (v < lo || v > hi)
        bad(std::string(key) + " must be between " + std::to_string(lo) + " and " +
                std::to_string(hi),
            key);
    return int(v);
}

double read_number(const json& body, const char* key, double fallback, double lo, double hi) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_number()) bad(std::string(key) + " must be a number", key);
    const double v = it->get<double>();
    if (!(v >= lo && v <= hi))
        bad(std::string(key) + " must be between " + std::to_string(lo) + " and " +
                std::to_string(hi),
            key);
    return v;
}

// A parsed request: the history as exchanges, the question, generation settings.
struct Parsed {
    std::vector<std::pair<ChatRequest, std::string>> history;
    ChatRequest question;
    GenerateParams generate;
    bool stream = false, usage = false;
};

Parsed parse_request(const std::string& text, const ServerOptions& o) {
    const json body = json::parse(text, nullptr, false);
    if (body.is_discarded()) bad("the body is not valid JSON");
    if (!body.is_object()) bad("the body must be a JSON object");
    if (const auto m = body.find("model"); m != body.end() && !m->is_null()) {
        if (!m->is_string()) bad("model must be a string", "model");
        if (m->get<std::string>() != o.model_id)
            throw BadRequest{404, "the model '" + m->get<std::string>() + "' does not exist (this server has '" + o.model_id + "')", "invalid_request_error", "model"};
    }
    const auto msgs = body.find("messages");
    if (msgs == body.end() || !msgs->is_array() || msgs->empty())
        bad("messages must be a non-empty array", "messages");
    if (msgs->size() > 1000) bad("more than 1000 messages", "messages");
    Parsed p;
    int images = 0;
    std::vector<Message> turns;
    for (size_t i = 0; i < msgs->size(); ++i) {
        Message m = read_message((*msgs)[i], i, o, &images);
        if (m.role == "system") continue;  // the model's own template brings its system text
        turns.push_back(std::move(m));
    }
    if (turns.empty() || turns.back().role != "user")
        bad("the last message must be from the user", "messages");
    for (size_t i = 0; i + 1 < turns.size(); i += 2) {
        if (turns[i].role != "user" || turns[i + 1].role != "assistant")
            bad("messages must alternate user and assistant (after any system message)",
                "messages");
        p.history.emplace_back(std::move(turns[i].request), turns[i + 1].request.text);
    }
    if (turns.size() % 2 == 0) bad("messages must alternate user and assistant", "messages");
    p.question = std::move(turns.back().request);
    std::vector<std::vector<Point>> polygons;
    p.question.regions = read_regions(body, &polygons);
    if (!p.question.regions.empty() && p.question.images.empty())
        bad("regions need an image in the last user message", "regions");
    for (size_t k = 0; k < p.question.regions.size(); ++k) {
        RegionInput& r = p.question.regions[k];
        if (r.image >= int(p.question.images.size()))
            bad("region " + std::to_string(r.id) + " is on image " + std::to_string(r.image) +
                    " but the last user message has " + std::to_string(p.question.images.size()),
                "regions");
        if (!polygons[k].empty()) {  // filled over its image; the box is the polygon's
            const cv::Mat& img = p.question.images[size_t(r.image)];
            std::vector<cv::Point> pts;
            for (const Point& q : polygons[k]) pts.emplace_back(int(std::lround(q.x)), int(std::lround(q.y)));
            r.mask = cv::Mat(img.size(), CV_8UC1, cv::Scalar(0));
            cv::fillPoly(r.mask, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(255));
            const cv::Rect b = cv::boundingRect(pts) & cv::Rect(0, 0, img.cols, img.rows);
            r.box = {double(b.x), double(b.y), double(b.x + b.width), double(b.y + b.height)};
        }
    }
    const int max_tokens = read_int(body, "max_tokens", o.default_max_tokens, 1, o.max_tokens);
    p.generate.max_new_tokens =
        std::min(max_tokens, read_int(body, "max_completion_tokens", max_tokens, 1, o.max_tokens));
    p.generate.sampling.temperature = float(read_number(body, "temperature", 0.0, 0.0, 2.0));
    p.generate.sampling.top_p = float(read_number(body, "top_p", 1.0, 1e-6, 1.0));
    p.generate.sampling.top_k = read_int(body, "top_k", 0, 0, 1 << 20);
    p.generate.sampling.seed = uint64_t(read_int(body, "seed", 0, 0, INT32_MAX));
    // RegionChat's extension: the seed of the points a point-prompt model samples in regions.
    p.question.point_seed = uint32_t(read_int(body, "point_seed", 0, 0, INT32_MAX));
    // num_beams (vLLM's and transformers' name): 1 greedy/sampling; absent, the model's own.
    p.generate.beams.num_beams = read_int(body, "num_beams", 0, 1, 16);
    p.generate.beams.length_penalty = read_number(body, "length_penalty", 1.0, -10.0, 10.0);
    if (const auto s = body.find("stream"); s != body.end() && !s->is_null()) {
        if (!s->is_boolean()) bad("stream must be true or false", "stream");
        p.stream = s->get<bool>();
    }
    if (const auto so = body.find("stream_options"); so != body.end() && so->is_object())
        if (const auto u = so->find("include_usage"); u != so->end() && u->is_boolean())
            p.usage = u->get<bool>();
    return p;
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
    Reply answer(const Parsed& p, const std::function<bool(const std::string&)>& emit) {
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
        Parsed p;
        std::string answer;
        bool one_turn = false;
        try {
            p = parse_request(req.body, o);
            const json body = json::parse(req.body, nullptr, false);
            const auto a = body.find("answer");
            if (a == body.end() || !a->is_string()) bad("answer must be a string", "answer");
            answer = a->get<std::string>();
            if (const auto ot = body.find("one_turn"); ot != body.end() && !ot->is_null()) {
                if (!ot->is_boolean()) bad("one_turn must be true or false", "one_turn");
                one_turn = ot->get<bool>();
            }
            if (one_turn && !p.history.empty())
                bad("one_turn scores one user message: no history", "messages");
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
        Parsed p;
        try {
            p = parse_request(req.body, o);
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
        auto shared = std::make_shared<Parsed>(std::move(p));
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
