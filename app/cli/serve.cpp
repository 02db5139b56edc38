// regionchat-cli serve: the local engine (any family the registry knows) behind OpenAI's
// chat-completions API (rc::ChatServer), for the app's remote backend and any other client.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/backend.h"
#include "regionchat/image_io.h"
#include "regionchat/remote.h"
#include "regionchat/server.h"

namespace rc::cli {

namespace {
ChatServer* g_server = nullptr;
void on_signal(int) {
    if (g_server) g_server->stop();
}
}  // namespace

int run_serve(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2,
                                 {"model", "host", "port", "api-key", "device", "dtype", "threads",
                                  "max-queue", "max-body-mb", "max-image-mpx", "model-id"},
                                 {});
    ServerOptions o;
    o.host = args.get("host", "127.0.0.1");
    o.port = args.get_int("port", 8080, 0, 65535);
    o.api_key = args.get("api-key", "");
    if (o.api_key.empty())
        if (const char* k = std::getenv("REGIONCHAT_API_KEY"); k && *k) o.api_key = k;
    o.max_waiting = args.get_int("max-queue", 4, 0, 1000);
    o.max_body_bytes = size_t(args.get_int("max-body-mb", 64, 1, 4096)) << 20;
    o.max_image_pixels = int64_t(args.get_double("max-image-mpx", 40, 0.01, 1000) * 1e6);
    auto model = load_model(args);
    o.model_id = args.get("model-id",
                          std::filesystem::path(model->info().dir).filename().string());
    ChatServer server(make_local_backend(model), o);
    const int port = server.bind();
    g_server = &server;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::printf("serving %s at http://%s:%d/v1 (%s)\n", o.model_id.c_str(), o.host.c_str(), port,
                o.api_key.empty() ? "no API key" : "API key required");
    std::fflush(stdout);
    server.run();
    g_server = nullptr;
    return 0;
}

// regionchat-cli serve-bench: time to first token of one question with an image, in process and
// through the server on loopback (RemoteBackend -> HTTP -> ChatServer -> the same engine), each
// a fresh conversation whose prompt the KV cache already holds; medians of --runs (a benchmark,
// not a test). The difference is what HTTP, JSON and the image's PNG round trip cost.
int run_serve_bench(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2, {"model", "device", "dtype", "threads", "runs", "image"},
                                 {"json"});
    const int runs = args.get_int("runs", 10, 1, 1000);
    auto model = load_model(args);
    const std::string image_path =
        args.get("image", std::filesystem::path(resolve_model_dir(args)).parent_path().parent_path()
                              .append("samples/scene_1000000000.png").string());
    const cv::Mat image = load_image(image_path);
    ServerOptions o;
    o.port = 0;
    o.model_id = "bench";
    ChatServer server(make_local_backend(model), o);
    const int port = server.bind();
    std::thread serving([&] { server.run(); });
    RemoteOptions r;
    r.url = "http://127.0.0.1:" + std::to_string(port);
    r.model = "bench";
    auto remote = make_remote_backend(r);
    auto local = make_local_backend(model);
    ChatRequest q;
    q.text = "Where is the red circle?";
    q.images = {image};
    GenerateParams g;
    g.max_new_tokens = 1;
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::vector<double> in_process, served, totals_in, totals_served;
    std::string a, b;
    for (int i = 0; i <= runs; ++i) {  // the first of each is a warm-up
        local->truncate(0);  // as the server does: the KV cache keeps the shared prefix
        const Reply x = local->ask(q, g);
        remote->reset();
        const Reply y = remote->ask(q, g);
        if (i == 0) continue;
        in_process.push_back(x.timings.first_token_ms);
        served.push_back(y.timings.first_token_ms);
        a = x.text;
        b = y.text;
    }
    server.stop();
    serving.join();
    const double mi = median(in_process), ms = median(served);
    if (args.flags.count("json")) {
        std::printf("{\"runs\": %d, \"first_token_ms_in_process\": %.2f, "
                    "\"first_token_ms_served\": %.2f, \"difference_ms\": %.2f, "
                    "\"same_answer\": %s}\n",
                    runs, mi, ms, ms - mi, a == b ? "true" : "false");
    } else {
        std::printf("time to first token, median of %d (%dx%d image, prompt cached):\n", runs,
                    image.cols, image.rows);
        std::printf("  in process        %8.2f ms\n  through serve     %8.2f ms\n"
                    "  difference        %8.2f ms\n  same answer       %s\n",
                    mi, ms, ms - mi, a == b ? "yes" : "no");
    }
    return a == b ? 0 : 1;
}

}  // namespace rc::cli
