// Regions for any backend: `<region N>` written in a model's format, or the MMVM drawing
// (mmvm_draw.cpp) applied to the regions a user marked, so a backend can refer to them as
// "region N".
#include <algorithm>
#include <cctype>

#include <opencv2/imgproc.hpp>

#include "regionchat/point_prompt.h"
#include "regionchat/backend.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace rc {

namespace {

struct Reference {
    size_t begin = 0, end = 0;
    int id = 0;  // 0: a plain <region>
};

// Every `<region N>` / `<region>` (spaces inside allowed, any case), in order.
std::vector<Reference> find_references(const std::string& t) {
    std::vector<Reference> refs;
    auto space = [&](size_t i) { return i < t.size() && std::isspace(static_cast<uint8_t>(t[i])); };
    for (size_t at = t.find('<'); at != std::string::npos; at = t.find('<', at + 1)) {
        size_t i = at + 1;
        while (space(i)) ++i;
        static const char kWord[] = "region";
        size_t k = 0;
        while (k < 6 && i + k < t.size() &&
               std::tolower(static_cast<uint8_t>(t[i + k])) == kWord[k])
            ++k;
        if (k < 6) continue;
        i += 6;
        const size_t before_number = i;
        while (space(i)) ++i;
        int id = 0;
        size_t digits = 0;
        while (i < t.size() && std::isdigit(static_cast<uint8_t>(t[i])) && digits < 9) {
            id = id * 10 + (t[i] - '0');
            ++i;
            ++digits;
        }
        if (digits > 0 && i - before_number == digits) continue;  // "<region1>": no space
        while (space(i)) ++i;
        if (i >= t.size() || t[i] != '>') continue;
        refs.push_back({at, i + 1, digits ? id : 0});
        at = i;
    }
    return refs;
}

// Each reference with the region it names: `<region N>` the one with id N, a plain `<region>`
// the next region in order.
std::vector<std::pair<Reference, const RegionInput*>> resolve_references(
    const std::string& text, const std::vector<RegionInput>& regions) {
    std::vector<std::pair<Reference, const RegionInput*>> out;
    size_t next_plain = 0;
    for (const Reference& ref : find_references(text)) {
        const RegionInput* region = nullptr;
        if (ref.id) {
            for (const RegionInput& r : regions)
                if (r.id == ref.id) region = &r;
            if (!region) throw Error("there is no region " + std::to_string(ref.id));
        } else {
            if (next_plain >= regions.size())
                throw Error("the question has more <region> references than regions");
            region = &regions[next_plain++];
        }
        out.emplace_back(ref, region);
    }
    return out;
}

}  // namespace

std::vector<int> region_reference_ids(const std::string& text) {
    std::vector<int> ids;
    for (const Reference& r : find_references(text))
        if (r.id && std::find(ids.begin(), ids.end(), r.id) == ids.end()) ids.push_back(r.id);
    return ids;
}

std::string encode_region_references(const std::string& text,
                                     const std::vector<RegionInput>& regions, ImageSize size,
                                     const RegionFormat& format, RegionMode mode,
                                     uint32_t point_seed) {
    std::string out;
    size_t pos = 0;
    for (const auto& [ref, region] : resolve_references(text, regions)) {
        out.append(text, pos, ref.begin - pos);
        if (mode == RegionMode::Points) {
            const std::string id = std::to_string(region->id);
            out += "<points " + id + ">" +
                   point_prompt_string(region_prompt_points(*region, size, point_seed + uint32_t(region->id)),
                                       size) +
                   "</points>";
        } else if (mode == RegionMode::Tokens) {
            out += "<region_token>";
        } else {
            out += mode == RegionMode::VisualPrompt ? "region " + std::to_string(region->id)
                                                    : format.encode(region->box.normalized(), size);
        }
        pos = ref.end;
    }
    out.append(text, pos, std::string::npos);
    return out;
}

std::vector<RegionInput> region_references(const std::string& text,
                                           const std::vector<RegionInput>& regions) {
    std::vector<RegionInput> out;
    for (const auto& ref : resolve_references(text, regions)) out.push_back(*ref.second);
    return out;
}

std::vector<cv::Mat> images_with_visual_prompts(const ChatRequest& request) {
    std::vector<cv::Mat> images = request.images;
    const bool drawn = request.region_mode == RegionMode::VisualPrompt ||
                       request.region_mode == RegionMode::Tokens;
    if (!drawn) return images;
    if (!request.shown_images.empty()) {
        if (request.shown_images.size() != images.size())
            throw Error("the request has " + std::to_string(images.size()) + " images but " +
                        std::to_string(request.shown_images.size()) + " shown images");
        return request.shown_images;
    }
    if (request.regions.empty()) return images;
    if (images.empty()) throw Error("visual prompts need an image");
    std::vector<std::vector<RegionInput>> used(images.size());
    for (int id : region_reference_ids(request.text))
        for (const RegionInput& r : request.regions)
            if (r.id == id) {
                if (r.image < 0 || r.image >= int(images.size()))
                    throw Error("region " + std::to_string(r.id) + " is marked on image " +
                                std::to_string(r.image + 1) + " but the request has " +
                                std::to_string(images.size()));
                used[size_t(r.image)].push_back(r);
            }
    for (size_t i = 0; i < images.size(); ++i)
        if (!used[i].empty()) images[i] = draw_visual_prompts(to_bgr8(images[i]), used[i]);
    return images;
}

cv::Mat draw_visual_prompts(const cv::Mat& image, const std::vector<RegionInput>& regions) {
    if (image.empty()) throw Error("visual prompts need an image");
    std::vector<bench::MmvmObject> objects;
    std::vector<cv::Scalar> colours;
    bool all_coloured = true;
    for (const RegionInput& r : regions) {
        bench::MmvmObject o;
        o.id = r.id;
        o.width = image.cols;
        o.height = image.rows;
        if (!r.mask.empty() && r.mask.type() == CV_8UC1 && r.mask.size() == image.size()) {
            // The mask's outer contours become the object's polygons (holes are left out:
            // MMVM's rasterizer clears pixels covered twice, so a hole polygon would cut it).
            std::vector<std::vector<cv::Point>> contours;
            cv::findContours(r.mask.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
            for (const auto& c : contours)
                if (c.size() >= 3) o.polygons.emplace_back(c.begin(), c.end());
        }
        if (o.polygons.empty()) {
            const Box b = r.box.normalized();
            o.polygons.push_back({{float(b.x0), float(b.y0)},
                                  {float(b.x1), float(b.y0)},
                                  {float(b.x1), float(b.y1)},
                                  {float(b.x0), float(b.y1)}});
        }
        objects.push_back(std::move(o));
        all_coloured = all_coloured && r.colour_b >= 0 && r.colour_g >= 0 && r.colour_r >= 0;
        colours.emplace_back(r.colour_b, r.colour_g, r.colour_r);
    }
    if (!all_coloured) colours.clear();  // the MMVM palette for every region
    return bench::draw_mmvm_prompt(image, objects, /*query=*/false, colours);
}

}  // namespace rc
