// RemoteBackend (regionchat/remote.h): an OpenAI-compatible chat-completions server behind the
// chat-backend seam, through cpp-httplib.
#include "regionchat/remote.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <httplib.h>
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
#include <openssl/ssl.h>
#endif
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/image_resize.h"
#include "regionchat/openai.h"
#include "regionchat/region_format.h"

namespace rc {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Scheme, host, port, and the path prefix ending in "/v1".
struct Endpoint {
    std::string origin, prefix, host;
    int port = 80;
    bool tls = false;
};

Endpoint parse_url(const std::string& url) {
    const size_t scheme = url.find("://");
    const std::string name = scheme == std::string::npos ? "" : url.substr(0, scheme);
    if (name != "http" && name != "https")
        throw Error("the server URL must start with http:// or https:// (got '" + url + "')");
    const size_t path = url.find('/', scheme + 3);
    Endpoint e;
    e.tls = name == "https";
    e.origin = url.substr(0, path);
    std::string authority = e.origin.substr(scheme + 3);
    if (authority.empty()) throw Error("the server URL has no host: " + url);
    e.port = e.tls ? 443 : 80;
    const size_t colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
        const std::string port = authority.substr(colon + 1);
        char* end = nullptr;
        const long v = std::strtol(port.c_str(), &end, 10);
        if (port.empty() || *end || v <= 0 || v > 65535)
            throw Error("the server URL has a bad port: " + url);
        e.port = int(v);
        authority = authority.substr(0, colon);
    }
    if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']')
        authority = authority.substr(1, authority.size() - 2);  // [::1]
    e.host = authority;
    std::string p = path == std::string::npos ? "" : url.substr(path);
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.size() < 3 || p.compare(p.size() - 3, 3, "/v1") != 0) p += "/v1";
    e.prefix = p;
    return e;
}

// The proxy the environment names for this endpoint, as curl reads it: https_proxy for TLS,
// http_proxy otherwise; none for loopback or a host in no_proxy.
std::pair<std::string, int> proxy_for(const Endpoint& e) {
    if (e.host == "127.0.0.1" || e.host == "localhost" || e.host == "::1") return {};
    for (const char* var : {"no_proxy", "NO_PROXY"}) {
        const char* v = std::getenv(var);
        if (!v) continue;
        std::string list = v;
        for (size_t from = 0; from <= list.size();) {
            const size_t comma = std::min(list.find(',', from), list.size());
            std::string item = list.substr(from, comma - from);
            while (!item.empty() && item.front() == ' ') item.erase(0, 1);
            while (!item.empty() && item.back() == ' ') item.pop_back();
            if (item == "*" || (!item.empty() && (e.host == item ||
                                                   (e.host.size() > item.size() &&
                                                    e.host.compare(e.host.size() - item.size(),
                                                                   item.size(), item) == 0))))
                return {};
            from = comma + 1;
        }
    }
    static const char* const kTls[] = {"https_proxy", "HTTPS_PROXY"};
    static const char* const kPlain[] = {"http_proxy", "HTTP_PROXY"};
    const char* const* vars = e.tls ? kTls : kPlain;
    for (int i = 0; i < 2; ++i) {
        const char* v = std::getenv(vars[i]);
        if (!v || !*v) continue;
        std::string p = v;
        if (const size_t s = p.find("://"); s != std::string::npos) p = p.substr(s + 3);
        while (!p.empty() && p.back() == '/') p.pop_back();
        const size_t colon = p.rfind(':');
        if (colon == std::string::npos) return {p, 8080};
        return {p.substr(0, colon), std::atoi(p.c_str() + colon + 1)};
    }
    return {};
}

std::unique_ptr<httplib::ClientImpl> make_client(const RemoteOptions& o, const Endpoint& e) {
    std::unique_ptr<httplib::ClientImpl> cli;
    if (e.tls) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
        auto ssl = std::make_unique<httplib::SSLClient>(e.host, e.port);
        // The system's CA store (httplib loads it when given no file of its own) plus the
        // optional CA file, added to the same store.
        if (!o.ca_file.empty() &&
            SSL_CTX_load_verify_locations(ssl->ssl_context(), o.ca_file.c_str(), nullptr) != 1)
            throw Error("cannot read the CA file " + o.ca_file);
        ssl->enable_server_certificate_verification(true);
        cli = std::move(ssl);
#else
        throw Error("this build has no TLS support (https:// URLs)");
#endif
    } else {
        cli = std::make_unique<httplib::ClientImpl>(e.host, e.port);
    }
    if (!cli->is_valid()) throw Error("cannot use the server URL " + o.url);
    auto seconds = [](double s) {
        return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(s));
    };
    cli->set_connection_timeout(seconds(o.connect_timeout_s));
    cli->set_read_timeout(seconds(o.first_token_timeout_s));
    cli->set_write_timeout(seconds(o.connect_timeout_s + 30));
    cli->set_keep_alive(false);
    if (const auto [host, port] = proxy_for(e); !host.empty()) cli->set_proxy(host, port);
    return cli;
}

httplib::Headers auth_headers(const RemoteOptions& o) {
    httplib::Headers h;
    if (!o.api_key.empty()) h.emplace("Authorization", "Bearer " + o.api_key);
    return h;
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1f s" : "%.0f s", s);
    return buf;
}

std::string describe(httplib::Error e) {
    switch (e) {
        case httplib::Error::Connection: return "cannot connect to the server";
        case httplib::Error::Read: return "the connection was lost or timed out while reading";
        case httplib::Error::Write: return "the connection was lost while sending";
        case httplib::Error::ConnectionTimeout: return "connecting to the server timed out";
        case httplib::Error::SSLConnection: return "the TLS connection failed";
        case httplib::Error::SSLServerVerification: return "the server's TLS certificate is not trusted";
        case httplib::Error::Canceled: return "stopped";
        default: return httplib::to_string(e);
    }
}

struct Turn {
    bool user = true;
    std::string text;                 // with "<image>" markers where the images go
    std::vector<std::string> images;  // data URLs, in marker order
};

// A message's content: text and image parts in the order the markers put them.
json content_of(const Turn& t) {
    if (t.images.empty()) return t.text;
    json parts = json::array();
    static const std::string kMarker = "<image>";
    size_t pos = 0, next = 0;
    auto text_part = [&](const std::string& s) {
        if (!s.empty()) parts.push_back({{"type", "text"}, {"text", s}});
    };
    for (size_t at = t.text.find(kMarker); at != std::string::npos && next < t.images.size();
         at = t.text.find(kMarker, pos)) {
        text_part(t.text.substr(pos, at - pos));
        parts.push_back({{"type", "image_url"}, {"image_url", {{"url", t.images[next++]}}}});
        pos = at + kMarker.size();
        if (pos < t.text.size() && t.text[pos] == '\n') ++pos;
    }
    for (; next < t.images.size(); ++next)  // no markers: images first, as most servers expect
        parts.insert(parts.begin() + std::ptrdiff_t(next),
                     json{{"type", "image_url"}, {"image_url", {{"url", t.images[next]}}}});
    text_part(t.text.substr(pos));
    return parts;
}

class RemoteBackend : public ChatBackend {
public:
    // `scoring`: "none", "regionchat" or "prompt_logprobs" (make_remote_backend decides).
    RemoteBackend(RemoteOptions o, std::string scoring)
        : o_(std::move(o)), endpoint_(parse_url(o_.url)), scoring_(std::move(scoring)) {
        if (o_.region_format.empty()) o_.region_format = guess_region_format(o_.model);
        format_ = make_builtin_region_format(o_.region_format);
        if (!format_) throw Error("unknown region format '" + o_.region_format + "'");
        if (scoring_ != "none" && scoring_ != "regionchat" && scoring_ != "prompt_logprobs")
            throw Error("unknown answer scoring '" + scoring_ +
                        "' (none, regionchat or prompt_logprobs)");
        if (!o_.extra_body.empty()) {
            extra_ = json::parse(o_.extra_body, nullptr, false);
            if (!extra_.is_object())
                throw Error("the extra request fields are not a JSON object: " + o_.extra_body);
        }
    }

    BackendInfo info() const override {
        BackendInfo i;
        i.name = o_.model + " at " + endpoint_.origin;
        i.region_format = format_->name();
        i.capabilities.answer_scoring = scoring_ != "none";
        return i;
    }

    std::unique_ptr<ChatBackend> fresh() const override {
        return std::make_unique<RemoteBackend>(o_, scoring_);
    }

    Reply ask(const ChatRequest& request, const GenerateParams& params) override {
        const auto t0 = Clock::now();
        Turn turn = user_turn(request);
        std::vector<Turn> history = turns_;
        history.push_back(turn);
        json body = {{"model", o_.model},
                     {"messages", messages_of(history)},
                     {"stream", true},
                     {"stream_options", {{"include_usage", true}}},
                     {"max_tokens", params.max_new_tokens},
                     {"max_completion_tokens", params.max_new_tokens},
                     {"temperature", params.sampling.temperature}};
        add_extra(&body);
        if (params.sampling.temperature > 0) {
            if (params.sampling.top_p < 1) body["top_p"] = params.sampling.top_p;
            if (params.sampling.top_k > 0) body["top_k"] = params.sampling.top_k;
            body["seed"] = params.sampling.seed;
        }

        Reply reply;
        std::string text, error_body, stream_error;
        int status = 0;
        bool finished = false, aborted = false;
        std::atomic<int64_t> last_byte_ms{-1};
        SseReader sse;
        auto on_event = [&](const SseReader::Event& e) {
            const ChatChunk c = parse_chat_chunk(e.data);
            if (c.done) {
                finished = true;
                return true;
            }
            if (!c.error.empty()) {
                stream_error = c.error;
                return false;
            }
            if (!c.content.empty()) {
                if (text.empty()) reply.timings.first_token_ms = ms_since(t0);
                text += c.content;
                if (params.on_token) params.on_token(c.content);
                ++reply.timings.generated_tokens;
            }
            if (c.has_usage) {
                reply.timings.prompt_tokens = c.prompt_tokens;
                if (c.completion_tokens) reply.timings.generated_tokens = c.completion_tokens;
            }
            if (!c.finish_reason.empty()) {
                reply.stop_reason =
                    c.finish_reason == "length" ? StopReason::Length : StopReason::Eos;
                finished = true;
            }
            return true;
        };

        auto cli = make_client(o_, endpoint_);
        httplib::Request req;
        req.method = "POST";
        req.path = endpoint_.prefix + "/chat/completions";
        req.headers = auth_headers(o_);
        req.headers.emplace("Accept", "text/event-stream");
        req.body = body.dump();
        req.set_header("Content-Type", "application/json");
        req.response_handler = [&](const httplib::Response& r) {
            status = r.status;
            return true;
        };
        req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
            last_byte_ms = int64_t(ms_since(t0));
            if (params.should_abort && params.should_abort()) {
                aborted = true;
                return false;
            }
            if (status != 200) {
                if (error_body.size() < (1u << 20)) error_body.append(data, n);
                return true;
            }
            return sse.feed(std::string_view(data, n), on_event);
        };
        // The first-token timeout is the socket's read timeout; a watchdog enforces the one
        // between chunks, and Stop between them (closing the connection stops the server).
        std::mutex m;
        std::condition_variable cv;
        bool done = false, timed_out = false;
        std::thread watchdog([&] {
            std::unique_lock<std::mutex> lock(m);
            while (!done) {
                cv.wait_for(lock, std::chrono::milliseconds(50));
                if (done) break;
                const int64_t last = last_byte_ms;
                const bool stop = params.should_abort && params.should_abort();
                const bool idle = last >= 0 && ms_since(t0) - double(last) > o_.token_timeout_s * 1000;
                if (stop || idle) {
                    aborted = aborted || stop;
                    timed_out = idle && !stop;
                    cli->stop();
                    break;
                }
            }
        });
        httplib::Response res;
        httplib::Error err = httplib::Error::Success;
        const bool sent = cli->send(req, res, err);
        {
            std::lock_guard<std::mutex> lock(m);
            done = true;
        }
        cv.notify_all();
        watchdog.join();
        if (status == 0 && sent) status = res.status;

        if (aborted || (params.should_abort && params.should_abort())) {
            reply.stop_reason = StopReason::Abort;
        } else if (!stream_error.empty()) {
            throw Error("the server reported an error: " + stream_error);
        } else if (!sent || err != httplib::Error::Success) {
            if (timed_out)
                throw Error("the server sent nothing for " + seconds_text(o_.token_timeout_s) +
                            " in the middle of an answer");
            if (status != 200 && status != 0)
                throw Error("the server answered HTTP " + std::to_string(status) + ": " +
                            openai_error_message(error_body.empty() ? res.body : error_body));
            if (!text.empty())
                throw Error(describe(err) + ": the connection closed before the answer was "
                            "finished (" + std::to_string(text.size()) + " bytes received)");
            throw Error(describe(err) + " (" + endpoint_.origin + ")");
        } else if (status != 200) {
            throw Error("the server answered HTTP " + std::to_string(status) + ": " +
                        openai_error_message(error_body.empty() ? res.body : error_body));
        } else {
            if (!sse.finish(on_event) && !stream_error.empty())
                throw Error("the server reported an error: " + stream_error);
            if (!sse.error().empty()) throw Error(sse.error());
            if (!finished && text.empty())
                throw Error("the server closed the stream without an answer");
            if (!finished)
                throw Error("the server closed the stream before the answer was finished (" +
                            std::to_string(text.size()) + " bytes received)");
        }
        reply.text = text;
        reply.timings.total_ms = ms_since(t0);
        if (reply.timings.generated_tokens > 1 && reply.timings.total_ms > reply.timings.first_token_ms)
            reply.timings.tokens_per_s = (reply.timings.generated_tokens - 1) * 1000.0 /
                                         (reply.timings.total_ms - reply.timings.first_token_ms);
        // The exchange joins the conversation (after Stop too, with what had come, as in the
        // local engine); a failed request threw above and left it as it was.
        turns_.push_back(std::move(turn));
        turns_.push_back(Turn{false, text, {}});
        const ImageSize frame = first_image_size();
        if (frame.width > 0) reply.boxes = format_->parse(text, frame);
        return reply;
    }

    double score(const ChatRequest& request, const std::string& answer) override {
        std::vector<Turn> turns = turns_;
        turns.push_back(user_turn(request));
        return post_score(turns, answer, false);
    }
    double score_one_turn(const std::string& human, const std::vector<cv::Mat>& images,
                          const std::string& answer) override {
        Turn t{true, human, {}};
        for (const cv::Mat& img : images) t.images.push_back(upload(img));
        return post_score({t}, answer, true);
    }
    void add_exchange(const ChatRequest& request, const std::string& answer) override {
        turns_.push_back(user_turn(request));
        turns_.push_back(Turn{false, answer, {}});
    }
    void truncate(size_t n) override {
        if (n < turns_.size()) turns_.resize(n);
        if (turns_.empty()) first_size_ = {};
    }
    void reset() override {
        turns_.clear();
        first_size_ = {};
    }
    size_t message_count() const override { return turns_.size(); }
    std::vector<ParsedBox> parse_boxes(const std::string& answer, ImageSize size) const override {
        return format_->parse(answer, size);
    }
    std::string render_question(const ChatRequest& request) const override {
        ImageSize frame = first_image_size();
        if (frame.width <= 0 && !request.images.empty())
            frame = ImageSize{request.images.front().cols, request.images.front().rows};
        return encode_region_references(request.text, request.regions, frame, *format_,
                                        request.region_mode);
    }

private:
    static double ms_since(Clock::time_point t) {
        return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    }

    ImageSize first_image_size() const { return first_size_; }

    Turn user_turn(const ChatRequest& request) {
        Turn t;
        t.text = render_question(request);
        const std::vector<cv::Mat> images = images_with_visual_prompts(request);
        for (const cv::Mat& img : images) t.images.push_back(upload(img));
        if (first_size_.width <= 0 && !images.empty())
            first_size_ = ImageSize{images.front().cols, images.front().rows};
        return t;
    }

    std::string upload(const cv::Mat& image) const {
        return image_data_url(o_.client_resize ? prepare_upload_image(image, format_->name())
                                               : image);
    }

    // The extra fields never replace what RegionChat sets itself (model, messages, limits).
    void add_extra(json* body) const {
        if (extra_.is_object())
            for (auto it = extra_.begin(); it != extra_.end(); ++it)
                if (!body->contains(it.key())) (*body)[it.key()] = it.value();
    }

    json messages_of(const std::vector<Turn>& turns) const {
        json m = json::array();
        for (const Turn& t : turns)
            m.push_back({{"role", t.user ? "user" : "assistant"}, {"content", content_of(t)}});
        return m;
    }

    // One non-streamed JSON request; the answer's JSON, or rc::Error with the server's message.
    json post_json(const std::string& path, const json& body) const {
        auto cli = make_client(o_, endpoint_);
        const auto res = cli->Post(endpoint_.prefix + path, auth_headers(o_), body.dump(),
                                   "application/json");
        if (!res) throw Error(describe(res.error()) + " (" + endpoint_.origin + ")");
        if (res->status != 200)
            throw Error("the server answered HTTP " + std::to_string(res->status) + ": " +
                        openai_error_message(res->body));
        json j = json::parse(res->body, nullptr, false);
        if (!j.is_object()) throw Error("the server's answer to " + path + " is not a JSON object");
        return j;
    }

    // The mean NLL of `answer` after `turns` (one_turn: DualFocus' one human turn).
    double post_score(const std::vector<Turn>& turns, const std::string& answer, bool one_turn) {
        if (scoring_ == "regionchat") return score_by_extension(turns, answer, one_turn);
        if (scoring_ == "prompt_logprobs") return score_by_prompt_logprobs(turns, answer);
        throw Error("this server cannot score answers (it offers neither RegionChat's scoring "
                    "nor vLLM's prompt_logprobs)");
    }

    // RegionChat's scoring extension (POST /v1/regionchat/score, offered by regionchat-cli
    // serve): the server scores as the local engine does (one_turn: LLaVA's preprocess_v1).
    double score_by_extension(const std::vector<Turn>& turns, const std::string& answer,
                              bool one_turn) const {
        const json body = {{"model", o_.model}, {"messages", messages_of(turns)},
                           {"answer", answer}, {"one_turn", one_turn}};
        const json j = post_json("/regionchat/score", body);
        if (!j.contains("nll") || !j["nll"].is_number())
            throw Error("the server's score is not {\"nll\": number}");
        return j["nll"].get<double>();
    }

    // vLLM's prompt_logprobs: the conversation with the answer as the assistant's last message
    // (the chat template closes it, as training did), one token generated, the log-probability
    // of every prompt token returned; a second request without the answer (and with the
    // generation prompt) says in its usage where the answer's tokens start.
    double score_by_prompt_logprobs(const std::vector<Turn>& turns,
                                    const std::string& answer) const {
        const json prefix = messages_of(turns);  // images as data URLs: built once
        json full = prefix;
        full.push_back({{"role", "assistant"}, {"content", answer}});
        json b1 = {{"model", o_.model}, {"messages", full}, {"max_tokens", 1},
                   {"max_completion_tokens", 1}, {"temperature", 0}, {"prompt_logprobs", 0},
                   {"add_generation_prompt", false}, {"stream", false}};
        json b2 = {{"model", o_.model}, {"messages", prefix}, {"max_tokens", 1},
                   {"max_completion_tokens", 1}, {"temperature", 0},
                   {"add_generation_prompt", true}, {"stream", false}};
        const json r1 = post_json("/chat/completions", b1);
        const json r2 = post_json("/chat/completions", b2);
        const auto lp = r1.find("prompt_logprobs");
        if (lp == r1.end() || !lp->is_array())
            throw Error("the server sent no prompt_logprobs (it cannot score answers)");
        const auto usage = r2.find("usage");
        if (usage == r2.end() || !usage->is_object() || !usage->contains("prompt_tokens") ||
            !(*usage)["prompt_tokens"].is_number_integer())
            throw Error("the server's answer has no usage.prompt_tokens");
        const int64_t first = (*usage)["prompt_tokens"].get<int64_t>();
        const int64_t n = int64_t(lp->size());
        if (first <= 0 || first >= n)
            throw Error("the answer's tokens cannot be found in the server's prompt_logprobs (" +
                        std::to_string(first) + " of " + std::to_string(n) + " tokens)");
        double sum = 0;
        for (int64_t i = first; i < n; ++i) {
            const json& e = (*lp)[size_t(i)];
            // prompt_logprobs 0: one entry per position, the prompt's own token.
            if (!e.is_object() || e.size() != 1 || !e.begin()->is_object() ||
                !e.begin()->contains("logprob") || !(*e.begin())["logprob"].is_number())
                throw Error("the server's prompt_logprobs entry " + std::to_string(i) +
                            " is not {token: {\"logprob\": number}}");
            const double v = (*e.begin())["logprob"].get<double>();
            if (!std::isfinite(v)) throw Error("the server's prompt_logprobs are not finite");
            sum += v;
        }
        return -sum / double(n - first);
    }

    RemoteOptions o_;
    Endpoint endpoint_;
    std::string scoring_;
    json extra_;
    std::unique_ptr<RegionFormat> format_;
    std::vector<Turn> turns_;
    ImageSize first_size_;
};

}  // namespace

cv::Mat prepare_upload_image(const cv::Mat& image, const std::string& region_format,
                             int64_t max_pixels) {
    cv::Mat bgr = to_bgr8(image);
    if (region_format == "pixels" || bgr.empty()) return bgr;
    auto resized = [](const cv::Mat& m, ImageSize to) {
        if (to.width == m.cols && to.height == m.rows) return m;
        if (to.width > 16384 || to.height > 16384) {  // beyond the exact resize's range
            cv::Mat out;
            cv::resize(m, out, cv::Size(to.width, to.height), 0, 0, cv::INTER_AREA);
            return out;
        }
        return resize_bicubic_antialias(m, to.width, to.height);
    };
    const ImageSize size{bgr.cols, bgr.rows};
    if (region_format == "qwen2-vl" || region_format == "qwen2.5-vl")
        return resized(bgr, qwen_smart_resize(size));
    if (region_format == "qwen3-vl")
        return resized(bgr, qwen_smart_resize(size, 32, 65536, 16777216));
    if (region_format == "dualfocus")  // LLaVA's expand2square with CLIP's mean colour
        bgr = expand_to_square(bgr, {0.48145466f, 0.4578275f, 0.40821073f});
    const double pixels = double(bgr.cols) * bgr.rows;
    if (max_pixels > 0 && pixels > double(max_pixels)) {
        const double s = std::sqrt(double(max_pixels) / pixels);
        bgr = resized(bgr, ImageSize{std::max(1, int(bgr.cols * s)), std::max(1, int(bgr.rows * s))});
    }
    return bgr;
}

namespace {

struct ListedModel {
    std::string id;
    bool answer_scoring = false;  // RegionChat's extension: "regionchat": {"answer_scoring": true}
    std::string owned_by;
};

std::vector<ListedModel> fetch_models(const RemoteOptions& o) {
    const Endpoint e = parse_url(o.url);
    auto cli = make_client(o, e);
    cli->set_read_timeout(std::chrono::seconds(std::max(1, int(o.connect_timeout_s))));
    const auto res = cli->Get(e.prefix + "/models", auth_headers(o));
    if (!res) throw Error(describe(res.error()) + " (" + e.origin + ")");
    if (res->status != 200)
        throw Error("the server answered HTTP " + std::to_string(res->status) + ": " +
                    openai_error_message(res->body));
    const json j = json::parse(res->body, nullptr, false);
    if (j.is_discarded()) throw Error("the server's model list is not JSON");
    std::vector<ListedModel> models;
    if (j.is_object() && j.contains("data") && j["data"].is_array())
        for (const json& m : j["data"]) {
            if (!m.is_object() || !m.contains("id") || !m["id"].is_string()) continue;
            ListedModel lm;
            lm.id = m["id"].get<std::string>();
            if (m.contains("owned_by") && m["owned_by"].is_string())
                lm.owned_by = m["owned_by"].get<std::string>();
            const auto ext = m.find("regionchat");
            if (ext != m.end() && ext->is_object()) {
                const auto sc = ext->find("answer_scoring");
                lm.answer_scoring = sc != ext->end() && sc->is_boolean() && sc->get<bool>();
            }
            models.push_back(lm);
        }
    return models;
}

}  // namespace

std::vector<std::string> list_remote_models(const RemoteOptions& o) {
    std::vector<std::string> ids;
    for (const ListedModel& m : fetch_models(o)) ids.push_back(m.id);
    return ids;
}

std::unique_ptr<ChatBackend> make_remote_backend(const RemoteOptions& options) {
    RemoteOptions o = options;
    // The model list says which models the server can score answers with; a server without a
    // list (or unreachable now) still gets the model asked for, without scoring.
    std::vector<ListedModel> models;
    try {
        models = fetch_models(o);
    } catch (const Error&) {
        if (o.model.empty()) throw;
    }
    if (o.model.empty()) {
        if (models.empty()) throw Error("the server lists no models");
        o.model = models.front().id;
    }
    std::string scoring = o.scoring;
    if (scoring.empty()) {
        scoring = "none";
        for (const ListedModel& m : models)
            if (m.id == o.model)
                scoring = m.answer_scoring ? "regionchat" : m.owned_by == "vllm" ? "prompt_logprobs"
                                                                                 : "none";
    }
    return std::make_unique<RemoteBackend>(o, scoring);
}

}  // namespace rc
