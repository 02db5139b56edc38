// regionchat-cli eval-synth: accuracy per task on held-out synthetic scenes, plus speed medians.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/error.h"
#include "regionchat/synth.h"

namespace rc::cli {

namespace {

std::string normalize_answer(std::string s) {
    while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == '.'))
        s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    s = s.substr(i);
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The targets per task (MODEL_CARD.md); DualFocus micro has none.
double target_for(synth::Task t) {
    switch (t) {
        case synth::Task::RegionDescription:
            return 0.95;
        case synth::Task::RegionColour:
            return 0.97;
        case synth::Task::RegionShape:
            return 0.97;
        case synth::Task::Grounding:
            return 0.90;
        case synth::Task::Existence:
            return 0.95;
        case synth::Task::Counting:
            return 0.90;
        case synth::Task::DualFocusBox:
            return 0.85;
        case synth::Task::DualFocusMicro:
            return 0;
    }
    return 0;
}

}  // namespace

int run_eval_synth(int argc, char** argv) {
    const Args args = parse_args(
        argc, argv, 2,
        {"model", "seed", "count", "renderer", "max-objects", "device", "dtype", "threads"},
        {"json", "no-augment"});
    const int seed = args.get_int("seed", 1'000'000'000, 0, 2'147'483'647);
    if (static_cast<uint64_t>(seed) < 1'000'000'000ull)
        throw UsageError("--seed must be at least 1000000000: lower seeds are training scenes");
    const int count = args.get_int("count", 100, 1, 1'000'000);
    const synth::SceneOptions so = scene_options(args);

    auto model = load_model(args);
    GenerateParams gp;
    gp.max_new_tokens = 32;
    std::map<synth::Task, std::pair<int, int>> score;  // task -> (correct, total)
    std::vector<double> total_ms, encode_ms, prefill_ms, tps;
    const double t0 = now_ms();
    for (int i = 0; i < count; ++i) {
        const uint64_t s = static_cast<uint64_t>(seed) + i;
        const auto scene = synth::generate_scene(s, so);
        const ImageSize size{scene.image.cols, scene.image.rows};
        for (const auto& sample : synth::make_samples(scene, s)) {
            Session session(model);
            for (size_t k = 0; k < sample.turns.size(); ++k) {
                const auto& turn = sample.turns[k];
                std::vector<cv::Mat> images;
                if (turn.image == 0) images.push_back(scene.image);
                if (turn.image == 1) images.push_back(sample.crop);
                const Reply r = session.ask(turn.question, images, gp);
                bool ok;
                if (turn.answer_is_box) {
                    const auto boxes = model->region_format().parse(r.text, size);
                    ok = !boxes.empty() && iou(boxes.front().box, turn.answer_box) >= 0.5;
                } else {
                    ok = normalize_answer(r.text) == normalize_answer(turn.answer);
                }
                auto& sc = score[turn.task];
                sc.first += ok;
                sc.second += 1;
                if (k == 0 && turn.task == synth::Task::RegionDescription) {
                    total_ms.push_back(r.timings.total_ms);
                    encode_ms.push_back(r.timings.image_encode_ms);
                    prefill_ms.push_back(r.timings.prefill_ms);
                    if (r.timings.tokens_per_s > 0) tps.push_back(r.timings.tokens_per_s);
                }
            }
        }
        std::fprintf(stderr, "\r[%d/%d] scenes, %.0f s", i + 1, count, (now_ms() - t0) / 1000);
    }
    std::fprintf(stderr, "\n");

    nlohmann::json j;
    j["model"] = model->info().dir;
    j["seed"] = seed;
    j["count"] = count;
    j["renderer"] = args.get("renderer", "train");
    bool all_met = true;
    std::printf("| task | questions | accuracy | target |\n|---|---:|---:|---:|\n");
    for (const auto& [task, sc] : score) {
        const double acc = sc.second ? double(sc.first) / sc.second : 0;
        const double target = target_for(task);
        if (target > 0 && acc < target) all_met = false;
        std::printf("| %s | %d | %.3f | %s |\n", synth::task_name(task), sc.second, acc,
                    target > 0 ? (std::to_string(target).substr(0, 4) +
                                  (acc >= target ? " met" : " MISSED"))
                                     .c_str()
                               : "-");
        j["tasks"][synth::task_name(task)] = {
            {"questions", sc.second}, {"accuracy", acc}, {"target", target}};
    }
    std::printf(
        "\nregion question (first turn, %zu asked): median total %.1f ms, image encode %.1f ms, "
        "prefill %.1f ms, decode %.1f tokens/s\n",
        total_ms.size(), median(total_ms), median(encode_ms), median(prefill_ms), median(tps));
    j["speed"] = {{"median_total_ms", median(total_ms)},
                  {"median_image_encode_ms", median(encode_ms)},
                  {"median_prefill_ms", median(prefill_ms)},
                  {"median_tokens_per_s", median(tps)}};
    j["all_targets_met"] = all_met;
    if (args.flags.count("json")) std::cout << j.dump(2) << std::endl;
    return 0;
}

}  // namespace rc::cli
