// regionchat-cli ask: one question about one image, streamed or as one JSON object.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/image_io.h"
#ifdef REGIONCHAT_HAS_REMOTE
#include "regionchat/remote.h"
#endif

namespace rc::cli {

int run_ask(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2,
                                 {"model", "image", "box", "question", "max-new-tokens", "device",
                                  "dtype", "threads", "temperature", "top-p", "seed", "beams", "length-penalty", "server",
                                  "server-model", "api-key", "region-format", "server-extra",
                                  "server-scoring", "score", "points", "scribble", "mask", "point-seed"},
                                 {"json", "no-client-resize"});
    args.require("image");
    const std::string question = args.require("question");
    GenerateParams gp = generate_params(args);
    const bool json = args.flags.count("json") > 0;

    // --image may repeat (a question about several images; CoLVA's two frames): regions name
    // theirs with "@K" (1-based), the first by default.
    std::vector<cv::Mat> images;
    std::vector<ImageSize> sizes;
    for (const std::string& path : args.options.at("image")) {
        images.push_back(load_image(path));
        sizes.push_back({images.back().cols, images.back().rows});
    }
    const double t_load = now_ms();
    // --server: an OpenAI-compatible server answers instead of a local model.
    std::shared_ptr<Model> model;
    std::unique_ptr<ChatBackend> backend;
    if (args.has("server")) {
#ifdef REGIONCHAT_HAS_REMOTE
        RemoteOptions o;
        o.url = args.get("server");
        o.model = args.get("server-model", "");
        o.api_key = api_key_from_args(args);
        o.region_format = args.get("region-format", "");
        o.extra_body = args.get("server-extra", "");
        o.scoring = args.get("server-scoring", "");
        o.client_resize = !args.flags.count("no-client-resize");
        backend = make_remote_backend(o);
#else
        throw UsageError("--server: this build has no remote backend (cpp-httplib not found)");
#endif
    } else {
        model = load_model(args);
        backend = make_local_backend(model);
    }
    const double load_ms = now_ms() - t_load;
    ChatRequest request;
    request.text = question;
    request.images = images;
    request.regions = regions_from_args(args, question, sizes);
    request.point_seed = uint32_t(args.get_int("point-seed", 0, 0, 2147483647));
    const std::string prompt = backend->render_question(request);
    // --score TEXT: the mean NLL of each candidate answer to this question (DualFocus'
    // perplexity choice), before the question is asked.
    nlohmann::json scores = nlohmann::json::array();
    if (args.has("score"))
        for (const std::string& candidate : args.options.at("score"))
            scores.push_back({{"answer", candidate}, {"nll", backend->score(request, candidate)}});

    if (!json) {
        gp.on_token = [](const std::string& piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
        };
    }
    const Reply reply = backend->ask(request, gp);
    if (!json) {
        std::printf("\n");
        return 0;
    }
    nlohmann::json out;
    out["answer"] = reply.text;
    out["prompt"] = prompt;
    out["boxes"] = nlohmann::json::array();
    for (const auto& pb : reply.boxes)
        out["boxes"].push_back({pb.box.x0, pb.box.y0, pb.box.x1, pb.box.y1});
    out["stop_reason"] = to_string(reply.stop_reason);
    if (backend->info().capabilities.region_point_prompts) out["point_seed"] = request.point_seed;
    if (!scores.empty()) out["scores"] = scores;
    out["timings_ms"] = {{"load", load_ms},
                         {"image_encode", reply.timings.image_encode_ms},
                         {"prefill", reply.timings.prefill_ms},
                         {"first_token", reply.timings.first_token_ms},
                         {"total", reply.timings.total_ms}};
    out["tokens_per_s"] = reply.timings.tokens_per_s;
    out["prompt_tokens"] = reply.timings.prompt_tokens;
    out["generated_tokens"] = reply.timings.generated_tokens;
    if (model) {
        out["model"] = model->info().dir;
        out["device"] = to_string(model->info().device);
        out["dtype"] = to_string(model->info().dtype);
    } else {
        out["model"] = backend->info().name;
        out["device"] = "remote";
    }
    std::cout << out.dump() << std::endl;
    return 0;
}

}  // namespace rc::cli
