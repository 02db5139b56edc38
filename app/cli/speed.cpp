// regionchat-cli speed: a model's speed on one device (a benchmark, not a test): load time,
// image encode, prefill of image tokens + N text tokens (the chat template's own tokens
// included), decode tokens/s, and that decode rate against the memory-bandwidth bound
// (weight bytes read once per token). Every answer is --new-tokens long (the end-of-sequence
// token is held back until then, as transformers' min_new_tokens), and a second question in
// the same conversation (--second-tokens text tokens, no new image) times the second turn's
// first token, with the first turn's KV cache reused. Peak resident memory (VmHWM) closes it.
#include <algorithm>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/tokenizer.h"

namespace rc::cli {

namespace {

// A question of at least `tokens` tokens (and at least one word) in the model's tokenizer.
std::string question_of(const Tokenizer& tok, int tokens) {
    static const char* words[] = {"Describe", "the", "objects", "in", "this", "picture",
                                  "and",      "their", "colors", "shapes", "positions", "sizes"};
    std::string q;
    for (size_t i = 0; q.empty() || int(tok.encode(q).size()) < tokens; ++i)
        q += (q.empty() ? "" : " ") + std::string(words[i % std::size(words)]);
    return q + "?";
}

}  // namespace

int run_speed(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2,
                                 {"model", "device", "dtype", "threads", "runs", "text-tokens",
                                  "new-tokens", "second-tokens"},
                                 {"json"});
    const int runs = args.get_int("runs", 5, 1, 1000);
    const int text_tokens = args.get_int("text-tokens", 50, 1, 4000);
    const int new_tokens = args.get_int("new-tokens", 64, 2, 4000);
    const int second_tokens = args.get_int("second-tokens", 20, 1, 4000);
    LoadParams lp;
    lp.model_dir = resolve_model_dir(args);
    lp.device = args.get("device", "auto");
    lp.dtype = parse_precision(args.get("dtype", "auto"));
    const double plan_t0 = now_ms();
    const ModelPlan plan = plan_model(lp);  // what the model manager shows, per device/dtype
    const double plan_ms = now_ms() - plan_t0;
    // Resident memory before and after the load: what loading takes, against the plan's weights.
    auto status_bytes = [](const char* key) {  // a "Vm...:  N kB" line of /proc/self/status
        std::ifstream in("/proc/self/status");
        uint64_t kb = 0;
        for (std::string line; std::getline(in, line);)
            if (line.rfind(key, 0) == 0) kb = std::stoull(line.substr(std::strlen(key)));
        return kb * 1024;
    };
    auto rss_bytes = [&] { return status_bytes("VmRSS:"); };
    const uint64_t rss_before = rss_bytes();
    auto model = load_model(args);
    const uint64_t load_rss = rss_bytes() - std::min(rss_bytes(), rss_before);
    const ModelInfo& info = model->info();
    const int image_tokens = model->config().image_tokens();
    GenerateParams gp;
    gp.max_new_tokens = new_tokens;
    gp.min_new_tokens = new_tokens;
    auto ask_in = [&](Session& session, const std::string& question) {
        cv::Mat image(480, 640, CV_8UC3);
        cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(256));  // new pixels: no cache
        return session.ask(question, {image}, gp);
    };
    auto ask = [&](const std::string& question) {
        Session session(model);
        return ask_in(session, question);
    };
    // The template's own tokens (system text, roles, separators) count as text tokens: one
    // untimed question of one word measures them, the question then fills the rest.
    const Tokenizer& tok = model->tokenizer();
    const std::string probe = question_of(tok, 1);
    const int template_tokens = ask(probe).timings.prompt_tokens - image_tokens -
                                int(tok.encode(probe).size());
    const std::string question = question_of(tok, text_tokens - template_tokens);
    // The second turn: its own words and template tokens (the user's role, separators).
    const std::string follow_up = question_of(tok, std::max(1, second_tokens - template_tokens));

    std::vector<double> encode, prefill, tps, first, second_first;
    int prompt_tokens = 0, generated = 0, second_new = 0;
    for (int i = 0; i <= runs; ++i) {  // run 0 warms up (kernels, allocator) and is dropped
        Session session(model);
        const Reply r = ask_in(session, question);
        const Reply r2 = session.ask(follow_up, {}, gp);
        if (i == 0) continue;
        second_first.push_back(r2.timings.first_token_ms);
        second_new = r2.timings.prompt_tokens - r2.timings.reused_tokens;
        encode.push_back(r.timings.image_encode_ms);
        prefill.push_back(r.timings.prefill_ms);
        first.push_back(r.timings.first_token_ms);
        if (r.timings.tokens_per_s > 0) tps.push_back(r.timings.tokens_per_s);
        prompt_tokens = r.timings.prompt_tokens;
        generated = std::max(generated, r.timings.generated_tokens);
    }
    // Read before the bandwidth probe, whose two 256 MB buffers are not the model's.
    const uint64_t peak_rss = status_bytes("VmHWM:");
    const double bandwidth = copy_bandwidth_gbs(info.device);
    const double bound = bandwidth * 1e9 / double(info.decode_weight_bytes);
    const double decode = median(tps);

    nlohmann::json j = {{"model", info.dir},
                        {"device", to_string(info.device)},
                        {"dtype", to_string(info.dtype)},
                        {"parameters", info.parameters},
                        {"weight_bytes", info.weight_bytes},
                        {"decode_weight_bytes", info.decode_weight_bytes},
                        {"load_ms", info.load_ms},
                        {"plan_ms", plan_ms},
                        {"plan_bytes_needed", plan.bytes_needed},
                        {"plan_weight_bytes", plan.weight_bytes},
                        {"load_rss_bytes", load_rss},
                        {"plan_bytes_free", plan.bytes_free},
                        {"runs", runs},
                        {"image_tokens", image_tokens},
                        {"prompt_tokens", prompt_tokens},
                        {"template_tokens", template_tokens},
                        {"generated_tokens", generated},
                        {"median_image_encode_ms", median(encode)},
                        {"median_prefill_ms", median(prefill)},
                        {"median_first_token_ms", median(first)},
                        {"median_decode_tokens_per_s", decode},
                        {"second_turn_new_tokens", second_new},
                        {"median_second_turn_first_token_ms", median(second_first)},
                        {"peak_rss_bytes", peak_rss},
                        {"copy_bandwidth_gbs", bandwidth},
                        {"bandwidth_bound_tokens_per_s", bound},
                        {"fraction_of_bound", bound > 0 ? decode / bound : 0.0}};
    if (args.flags.count("json")) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("%s on %s in %s: %.2f B parameters, %.2f GB of weights, loaded in %.1f s\n",
                info.dir.c_str(), to_string(info.device).c_str(), to_string(info.dtype).c_str(), info.parameters / 1e9,
                info.weight_bytes / 1e9, info.load_ms / 1e3);
    std::printf("plan (%.0f ms): needs %.2f GB, %.2f GB free on the device%s\n", plan_ms,
                plan.bytes_needed / 1e9, plan.bytes_free / 1e9, plan.fits ? "" : " (does not fit)");
    std::printf("plan's weights %.3f GB; resident memory the load added %.3f GB (%.1f%%)\n",
                plan.weight_bytes / 1e9, load_rss / 1e9,
                plan.weight_bytes ? 100.0 * (double(load_rss) / plan.weight_bytes - 1) : 0.0);
    std::printf("medians of %d runs (after one warm-up):\n", runs);
    std::printf("  image encode            %9.1f ms\n", median(encode));
    std::printf("  prefill %4d tokens      %9.1f ms  (%d image + %d text, %d of them the "
                "template's)\n",
                prompt_tokens, median(prefill), image_tokens, prompt_tokens - image_tokens,
                template_tokens);
    std::printf("  first token             %9.1f ms\n", median(first));
    std::printf("  decode                  %9.1f tokens/s  (%d tokens)\n", decode, generated);
    std::printf("  second turn first token %9.1f ms  (%d new prompt tokens; %.2fx the first turn's)\n",
                median(second_first), second_new,
                median(first) > 0 ? median(second_first) / median(first) : 0.0);
    std::printf("  peak resident memory    %9.0f MB\n", peak_rss / 1e6);
    std::printf("  copy bandwidth          %9.1f GB/s -> bound %.1f tokens/s; decode at %.0f%%\n",
                bandwidth, bound, bound > 0 ? 100 * decode / bound : 0.0);
    return 0;
}

}  // namespace rc::cli
