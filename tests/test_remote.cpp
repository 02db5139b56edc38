// Remote models: the server-sent-events reader and chunk parser on every way servers stream
// (vLLM, transformers serve, llama.cpp, split anywhere), the remote backend against
// regionchat-cli's server over real HTTP on loopback (answers, streaming, Stop, grounding
// boxes, answer scores and dual focus equal to the in-process engine's, 401/404), a scripted
// faulty server (500, error mid-stream, truncated stream, slow first token, a dropped
// connection, no scoring), and a list of malformed requests that each get a 4xx JSON error
// while the server keeps serving.
#include <QtTest>

#include <atomic>
#include <cmath>
#include <mutex>
#include <chrono>
#include <thread>

#include <httplib.h>
#include <opencv2/imgproc.hpp>
#include <nlohmann/json.hpp>

#include "regionchat/backend.h"
#include "regionchat/dual_focus.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/openai.h"
#include "regionchat/region_format.h"
#include "regionchat/remote.h"
#include "regionchat/server.h"
#include "support/tiny_model.h"

using namespace rc;
using nlohmann::json;

namespace {

std::string source_dir() {
    const char* s = std::getenv("REGIONCHAT_SOURCE_DIR");
    return s ? s : "";
}

// Every event of `stream` fed in pieces of `step` bytes.
std::vector<SseReader::Event> events_of(const std::string& stream, size_t step) {
    SseReader r;
    std::vector<SseReader::Event> out;
    auto keep = [&](const SseReader::Event& e) {
        out.push_back(e);
        return true;
    };
    for (size_t i = 0; i < stream.size(); i += step)
        if (!r.feed(std::string_view(stream).substr(i, step), keep)) break;
    r.finish(keep);
    return out;
}

// A server on loopback in a thread, stopped when it goes out of scope.
struct Running {
    std::unique_ptr<ChatServer> server;
    std::thread thread;
    int port = 0;
    Running(std::unique_ptr<ChatBackend> backend, ServerOptions o) {
        o.port = 0;
        server = std::make_unique<ChatServer>(std::move(backend), o);
        port = server->bind();
        thread = std::thread([this] { server->run(); });
    }
    ~Running() {
        server->stop();
        thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// A hand-written server for the faults real servers have.
struct Scripted {
    httplib::Server server;
    std::thread thread;
    int port = 0;
    Scripted() = default;
    void start() {
        port = server.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { server.listen_after_bind(); });
        while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~Scripted() {
        server.stop();
        if (thread.joinable()) thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

std::string sse(const json& j) {
    return "data: " + j.dump() + "\n\n";
}

json delta(const std::string& text) {
    return {{"choices", json::array({{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}})}};
}

QString error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

}  // namespace

class TestRemote : public QObject {
    Q_OBJECT

    std::shared_ptr<Model> model_;
    cv::Mat image_;

private slots:
    void initTestCase() {
        const std::string src = source_dir();
        QVERIFY2(!src.empty(), "REGIONCHAT_SOURCE_DIR is not set (run through CTest)");
        model_ = Model::load(testing::load_params(src + "/resources/models/shapes-tiny", "cpu"));
        image_ = load_image(src + "/resources/samples/scene_1000000000.png");
    }

    // vLLM: chunks, a usage chunk with empty choices, [DONE]; CRLF and keep-alive comments;
    // split at every byte.
    void sseVariants() {
        const std::string vllm = sse(delta("Hel")) + ": keep-alive\n\n" + sse(delta("lo")) +
                                 "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
                                 "\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
        std::string crlf;
        for (char c : vllm) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
        for (const std::string& stream : {vllm, crlf}) {
            for (size_t step : {size_t(1), size_t(2), size_t(3), size_t(7), stream.size()}) {
                const auto ev = events_of(stream, step);
                QCOMPARE(ev.size(), size_t(4));
                QCOMPARE(parse_chat_chunk(ev[0].data).content, std::string("Hel"));
                QCOMPARE(parse_chat_chunk(ev[1].data).content, std::string("lo"));
                const ChatChunk usage = parse_chat_chunk(ev[2].data);
                QVERIFY(usage.has_usage && usage.content.empty());
                QCOMPARE(usage.prompt_tokens, 5);
                QVERIFY(parse_chat_chunk(ev[3].data).done);
            }
        }
        // transformers serve: no [DONE], the stream just ends (last event without a blank line).
        const auto tf = events_of(sse(delta("a")) + "data: {\"choices\":[{\"index\":0,\"delta\":{},"
                                                    "\"finish_reason\":\"stop\"}]}",
                                  5);
        QCOMPARE(tf.size(), size_t(2));
        QCOMPARE(parse_chat_chunk(tf[1].data).finish_reason, std::string("stop"));
        // Multi-line data joins with "\n"; "event:" names it; a lone "\r" ends a line.
        const auto multi = events_of("event: error\rdata: {\"error\":\ndata: \"boom\"}\r\r", 1);
        QCOMPARE(multi.size(), size_t(1));
        QCOMPARE(multi[0].event, std::string("error"));
        QCOMPARE(parse_chat_chunk(multi[0].data).error, std::string("boom"));
        // llama.cpp's error mid-stream (no [DONE] after it).
        QCOMPARE(parse_chat_chunk(R"({"error":{"code":500,"message":"context full","type":"server_error"}})").error,
                 std::string("context full"));
        // Garbage is reported, not thrown; a line past the limit stops the reader.
        QVERIFY(!parse_chat_chunk("{not json").error.empty());
        QVERIFY(!parse_chat_chunk("[1,2]").error.empty());
        SseReader r;
        r.max_line_bytes = 1000;
        QVERIFY(!r.feed(std::string(2000, 'x'), [](const SseReader::Event&) { return true; }));
        QVERIFY(!r.error().empty());
        // A whole non-streamed response parses too.
        QCOMPARE(parse_chat_chunk(R"({"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}]})").content,
                 std::string("hi"));
        QCOMPARE(openai_error_message(R"({"detail":"Not Found"})"), std::string("Not Found"));
    }

    void dataUrls() {
        const std::string url = image_data_url(image_);
        QVERIFY(url.rfind("data:image/png;base64,", 0) == 0);
        const cv::Mat back = decode_data_url(url, 100'000'000);
        QCOMPARE(back.size(), image_.size());
        QCOMPARE(cv::norm(back, image_, cv::NORM_INF), 0.0);
        QVERIFY(!error_of([&] { decode_data_url(url, 100); }).isEmpty());       // too many pixels
        QVERIFY(!error_of([&] { decode_data_url("data:image/png;base64,@@@", 1e9); }).isEmpty());
        QVERIFY(!error_of([&] { decode_data_url("http://x/y.png", 1e9); }).isEmpty());
        QVERIFY(!error_of([&] { decode_data_url("data:image/png;base64,aGVsbG8=", 1e9); }).isEmpty());
    }

    // The remote backend against our server: the same greedy answers as in-process, streamed,
    // with the boxes back on the image's pixels; a follow-up continues the conversation.
    void loopbackAnswersAsInProcess() {
        ServerOptions o;
        o.model_id = "shapes-tiny";
        Running server(make_local_backend(model_), o);
        RemoteOptions r;
        r.url = server.url();
        QCOMPARE(list_remote_models(r), std::vector<std::string>{"shapes-tiny"});
        auto remote = make_remote_backend(r);  // model: the first listed
        QCOMPARE(remote->info().region_format, std::string("dualfocus"));
        QVERIFY(remote->info().capabilities.answer_scoring);  // serve offers the extension
        auto local = make_local_backend(model_);
        GenerateParams g;
        g.max_new_tokens = 32;
        int pieces = 0;
        GenerateParams streamed = g;
        streamed.on_token = [&](const std::string&) { ++pieces; };
        for (const char* q : {"Where is the red circle?", "What shape is the yellow object?"}) {
            ChatRequest req;
            req.text = q;
            if (remote->message_count() == 0) req.images = {image_};
            const Reply want = local->ask(req, g);
            const Reply got = remote->ask(req, streamed);
            QCOMPARE(got.text, want.text);
            QCOMPARE(got.boxes.size(), want.boxes.size());
            for (size_t k = 0; k < got.boxes.size(); ++k)
                QVERIFY(std::abs(got.boxes[k].box.x0 - want.boxes[k].box.x0) < 1e-9);
            QCOMPARE(got.stop_reason, want.stop_reason);
        }
        QVERIFY(pieces > 2);
        QCOMPARE(remote->message_count(), size_t(4));
        // Answer scoring through the server equals the in-process score, after the same turns.
        ChatRequest follow;
        follow.text = "What shape is the red object?";
        for (const char* answer : {"circle", "a blue star"}) {
            const double want = local->score(follow, answer), got = remote->score(follow, answer);
            QVERIFY2(std::abs(got - want) < 1e-9,
                     qPrintable(QString("%1: %2 vs %3").arg(answer).arg(got).arg(want)));
        }
        // Regions are written by the client in the model's format.
        ChatRequest region;
        region.text = "What is in <region 1>?";
        region.images = {image_};
        RegionInput circle;
        circle.id = 1;
        circle.box = Box{150, 170, 225, 245};
        region.regions = {circle};
        auto fresh_remote = remote->fresh();
        auto fresh_local = local->fresh();
        QCOMPARE(fresh_remote->ask(region, g).text, fresh_local->ask(region, g).text);
    }

    // Stop closes the connection within a chunk; the server stops and serves the next request.
    void stopAndDualFocus() {
        ServerOptions o;
        o.model_id = "m";
        Running server(make_local_backend(model_), o);
        RemoteOptions r;
        r.url = server.url() + "/v1";
        r.model = "m";
        auto remote = make_remote_backend(r);
        ChatRequest req;
        req.text = "Describe every object in the image.";
        req.images = {image_};
        GenerateParams g;
        g.max_new_tokens = 200;
        int pieces = 0;
        g.on_token = [&](const std::string&) { ++pieces; };
        g.should_abort = [&] { return pieces >= 2; };
        const Reply stopped = remote->ask(req, g);
        QCOMPARE(stopped.stop_reason, StopReason::Abort);
        QVERIFY2(pieces <= 3, qPrintable(QString::number(pieces)));
        // Still serving.
        GenerateParams plain;
        plain.max_new_tokens = 8;
        ChatRequest next;
        next.text = "Where is the red circle?";
        next.images = {image_};
        QVERIFY(!remote->fresh()->ask(next, plain).text.empty());

        // DualFocus through the server: every pass and the perplexity choice as in process.
        const DualFocusResult d = run_dual_focus(*remote, next);
        const DualFocusResult want = run_dual_focus(model_, image_, next.text);
        QVERIFY(want.has_box);
        QCOMPARE(d.has_box, want.has_box);
        QCOMPARE(d.box_answer, want.box_answer);
        QCOMPARE(d.macro_answer, want.macro_answer);
        QCOMPARE(d.micro_answer, want.micro_answer);
        QVERIFY(d.scored && want.scored);
        QVERIFY2(std::abs(d.macro_nll - want.macro_nll) < 1e-9,
                 qPrintable(QString("%1 vs %2").arg(d.macro_nll, 0, 'g', 17).arg(want.macro_nll, 0, 'g', 17)));
        QVERIFY2(std::abs(d.micro_nll - want.micro_nll) < 1e-9,
                 qPrintable(QString("%1 vs %2").arg(d.micro_nll, 0, 'g', 17).arg(want.micro_nll, 0, 'g', 17)));
        QCOMPARE(d.answer, want.answer);
        QCOMPARE(d.decided_by, std::string("perplexity"));
    }

    void authAndUnknownModel() {
        ServerOptions o;
        o.model_id = "m";
        o.api_key = "sekrit";
        Running server(make_local_backend(model_), o);
        RemoteOptions r;
        r.url = server.url();
        r.model = "m";
        ChatRequest req;
        req.text = "hi";
        GenerateParams g;
        g.max_new_tokens = 2;
        const QString no_key = error_of([&] { make_remote_backend(r)->ask(req, g); });
        QVERIFY2(no_key.contains("HTTP 401") && no_key.contains("API key"), qPrintable(no_key));
        QVERIFY(no_key.indexOf("sekrit") < 0);
        r.api_key = "sekrit";
        QVERIFY(!make_remote_backend(r)->ask(req, g).text.empty());
        r.model = "other";
        const QString unknown = error_of([&] { make_remote_backend(r)->ask(req, g); });
        QVERIFY2(unknown.contains("HTTP 404") && unknown.contains("other"), qPrintable(unknown));
        r.url = "http://127.0.0.1:1";
        const QString refused = error_of([&] { make_remote_backend(r)->ask(req, g); });
        QVERIFY2(refused.contains("connect"), qPrintable(refused));
        r.url = "ftp://x";
        QVERIFY(error_of([&] { make_remote_backend(r); }).contains("http://"));
    }

    // Faults a real server has: each is a clear error, and the conversation loses nothing.
    void faultyServers() {
        Scripted s;
        std::atomic<int> mode{0};
        s.server.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
            const int m = mode;
            if (m == 0) {  // 500 before streaming
                res.status = 500;
                res.set_content(R"({"error":{"message":"out of memory","type":"server_error"}})",
                                "application/json");
                return;
            }
            res.set_chunked_content_provider("text/event-stream", [m](size_t, httplib::DataSink& sink) {
                auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1500)); };
                if (m == 5) pause();  // slow first token
                std::string out = sse(delta("par"));
                if (m == 1) out += sse(json{{"error", {{"message", "CUDA error"}}}});  // mid-stream
                if (m == 2) out += sse(delta("tial"));                                  // truncated
                sink.write(out.data(), out.size());
                if (m == 4) return false;  // the server dies mid-answer
                if (m == 3) {              // stalls between tokens
                    pause();
                    const std::string late = sse(delta("late"));
                    sink.write(late.data(), late.size());
                }
                sink.done();
                return true;
            });
        });
        s.start();
        RemoteOptions r;
        r.url = s.url();
        r.model = "x";
        r.token_timeout_s = 0.5;
        auto remote = make_remote_backend(r);
        // A server without RegionChat's scoring extension: no scoring, said plainly.
        QVERIFY(!remote->info().capabilities.answer_scoring);
        QVERIFY(error_of([&] { remote->score(ChatRequest{}, "x"); }).contains("cannot score"));
        ChatRequest earlier;
        earlier.text = "earlier";
        earlier.region_mode = RegionMode::Text;
        remote->add_exchange(earlier, "answer");
        ChatRequest req;
        req.text = "q";
        GenerateParams g;
        const std::vector<std::pair<int, QString>> expect = {
            {0, "HTTP 500: out of memory"},
            {1, "CUDA error"},
            {2, "before the answer was finished"},
            {3, "sent nothing for"},
            {4, "before the answer was finished"},
        };
        for (const auto& [m, text] : expect) {
            mode = m;
            const QString e = error_of([&] { remote->ask(req, g); });
            QVERIFY2(e.contains(text), qPrintable(QString::number(m) + ": " + e));
            QCOMPARE(remote->message_count(), size_t(2));  // nothing lost, nothing half-added
        }
        // The first-token timeout is kept apart from the one between tokens.
        mode = 5;
        r.first_token_timeout_s = 0.5;
        r.token_timeout_s = 30;
        const QString slow = error_of([&] { make_remote_backend(r)->ask(req, g); });
        QVERIFY2(slow.contains("timed out"), qPrintable(slow));
        r.first_token_timeout_s = 5;  // waits it out: the stream (unfinished) is read
        const QString waited = error_of([&] { make_remote_backend(r)->ask(req, g); });
        QVERIFY2(waited.contains("before the answer was finished"), qPrintable(waited));
    }

    // The client resizes/pads as each family's server expects, and a box the model answers in
    // the frame of the image it was sent lands on the right pixels of the original: portrait
    // and landscape, every served format.
    void uploadGeometry() {
        for (const ImageSize size : {ImageSize{640, 300}, ImageSize{300, 640}}) {
            cv::Mat img(size.height, size.width, CV_8UC3, cv::Scalar(255, 255, 255));
            const Box truth{size.width * 0.25, size.height * 0.5, size.width * 0.5, size.height * 0.75};
            cv::rectangle(img, cv::Point(int(truth.x0), int(truth.y0)),
                          cv::Point(int(truth.x1) - 1, int(truth.y1) - 1), cv::Scalar(0, 0, 255),
                          cv::FILLED);
            const QString tag = QString("%1x%2 ").arg(size.width).arg(size.height);
            for (const std::string name : {"dualfocus", "qwen2-vl", "qwen2.5-vl", "qwen3-vl",
                                           "internvl", "pixels"}) {
                const cv::Mat up = prepare_upload_image(img, name);
                const ImageSize up_size{up.cols, up.rows};
                // Expected upload sizes.
                if (name == "dualfocus") {
                    QCOMPARE(up.cols, std::max(size.width, size.height));
                    QCOMPARE(up.rows, up.cols);
                    // expand2square's fill is CLIP's mean colour, RGB (122, 116, 104).
                    const cv::Vec3b corner = up.at<cv::Vec3b>(0, 0) == cv::Vec3b(255, 255, 255)
                                                 ? up.at<cv::Vec3b>(up.rows - 1, up.cols - 1)
                                                 : up.at<cv::Vec3b>(0, 0);
                    QCOMPARE(int(corner[2]), 122);
                    QCOMPARE(int(corner[1]), 116);
                    QCOMPARE(int(corner[0]), 104);
                } else if (name == "qwen2-vl" || name == "qwen2.5-vl") {
                    const ImageSize q = qwen_smart_resize(size);
                    QCOMPARE(up.cols, q.width);
                    QCOMPARE(up.rows, q.height);
                    QCOMPARE(up.cols % 28, 0);
                    QCOMPARE(up.rows % 28, 0);
                } else if (name == "qwen3-vl") {
                    QCOMPARE(up.cols % 32, 0);
                    QCOMPARE(up.rows % 32, 0);
                } else {
                    QCOMPARE(up.cols, size.width);
                    QCOMPARE(up.rows, size.height);
                }
                // Where the red block is in the upload: the model's view of the box.
                cv::Mat red;
                cv::inRange(up, cv::Scalar(0, 0, 200), cv::Scalar(60, 60, 255), red);
                const cv::Rect r = cv::boundingRect(red);
                QVERIFY2(r.area() > 0, qPrintable(tag + QString::fromStdString(name)));
                const Box seen{double(r.x), double(r.y), double(r.x + r.width), double(r.y + r.height)};
                // The model writes that box in its format for the image it saw (here: the
                // block's place in the upload mapped back by the upload's geometry, then written
                // by the format); the client reads it back in the original's frame.
                const auto format = make_builtin_region_format(name);
                Box written = seen;
                if (name == "dualfocus") {  // the upload is the padded square: undo the pad
                    const double side = up.cols;
                    written = Box{seen.x0 - (side - size.width) / 2, seen.y0 - (side - size.height) / 2,
                                  seen.x1 - (side - size.width) / 2, seen.y1 - (side - size.height) / 2};
                } else if (name != "pixels" && (up_size.width != size.width || up_size.height != size.height)) {
                    const double sx = double(size.width) / up.cols, sy = double(size.height) / up.rows;
                    written = Box{seen.x0 * sx, seen.y0 * sy, seen.x1 * sx, seen.y1 * sy};
                }
                const std::string text = format->encode(written, size);
                const auto boxes = format->parse(text, size);
                QVERIFY2(boxes.size() == 1, qPrintable(tag + QString::fromStdString(name + ": " + text)));
                const Box& b = boxes[0].box;
                const double tol = std::max(size.width, size.height) * 0.01 + 2;
                QVERIFY2(std::abs(b.x0 - truth.x0) < tol && std::abs(b.y0 - truth.y0) < tol &&
                             std::abs(b.x1 - truth.x1) < tol && std::abs(b.y1 - truth.y1) < tol,
                         qPrintable(tag + QString::fromStdString(name + ": " + text) +
                                    QString(" -> %1,%2,%3,%4").arg(b.x0).arg(b.y0).arg(b.x1).arg(b.y1)));
            }
        }
        // Qwen2.5-VL answers in pixels of the image it saw: the upload is that image exactly,
        // so the number in its answer is a pixel of the upload.
        cv::Mat wide(300, 640, CV_8UC3, cv::Scalar(0, 0, 0));
        const cv::Mat up = prepare_upload_image(wide, "qwen2.5-vl");
        const auto q25 = make_builtin_region_format("qwen2.5-vl");
        const auto parsed = q25->parse(R"({"bbox_2d": [0, 0, )" + std::to_string(up.cols) + ", " +
                                           std::to_string(up.rows) + "]}",
                                       ImageSize{640, 300});
        QCOMPARE(parsed.size(), size_t(1));
        QVERIFY(std::abs(parsed[0].box.x1 - 640) < 1e-6 && std::abs(parsed[0].box.y1 - 300) < 1e-6);
        // A huge image is scaled down to the pixel cap (aspect kept); "pixels" never is.
        cv::Mat big(4000, 6000, CV_8UC3, cv::Scalar(10, 20, 30));
        const cv::Mat capped = prepare_upload_image(big, "internvl", 2'000'000);
        QVERIFY(double(capped.cols) * capped.rows <= 2'000'000);
        QVERIFY(std::abs(double(capped.cols) / capped.rows - 1.5) < 0.01);
        QCOMPARE(prepare_upload_image(big, "pixels", 2'000'000).cols, 6000);
    }

    // vLLM scores answers through prompt_logprobs: the conversation with the answer, one
    // token generated, the prompt's log-probabilities; a second request's usage says where
    // the answer starts. The extra request fields reach the server; they never replace ours.
    void promptLogprobsScoring() {
        Scripted s;
        std::vector<json> bodies;
        std::mutex m;
        s.server.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"object":"list","data":[{"id":"llava","object":"model","owned_by":"vllm"}]})",
                            "application/json");
        });
        s.server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
            const json body = json::parse(req.body);
            {
                std::lock_guard<std::mutex> lock(m);
                bodies.push_back(body);
            }
            if (body.value("stream", false)) {
                res.set_content(sse(delta("ok")) + "data: [DONE]\n\n", "text/event-stream");
                return;
            }
            json out = {{"choices", json::array({{{"index", 0},
                                                  {"message", {{"role", "assistant"}, {"content", "x"}}},
                                                  {"finish_reason", "length"}}})}};
            if (body.contains("prompt_logprobs")) {
                // 7 prompt tokens: 5 of the question (the first has none), 2 of the answer.
                out["prompt_logprobs"] = json::array({nullptr});
                for (double v : {-0.1, -0.2, -0.3, -0.4, -1.0, -3.0})
                    out["prompt_logprobs"].push_back({{"17", {{"logprob", v}, {"rank", 1}}}});
                out["usage"] = {{"prompt_tokens", 7}, {"completion_tokens", 1}};
            } else {
                out["usage"] = {{"prompt_tokens", 5}, {"completion_tokens", 1}};
            }
            res.set_content(out.dump(), "application/json");
        });
        s.start();
        RemoteOptions r;
        r.url = s.url();
        r.extra_body = R"({"repetition_penalty": 1.0, "max_tokens": 999})";
        auto remote = make_remote_backend(r);
        QVERIFY(remote->info().capabilities.answer_scoring);
        ChatRequest req;
        req.text = "<image>\nWhat is it?";
        req.images = {image_};
        QVERIFY(std::abs(remote->score(req, "a cat") - 2.0) < 1e-9);  // -(-1 - 3) / 2
        {
            std::lock_guard<std::mutex> lock(m);
            QCOMPARE(bodies.size(), size_t(2));
            const json& full = bodies[0];
            QCOMPARE(full["prompt_logprobs"].get<int>(), 0);
            QCOMPARE(full["add_generation_prompt"].get<bool>(), false);
            QCOMPARE(full["messages"].back()["role"].get<std::string>(), std::string("assistant"));
            QCOMPARE(full["messages"].back()["content"].get<std::string>(), std::string("a cat"));
            QCOMPARE(bodies[1]["add_generation_prompt"].get<bool>(), true);
            QCOMPARE(bodies[1]["messages"].size(), size_t(1));
        }
        GenerateParams g;
        g.max_new_tokens = 8;
        QCOMPARE(QString::fromStdString(remote->ask(req, g).text), QString("ok"));
        {
            std::lock_guard<std::mutex> lock(m);
            const json& chat = bodies.back();
            QCOMPARE(chat["repetition_penalty"].get<double>(), 1.0);
            QCOMPARE(chat["max_tokens"].get<int>(), 8);  // ours, not the extra field's
        }
        // Scoring can be turned off, and a bad extra body is refused plainly.
        r.scoring = "none";
        QVERIFY(!make_remote_backend(r)->info().capabilities.answer_scoring);
        r.scoring.clear();
        r.extra_body = "[1, 2]";
        QVERIFY(error_of([&] { make_remote_backend(r); }).contains("not a JSON object"));
    }

    // One answer at a time: with no room to wait, a second request while the first is answered
    // gets 429 at once, and the server serves again afterwards.
    void busyServerSays429() {
        // A backend that takes its time, so the first request surely holds the model.
        struct Slow : ChatBackend {
            BackendInfo info() const override { return {}; }
            std::unique_ptr<ChatBackend> fresh() const override { return std::make_unique<Slow>(); }
            Reply ask(const ChatRequest&, const GenerateParams& g) override {
                std::this_thread::sleep_for(std::chrono::milliseconds(800));
                if (g.on_token) g.on_token("done");
                Reply r;
                r.text = "done";
                r.stop_reason = StopReason::Eos;
                return r;
            }
            double score(const ChatRequest&, const std::string&) override { return 0; }
            double score_one_turn(const std::string&, const std::vector<cv::Mat>&,
                                  const std::string&) override { return 0; }
            void add_exchange(const ChatRequest&, const std::string&) override {}
            void truncate(size_t) override {}
            void reset() override {}
            size_t message_count() const override { return 0; }
            std::vector<ParsedBox> parse_boxes(const std::string&, ImageSize) const override { return {}; }
            std::string render_question(const ChatRequest& r) const override { return r.text; }
        };
        ServerOptions o;
        o.model_id = "m";
        o.max_waiting = 0;
        Running server(std::make_unique<Slow>(), o);
        const std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
        int first = 0;
        std::thread a([&] {
            httplib::Client cli("127.0.0.1", server.port);
            if (auto r = cli.Post("/v1/chat/completions", body, "application/json")) first = r->status;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        httplib::Client cli("127.0.0.1", server.port);
        const auto busy = cli.Post("/v1/chat/completions", body, "application/json");
        a.join();
        QVERIFY(busy);
        QCOMPARE(busy->status, 429);
        QVERIFY(busy->body.find("busy") != std::string::npos);
        QCOMPARE(first, 200);
        const auto again = cli.Post("/v1/chat/completions", body, "application/json");
        QVERIFY(again && again->status == 200);
    }

    // TLS: a server with a certificate the system does not trust is refused; with its CA file
    // added (on top of the system's store) the same server answers.
    void tlsWithCaFile() {
        const std::string dir = source_dir() + "/tests/fixtures/tls/";
        httplib::SSLServer tls((dir + "server-cert.pem").c_str(), (dir + "server-key.pem").c_str());
        QVERIFY(tls.is_valid());
        tls.Post("/v1/chat/completions", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(sse(delta("secure")) +
                                sse(json{{"choices", json::array({{{"index", 0}, {"delta", json::object()}, {"finish_reason", "stop"}}})}}) +
                                "data: [DONE]\n\n",
                            "text/event-stream");
        });
        const int port = tls.bind_to_any_port("127.0.0.1");
        std::thread serving([&] { tls.listen_after_bind(); });
        struct Join {  // a failed check returns early: the server still stops
            httplib::SSLServer& s;
            std::thread& t;
            ~Join() {
                s.stop();
                t.join();
            }
        } join{tls, serving};
        while (!tls.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        RemoteOptions r;
        r.url = "https://127.0.0.1:" + std::to_string(port);
        r.model = "m";
        ChatRequest req;
        req.text = "q";
        GenerateParams g;
        const QString untrusted = error_of([&] { make_remote_backend(r)->ask(req, g); });
        QVERIFY2(untrusted.contains("certificate") || untrusted.contains("TLS"),
                 qPrintable(untrusted));
        r.ca_file = dir + "server-cert.pem";
        QCOMPARE(make_remote_backend(r)->ask(req, g).text, std::string("secure"));
        r.ca_file = dir + "missing.pem";
        const QString missing = error_of([&] { make_remote_backend(r)->ask(req, g); });
        QVERIFY2(missing.contains("CA file"), qPrintable(missing));
    }

    // A fuzz-ish list of malformed requests: each a 4xx with OpenAI's error envelope; the
    // server answers /health after every one.
    void malformedRequests() {
        ServerOptions o;
        o.model_id = "m";
        o.max_body_bytes = 1 << 20;
        o.max_image_pixels = 10000;
        Running server(make_local_backend(model_), o);
        httplib::Client cli("127.0.0.1", server.port);
        cli.set_read_timeout(std::chrono::seconds(30));
        const std::string small_png = image_data_url(cv::Mat(10, 10, CV_8UC3, cv::Scalar(1, 2, 3)));
        const std::string big_png = image_data_url(cv::Mat(200, 200, CV_8UC3, cv::Scalar(1, 2, 3)));
        auto user = [](const json& content) { return json{{"role", "user"}, {"content", content}}; };
        auto with_messages = [&](const json& msgs) { return json{{"model", "m"}, {"messages", msgs}}.dump(); };
        auto image_part = [](const std::string& url) {
            return json{{"type", "image_url"}, {"image_url", {{"url", url}}}};
        };
        const std::vector<std::pair<std::string, int>> bodies = {
            {"", 400},
            {"not json", 400},
            {"{", 400},
            {"[]", 400},
            {"42", 400},
            {"null", 400},
            {R"({"model":"m"})", 400},
            {R"({"model":"m","messages":[]})", 400},
            {R"({"model":"m","messages":"hi"})", 400},
            {R"({"model":"m","messages":[1]})", 400},
            {R"({"model":"m","messages":[{"content":"hi"}]})", 400},
            {R"({"model":"m","messages":[{"role":"wizard","content":"hi"}]})", 400},
            {R"({"model":"m","messages":[{"role":"user"}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":5}]})", 400},
            {R"({"model":"m","messages":[{"role":"assistant","content":"hi"}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]})", 400},
            {R"({"model":"nope","messages":[{"role":"user","content":"hi"}]})", 404},
            {R"({"model":7,"messages":[{"role":"user","content":"hi"}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":3}]}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})", 400},
            {with_messages(json::array({user(json::array({image_part("http://example.com/a.png")}))})), 400},
            {with_messages(json::array({user(json::array({image_part("data:image/png;base64,!!!")}))})), 400},
            {with_messages(json::array({user(json::array({image_part("data:image/png;base64,aGVsbG8=")}))})), 400},
            {with_messages(json::array({user(json::array({image_part(big_png)}))})), 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1000000})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"5"})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":-1})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":0})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi <region 1>"}],"regions":[{"id":1,"box":[1,2,3]}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi <region 1>"}],"regions":[{"id":1,"box":[1,2,3,4]}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi <region 1>"}],"regions":[{"id":1,"points":[]}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi <region 1>"}],"regions":[{"id":1,"points":[[1,"a"]]}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi <region 1>"}],"regions":[{"id":1,"points":[[1,2]],"scribble":1}]})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"num_beams":0})", 400},
            {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"point_seed":-1})", 400},
            {with_messages(json::array({user(json::array({image_part(small_png), {{"type", "text"}, {"text", "what is <region 9>?"}}}))})), 400},
            {std::string(500000, '['), 400},  // deep nesting: no stack to overflow
            {std::string(2 << 20, ' '), 413},
        };
        int n = 0;
        for (const auto& [body, status] : bodies) {
            const auto res = cli.Post("/v1/chat/completions", body, "application/json");
            QVERIFY2(res, qPrintable(QString("request %1: no response").arg(n)));
            QVERIFY2(res->status == status,
                     qPrintable(QString("request %1: HTTP %2 (want %3): %4")
                                    .arg(n).arg(res->status).arg(status)
                                    .arg(QString::fromStdString(res->body.substr(0, 200)))));
            const json j = json::parse(res->body, nullptr, false);
            QVERIFY2(j.is_object() && j.contains("error") && j["error"].contains("message"),
                     qPrintable(QString::fromStdString(res->body.substr(0, 200))));
            const auto health = cli.Get("/health");
            QVERIFY(health && health->status == 200);
            ++n;
        }
        QVERIFY(n >= 30);
        // The scoring extension refuses the same way.
        for (const char* body :
             {R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
              R"({"model":"m","messages":[{"role":"user","content":"hi"}],"answer":5})",
              R"({"model":"m","messages":[{"role":"user","content":"hi"}],"answer":"x","one_turn":1})",
              R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},)"
              R"({"role":"user","content":"c"}],"answer":"x","one_turn":true})",
              "nonsense"}) {
            const auto res = cli.Post("/v1/regionchat/score", body, "application/json");
            QVERIFY(res && res->status == 400 && res->body.find("\"error\"") != std::string::npos);
        }
        const auto missing = cli.Get("/v1/nothing");
        QVERIFY(missing && missing->status == 404 && missing->body.find("\"error\"") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestRemote)
#include "test_remote.moc"
