// Region <-> text: how boxes are written into prompts and read back out of answers.
// Formats follow ../shared/docs/FORMATS.md (DualFocus/LLaVA-1.5, Pink, plain pixels).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace rc {

/// A box in pixels of the original image, x0 <= x1, y0 <= y1 after normalize().
struct Box {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;

    double width() const { return x1 - x0; }
    double height() const { return y1 - y0; }
    double area() const;
    /// Orders the corners so x0 <= x1 and y0 <= y1.
    Box normalized() const;
    /// Clips to [0, w] x [0, h].
    Box clipped(double w, double h) const;
};

/// Intersection over union of two boxes (0 when either is empty).
double iou(const Box& a, const Box& b);

struct ImageSize {
    int width = 0;
    int height = 0;
};

/// A box found in an answer, with where it stood in the text.
struct ParsedBox {
    Box box;           ///< pixels of the original image, clipped to it
    size_t begin = 0;  ///< byte offset of the match in the text
    size_t end = 0;    ///< one past the last byte
};

/// One way of writing regions as text.
class RegionFormat {
public:
    virtual ~RegionFormat() = default;
    /// Short name: "dualfocus", "pink", "pixels".
    virtual std::string name() const = 0;
    /// Text for a box given in pixels of an image of `size`.
    virtual std::string encode(const Box& pixels, ImageSize size) const = 0;
    /// Every well-formed box in `text`, converted to pixels. Malformed groups are skipped,
    /// out-of-range numbers clamped; never throws.
    virtual std::vector<ParsedBox> parse(const std::string& text, ImageSize size) const = 0;
};

/// Creates a format by name ("dualfocus", "pink", "pixels"); nullptr for an unknown name.
/// `pad_to_square`: Pink normalizes to the padded square when the image is padded.
std::unique_ptr<RegionFormat> make_region_format(const std::string& name,
                                                 bool pad_to_square = false);

/// Replaces each `<region>` in `question`, in order, by the encoded box. Extra boxes are
/// ignored; placeholders without a box are left as they are. `used` (optional) gets the count.
std::string fill_region_placeholders(const std::string& question, const std::vector<Box>& boxes,
                                     ImageSize size, const RegionFormat& format,
                                     size_t* used = nullptr);

}  // namespace rc
