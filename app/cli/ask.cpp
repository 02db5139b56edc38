// regionchat-cli ask: one question about one image, streamed or as one JSON object.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/image_io.h"

namespace rc::cli {

int run_ask(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2,
                                 {"model", "image", "box", "question", "max-new-tokens", "device",
                                  "dtype", "threads", "temperature", "top-p", "seed"},
                                 {"json"});
    const std::string image_path = args.require("image");
    const std::string question = args.require("question");
    std::vector<Box> boxes;
    if (args.has("box"))
        for (const auto& b : args.options.at("box")) boxes.push_back(parse_box(b));
    GenerateParams gp = generate_params(args);
    const bool json = args.flags.count("json") > 0;

    cv::Mat image = load_image(image_path);
    const ImageSize size{image.cols, image.rows};
    const double t_load = now_ms();
    auto model = load_model(args);
    const double load_ms = now_ms() - t_load;
    ChatRequest request;
    request.text = question;
    request.images = {image};
    request.regions = regions_for(question, boxes, size);
    auto backend = make_local_backend(model);
    const std::string prompt = backend->render_question(request);

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
    out["timings_ms"] = {{"load", load_ms},
                         {"image_encode", reply.timings.image_encode_ms},
                         {"prefill", reply.timings.prefill_ms},
                         {"first_token", reply.timings.first_token_ms},
                         {"total", reply.timings.total_ms}};
    out["tokens_per_s"] = reply.timings.tokens_per_s;
    out["prompt_tokens"] = reply.timings.prompt_tokens;
    out["generated_tokens"] = reply.timings.generated_tokens;
    out["model"] = model->info().dir;
    out["device"] = to_string(model->info().device);
    out["dtype"] = to_string(model->info().dtype);
    std::cout << out.dump() << std::endl;
    return 0;
}

}  // namespace rc::cli
