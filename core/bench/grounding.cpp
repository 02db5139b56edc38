// Grounding sets as JSONL (image, expression, box in pixels) and their score: Acc@0.5 and
// mean IoU.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace rc {
namespace bench {

namespace {

void load_jsonl_file(const fs::path& file, LoadReport* report) {
    std::string text;
    if (!detail::read_text_file(file, &text))
        throw Error("cannot read the grounding file '" + file.string() + "'");
    const fs::path base = file.parent_path();
    const std::string name = file.filename().string();
    const std::string task = file.stem().string();

    const std::vector<std::string> lines = detail::split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
        if (detail::trim(lines[i]).empty()) continue;
        const std::string where = name + ":" + std::to_string(i + 1);
        auto skip = [&](const std::string& why) { report->skipped.push_back(where + ": " + why); };

        const json j = json::parse(lines[i], nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            skip("not a JSON object");
            continue;
        }
        if (!j.contains("image") || !j["image"].is_string()) {
            skip("no \"image\" string");
            continue;
        }
        if (!j.contains("expression") || !j["expression"].is_string()) {
            skip("no \"expression\" string");
            continue;
        }
        if (!j.contains("box") || !j["box"].is_array() || j["box"].size() != 4 ||
            !std::all_of(j["box"].begin(), j["box"].end(),
                         [](const json& v) { return v.is_number(); })) {
            skip("\"box\" is not [x0, y0, x1, y1]");
            continue;
        }
        const json& b = j["box"];
        const Box box =
            Box{b[0].get<double>(), b[1].get<double>(), b[2].get<double>(), b[3].get<double>()}
                .normalized();
        if (!(box.area() > 0)) {
            skip("the box has no area");
            continue;
        }
        const std::string image = j["image"].get<std::string>();
        fs::path path;
        std::string why;
        if (!detail::resolve_inside(base, image, &path, &why)) {
            skip("image '" + image + "': " + why);
            continue;
        }
        if (!detail::is_file(path)) {
            skip("missing image " + image);
            continue;
        }

        BenchCase c;
        c.format = "grounding";
        c.task = task;
        c.source = where;
        if (j.contains("id") && (j["id"].is_string() || j["id"].is_number_integer()))
            c.id = j["id"].is_string() ? j["id"].get<std::string>()
                                       : std::to_string(j["id"].get<long long>());
        else
            c.id = task + ":" + std::to_string(i + 1);
        c.images = {detail::absolute_path(path)};
        c.image_names = {image};
        c.question = j["expression"].get<std::string>();
        c.has_box = true;
        c.box = box;
        report->cases.push_back(std::move(c));
    }
}

}  // namespace

LoadReport load_grounding(const std::string& jsonl_path) {
    LoadReport report;
    const fs::path p(jsonl_path);
    if (detail::is_file(p)) {
        load_jsonl_file(p, &report);
        return report;
    }
    if (!detail::is_dir(p))
        throw Error("grounding set '" + jsonl_path + "' is neither a .jsonl file nor a folder");
    // A folder: every *.jsonl in it, in name order.
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".jsonl" && detail::is_file(it->path()))
            files.push_back(it->path());
    if (ec) throw Error("cannot list '" + jsonl_path + "': " + ec.message());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) load_jsonl_file(f, &report);
    return report;
}

GroundingScore score_grounding(const std::vector<CaseResult>& results) {
    GroundingScore s;
    double iou_sum = 0;
    for (const CaseResult& r : results) {
        const BenchCase& c = r.bench_case;
        if (c.format != "grounding" || !c.has_box) continue;
        const double v = r.has_pred_box ? iou(r.pred_box.normalized(), c.box.normalized()) : 0.0;
        ++s.n;
        iou_sum += v;
        if (v >= 0.5) ++s.hits;
    }
    if (s.n > 0) {
        s.acc_at_05 = double(s.hits) / s.n;
        s.mean_iou = iou_sum / s.n;
    }
    return s;
}

}  // namespace bench
}  // namespace rc
