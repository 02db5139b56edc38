// Region <-> text: how boxes are written into prompts and read back out of answers.
// Formats follow ../shared/docs/FORMATS.md (DualFocus/LLaVA-1.5, plain pixels, and the
// families' own, e.g. Pink).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "regionchat/geometry.h"

namespace rc {

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
    /// Short name: "dualfocus", "pixels", or a family's format name.
    virtual std::string name() const = 0;
    /// Text for a box given in pixels of an image of `size`.
    virtual std::string encode(const Box& pixels, ImageSize size) const = 0;
    /// Every well-formed box in `text`, converted to pixels. Malformed groups are skipped,
    /// out-of-range numbers clamped; never throws.
    virtual std::vector<ParsedBox> parse(const std::string& text, ImageSize size) const = 0;
};

/// Creates a format by name: the built-in ones ("dualfocus", "pixels") and those the model
/// families bring (e.g. "pink"); nullptr for an unknown name. `pad_to_square`: formats
/// normalised to the padded square use it (defined with the family registry, in
/// regionchat_core).
std::unique_ptr<RegionFormat> make_region_format(const std::string& name,
                                                 bool pad_to_square = false);
/// Only the built-in formats (torch-free code that needs no family).
std::unique_ptr<RegionFormat> make_builtin_region_format(const std::string& name);
std::vector<std::string> builtin_region_formats();

/// The region format a served model's name suggests ("Qwen/Qwen2.5-VL-7B-Instruct" ->
/// "qwen2.5-vl", InternVL -> "internvl", LLaVA -> "dualfocus", Pink -> "pink"); "pixels" when
/// nothing matches.
std::string guess_region_format(const std::string& model_name);

/// Qwen2-VL's smart_resize: the size (width, height) its processor resizes an image to, both
/// sides multiples of `factor`, the area within [min_pixels, max_pixels] (Qwen2.5-VL's
/// preprocessor_config.json defaults). Qwen2.5-VL answers boxes in pixels of this size.
ImageSize qwen_smart_resize(ImageSize size, int factor = 28, int64_t min_pixels = 3136,
                            int64_t max_pixels = 12845056);

/// The phrase a grounding box in `answer` stands for: the subject of "where is/are X?",
/// "find X", "locate X" in `question`; else the answer with its box text (in any known
/// format) and tags removed; else "box".
std::string grounding_label(const std::string& question, const std::string& answer);

/// Replaces each `<region>` in `question`, in order, by the encoded box. Extra boxes are
/// ignored; placeholders without a box are left as they are. `used` (optional) gets the count.
std::string fill_region_placeholders(const std::string& question, const std::vector<Box>& boxes,
                                     ImageSize size, const RegionFormat& format,
                                     size_t* used = nullptr);

}  // namespace rc
