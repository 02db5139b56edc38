// The region-text scanner shared by every region format (core/text and the families'
// folders): a linear, allocation-light reader of "[a, b, c, d]" groups and locale-free numbers.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "regionchat/region_format.h"

namespace rc::region_text {

// One bracketed group of exactly four finite numbers: "[a, b, c, d]" (spaces optional).
struct Group {
    std::array<double, 4> v{};
    size_t begin = 0;  // offset of '['
    size_t end = 0;    // one past ']'
};

/// Fixed-point text of `v`, locale-independent; -0 prints as 0.
std::string fixed(double v, int decimals);
double clamp01(double v);
/// Every well-formed group in order of appearance; linear in the text length.
std::vector<Group> scan_groups(const std::string& text);
/// Orders the corners, clips to the image; false for an empty box.
bool finish_box(Box b, ImageSize size, Box& out);

}  // namespace rc::region_text

namespace rc {
/// The served models' formats (served_formats.cpp): "qwen2-vl", "qwen2.5-vl", "qwen3-vl",
/// "internvl"; nullptr for another name.
std::unique_ptr<RegionFormat> make_served_region_format(const std::string& name);
std::vector<std::string> served_region_formats();
}  // namespace rc
