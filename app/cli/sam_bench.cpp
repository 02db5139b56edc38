// regionchat-cli sam-bench: Segment Anything speed on this machine (a benchmark, not a test):
// the image encoder on a square image of the model's input size, and predict_batch on 1, 16
// and 64 point prompts (prompt encoder, mask decoder, masks scaled to the image, thresholded),
// medians of several runs after one warm-up.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <opencv2/core.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/sam.h"

namespace rc::cli {

int run_sam_bench(int argc, char** argv) {
    const Args args =
        parse_args(argc, argv, 2, {"model", "device", "threads", "runs"}, {"random-vit-b"});
    const int runs = args.get_int("runs", 5, 1, 1000);
    std::shared_ptr<SamModel> sam;
    if (args.flags.count("random-vit-b")) {
        if (!args.get("model").empty())
            throw UsageError("--model and --random-vit-b exclude each other");
        sam = SamModel::random(SamConfig{}, args.get("device", "auto"),
                               args.get_int("threads", 0, 0, 256));
    } else {
        SamLoadParams lp;
        lp.model_dir = args.get("model");
        if (lp.model_dir.empty()) throw UsageError("--model DIR or --random-vit-b is required");
        lp.device = args.get("device", "auto");
        lp.threads = args.get_int("threads", 0, 0, 256);
        sam = SamModel::load(lp);
    }
    const SamInfo& info = sam->info();
    std::printf("%s on %s, %d threads: %.1f M parameters, %d px input, ready in %.1f s\n",
                info.dir.c_str(), info.device.c_str(), at::get_num_threads(), info.parameters / 1e6,
                info.image_size, info.load_ms / 1e3);

    std::vector<double> encode;
    cv::Mat image(info.image_size, info.image_size, CV_8UC3);
    for (int i = 0; i <= runs; ++i) {  // run 0 warms up and is dropped
        cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(256));  // new pixels: no cache
        const double ms = sam->set_image(image);
        if (i > 0) encode.push_back(ms);
    }
    std::printf("medians of %d runs (after one warm-up), a %dx%d image:\n", runs, image.cols,
                image.rows);
    std::printf("  image encoder                %9.1f ms\n", median(encode));
    for (int batch : {1, 16, 64}) {
        std::vector<SamPrompt> prompts;
        for (int k = 0; k < batch; ++k) {
            SamPrompt p;
            p.points = {cv::Point2f(float(32 + (k * 97) % 960), float(32 + (k * 61) % 700))};
            p.labels = {1};
            prompts.push_back(p);
        }
        std::vector<double> ms;
        for (int i = 0; i <= runs; ++i) {
            const double t0 = now_ms();
            sam->predict_batch(image, prompts, batch);
            if (i > 0) ms.push_back(now_ms() - t0);
        }
        std::printf("  %2d point prompts -> masks   %9.1f ms  (%.1f ms per prompt)\n", batch,
                    median(ms), median(ms) / batch);
    }
    return 0;
}

}  // namespace rc::cli
