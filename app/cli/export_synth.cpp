// regionchat-cli export-synth: held-out synthetic scenes as image files plus annotations.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/error.h"
#include "regionchat/synth.h"

namespace rc::cli {

namespace fs = std::filesystem;
using nlohmann::json;

int run_export_synth(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2, {"seed", "count", "out", "renderer", "max-objects"},
                                 {"no-augment"});
    const int seed = args.get_int("seed", 1'000'000'000, 0, 2'147'483'647);
    const int count = args.get_int("count", 10, 1, 100000);
    const fs::path out = args.require("out");
    const synth::SceneOptions so = scene_options(args);

    fs::create_directories(out / "images");
    fs::create_directories(out / "mme" / "Data_json");
    fs::create_directories(out / "mme" / "images" / "existence");
    std::ofstream scenes(out / "scenes.jsonl"), grounding(out / "grounding.jsonl");
    std::ofstream mme(out / "mme" / "Data_json" / "existence.txt");
    if (!scenes || !grounding || !mme) throw Error(out.string() + ": cannot write there");
    for (int i = 0; i < count; ++i) {
        const uint64_t s = static_cast<uint64_t>(seed) + i;
        const auto scene = synth::generate_scene(s, so);
        const std::string rel = "images/scene_" + std::to_string(s) + ".png";
        if (!cv::imwrite((out / rel).string(), scene.image))
            throw Error((out / rel).string() + ": cannot write");
        json objects = json::array();
        for (const auto& o : scene.objects) {
            const json box = {o.box.x0, o.box.y0, o.box.x1, o.box.y1};
            objects.push_back({{"colour", synth::colour_name(o.colour)},
                               {"shape", synth::shape_name(o.shape)},
                               {"box", box}});
            int same = 0;
            for (const auto& p : scene.objects) same += p.colour == o.colour && p.shape == o.shape;
            if (same == 1)
                grounding << json{{"image", rel},
                                  {"expression", std::string("the ") +
                                                     synth::colour_name(o.colour) + " " +
                                                     synth::shape_name(o.shape)},
                                  {"box", box}}
                                 .dump()
                          << "\n";
        }
        if (!scene.objects.empty()) {
            // MME layout: two questions per image, one "Yes" and one "No", consecutive.
            const std::string name = "scene_" + std::to_string(s) + ".png";
            const fs::path copy = out / "mme" / "images" / "existence" / name;
            std::error_code ec;
            fs::remove(copy, ec);
            fs::create_hard_link(out / rel, copy, ec);
            if (ec && !fs::copy_file(out / rel, copy, fs::copy_options::overwrite_existing))
                throw Error(copy.string() + ": cannot write");
            const auto [yes, no] = synth::existence_pair(scene, s);
            mme << name << "\t" << yes << "\tYes\n" << name << "\t" << no << "\tNo\n";
        }
        scenes << json{{"image", rel},
                       {"seed", s},
                       {"width", scene.image.cols},
                       {"height", scene.image.rows},
                       {"objects", objects}}
                      .dump()
               << "\n";
    }
    std::fprintf(stderr, "%d scene(s) written to %s\n", count, out.string().c_str());
    return 0;
}

}  // namespace rc::cli
