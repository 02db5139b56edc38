// Regions as point prompts (RegionVLM, ../shared/docs/FORMATS.md and docs/regionvlm-layout.md
// §5): a region becomes a few points inside it, written "[x y] [x y] ..." with each coordinate
// int(pixel / side * 100). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "regionchat/backend.h"
#include "regionchat/geometry.h"

namespace rc {

/// How many points RegionVLM's evaluation samples per region (eval_RIS.py n_rand_point).
constexpr int kRegionPromptPoints = 10;

/// "[12 34] [56 7]": Python's str() of the int pairs without its brackets and commas, each
/// coordinate int(x / width * 100) and int(y / height * 100) (truncated toward zero, clamped
/// to 0..99 for points on the far edge).
std::string point_prompt_string(const std::vector<Point>& pixels, ImageSize size);

/// The points a region is told by:
/// - a mask (SAM, a picked proposal): `count` distinct pixels inside it in a random order, as
///   eval_RIS.py draws them (np.random.shuffle of the pixels, the first `count`), from `seed`;
/// - a box without a mask: the same, over the pixels inside the box;
/// - clicked points: as clicked, in order (at most `count`: the first ones);
/// - a scribble: its stroke points resampled as the training traces were (LN_datasets'
///   select_point: fewer than `count` are repeated at evenly spaced indices, then `count` of
///   them chosen at random from `seed` and kept in stroke order).
/// Fewer than `count` only when the region has fewer pixels. Empty for an empty region.
std::vector<Point> region_prompt_points(const RegionInput& region, ImageSize size,
                                        uint32_t seed, int count = kRegionPromptPoints);

/// A stroke resampled in stroke order (the scribble rule above), deterministic for `seed`.
std::vector<Point> resample_stroke(const std::vector<Point>& stroke, int count, uint32_t seed);

}  // namespace rc
