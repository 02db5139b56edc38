// regionchat-cli batch: many single-turn cases from a JSONL file; the model loads once.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace rc::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Reads the boxes field: a list of [x0, y0, x1, y1] pixel lists (or absent).
std::vector<Box> read_boxes(const json& obj) {
    std::vector<Box> boxes;
    if (!obj.contains("boxes") || obj["boxes"].is_null()) return boxes;
    const json& arr = obj["boxes"];
    if (!arr.is_array()) throw Error("'boxes' must be a list of [x0, y0, x1, y1] lists");
    for (const auto& b : arr) {
        if (!b.is_array() || b.size() != 4) throw Error("each box must be [x0, y0, x1, y1]");
        double v[4];
        for (int i = 0; i < 4; ++i) {
            if (!b[i].is_number()) throw Error("box coordinates must be numbers");
            v[i] = b[i].get<double>();
            if (!std::isfinite(v[i])) throw Error("box coordinates must be finite");
        }
        boxes.push_back(Box{v[0], v[1], v[2], v[3]}.normalized());
    }
    return boxes;
}

}  // namespace

int run_batch(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2,
                                 {"model", "input", "output", "max-new-tokens", "device", "dtype",
                                  "threads", "temperature", "top-p", "seed", "beams", "length-penalty"},
                                 {});
    const fs::path input = args.require("input");
    const fs::path output = args.require("output");
    std::ifstream in(input);
    if (!in) throw Error(input.string() + ": cannot open the file");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    size_t cases = 0;
    for (const auto& l : lines)
        if (l.find_first_not_of(" \t\r") != std::string::npos) ++cases;

    auto model = load_model(args);
    const GenerateParams gp = generate_params(args);
    std::ofstream out(output);
    if (!out) throw Error(output.string() + ": cannot write the file");
    const fs::path base = input.parent_path();
    const bool tty = isatty(STDERR_FILENO);
    size_t done = 0, ok = 0, skipped = 0;
    const double t_start = now_ms();
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        ++done;
        const std::string where = input.filename().string() + ":" + std::to_string(i + 1);
        try {
            json obj = json::parse(line);
            if (!obj.is_object()) throw Error("the line is not a JSON object");
            if (!obj.contains("image") || !obj["image"].is_string())
                throw Error("missing string field 'image'");
            if (!obj.contains("question") || !obj["question"].is_string())
                throw Error("missing string field 'question'");
            const fs::path rel = obj["image"].get<std::string>();
            const fs::path img_path = rel.is_absolute() ? rel : base / rel;
            const cv::Mat image = load_image(img_path.string());
            const ImageSize size{image.cols, image.rows};
            ChatRequest request;
            request.text = obj["question"].get<std::string>();
            request.images = {image};
            request.regions = regions_for(request.text, read_boxes(obj), size);
            const double t0 = now_ms();
            const Reply reply = make_local_backend(model)->ask(request, gp);
            obj["prediction"] = reply.text;
            obj["pred_boxes"] = json::array();
            for (const auto& pb : reply.boxes)
                obj["pred_boxes"].push_back({pb.box.x0, pb.box.y0, pb.box.x1, pb.box.y1});
            obj["ms"] = now_ms() - t0;
            out << obj.dump() << "\n";
            out.flush();
            ++ok;
        } catch (const json::exception& e) {
            ++skipped;
            std::fprintf(stderr, "%s%s: not valid JSON (%s); skipped\n", tty ? "\r\033[K" : "",
                         where.c_str(), e.what());
        } catch (const std::exception& e) {
            ++skipped;
            std::fprintf(stderr, "%s%s: %s; skipped\n", tty ? "\r\033[K" : "", where.c_str(),
                         e.what());
        }
        print_progress(done, cases, t_start, tty);
    }
    std::fprintf(stderr, "%s%zu case(s) answered, %zu skipped, %.1f s\n", tty ? "\r\033[K" : "", ok,
                 skipped, (now_ms() - t_start) / 1000.0);
    return ok == 0 && cases > 0 ? 1 : 0;
}

}  // namespace rc::cli
