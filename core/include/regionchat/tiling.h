// InternVL's dynamic tiling (internvl_chat/internvl/train/dataset.py dynamic_preprocess, which
// CoLVA and its evaluation kit call): the tile grid whose aspect ratio is closest to the
// image's (ties go to the larger grid when the image has more than half its pixels), the image
// resized to it with Pillow's bicubic and cut into S x S tiles row by row, plus a thumbnail (the
// whole image resized to S x S) when there is more than one tile. Torch-free (the memory plan
// counts tiles with it too).
#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace rc {

struct TileGrid {
    int cols = 1, rows = 1;
    int count() const { return cols * rows; }
};

/// The grid for a width x height image with min_num..max_num tiles of side `tile`.
TileGrid internvl_tile_grid(int width, int height, int max_num = 12, int min_num = 1,
                            int tile = 448);

/// The tiles of an 8-bit BGR image (each tile x tile, BGR), the thumbnail last when asked for
/// and there is more than one tile.
std::vector<cv::Mat> internvl_tiles(const cv::Mat& bgr, int max_num, bool thumbnail,
                                    int tile = 448);

}  // namespace rc
