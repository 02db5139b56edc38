// Visual prompts for chat regions: the MMVM drawing (mmvm_draw.cpp) applied to the regions a
// user marked, so any backend can refer to them as "region N".
#include <opencv2/imgproc.hpp>

#include "regionchat/backend.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"

namespace rc {

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
