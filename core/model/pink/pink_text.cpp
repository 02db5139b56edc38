// Pink's region format and chat template (pink/conversation.py, datasets/BaseDataset.py).
#include <algorithm>

#include "model/pink/pink.h"
#include "text/region_scan.h"

namespace rc {

namespace {

using namespace region_text;

// Pink (Shikra-like): "<loc>[x0,y0,x1,y1]</loc>", 3 decimals, no spaces. With pad_to_square the
// values are relative to the square of side max(w, h) in which LLaVA's expand2square pastes the
// image at ((side - w) / 2, (side - h) / 2), integer division.
class PinkFormat : public RegionFormat {
public:
    explicit PinkFormat(bool pad_to_square) : pad_(pad_to_square) {}
    std::string name() const override { return kPinkName; }

    std::string encode(const Box& pixels, ImageSize size) const override {
        const Frame f = frame(size);
        const Box b = pixels.normalized();
        return "<loc>[" + fixed(clamp01((b.x0 + f.ox) / f.w), 3) + "," +
               fixed(clamp01((b.y0 + f.oy) / f.h), 3) + "," +
               fixed(clamp01((b.x1 + f.ox) / f.w), 3) + "," +
               fixed(clamp01((b.y1 + f.oy) / f.h), 3) + "]</loc>";
    }

    std::vector<ParsedBox> parse(const std::string& text, ImageSize size) const override {
        std::vector<ParsedBox> out;
        if (size.width <= 0 || size.height <= 0) return out;
        const Frame f = frame(size);
        static const std::string kOpen = "<loc>";
        static const std::string kClose = "</loc>";
        for (const Group& g : scan_groups(text)) {
            const Box b{clamp01(g.v[0]) * f.w - f.ox, clamp01(g.v[1]) * f.h - f.oy,
                        clamp01(g.v[2]) * f.w - f.ox, clamp01(g.v[3]) * f.h - f.oy};
            ParsedBox p;
            if (!finish_box(b, size, p.box)) continue;
            // The span covers the <loc> tags when they are there, so callers can replace it.
            p.begin = g.begin;
            p.end = g.end;
            if (p.begin >= kOpen.size() &&
                text.compare(p.begin - kOpen.size(), kOpen.size(), kOpen) == 0)
                p.begin -= kOpen.size();
            if (text.compare(p.end, kClose.size(), kClose) == 0) p.end += kClose.size();
            out.push_back(p);
        }
        return out;
    }

private:
    // The normalization frame: its size and the image's offset inside it.
    struct Frame {
        double w = 1, h = 1, ox = 0, oy = 0;
    };
    Frame frame(ImageSize size) const {
        const int w = std::max(size.width, 1);
        const int h = std::max(size.height, 1);
        if (!pad_) return Frame{double(w), double(h), 0.0, 0.0};
        const int side = std::max(w, h);
        return Frame{double(side), double(side), double((side - w) / 2), double((side - h) / 2)};
    }
    bool pad_;
};

}  // namespace

std::unique_ptr<RegionFormat> make_pink_region_format(bool pad_to_square) {
    return std::make_unique<PinkFormat>(pad_to_square);
}

// llama_2 with Pink's system text (pink/conversation.py conv_llama2.copy() and
// datasets/BaseDataset.py): "Image: " followed by the image's tokens, or "Image: N/A" without
// an image. The image the engine puts at the start of the first question ("<image>\n") moves
// into the system text.
std::unique_ptr<ChatTemplate> make_pink_chat_template(const std::string& system) {
    return make_llama2_variant(kPinkName, system, [](std::string& sys, std::string& msg) {
        static const std::string kLeadingImage = "<image>\n";
        const bool image = msg.compare(0, kLeadingImage.size(), kLeadingImage) == 0;
        sys = image ? "Image: <image>" : "Image: N/A";
        if (image) msg = msg.substr(kLeadingImage.size());
    }, /*image_chunks=*/false);  // Pink's image tokens sit in the text it tokenises at once
}

}  // namespace rc
