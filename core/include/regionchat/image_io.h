// Loading images from files without trusting them: the pixel size is read from the header
// and checked before anything is decoded.
#pragma once

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace rc {

struct ImageLoadLimits {
    uint64_t max_pixels = 100'000'000ull;  ///< width * height refused above this
    uint64_t max_file_bytes = 1ull << 30;  ///< files larger than 1 GiB are refused
};

/// Width and height from a PNG, JPEG, BMP, GIF or WebP header; false when not recognised.
bool read_image_header_size(const std::string& bytes, int* width, int* height);

/// Decodes `path` to 8-bit BGR. Throws rc::Error naming the file when it is missing, not an
/// image, corrupt or truncated, or larger than the limits (checked before decoding).
cv::Mat load_image(const std::string& path, const ImageLoadLimits& limits = {});

/// The size of the image file `path` from its header, read from its first 4 MiB and checked
/// against the limits (rc::Error, as load_image, when the file is missing, too large, or its
/// header says too many pixels). False when no header is found there (not an image, or a
/// TIFF whose directory is further in): load_image then reads the whole file.
bool image_file_size(const std::string& path, int* width, int* height,
                     const ImageLoadLimits& limits = {});

/// The same for bytes already in memory (`name` is used in messages).
cv::Mat decode_image(const std::string& bytes, const std::string& name,
                     const ImageLoadLimits& limits = {});

/// Any 8/16-bit gray, BGR or BGRA Mat -> 8-bit BGR (a copy). Throws rc::Error when empty or of
/// an unsupported type.
cv::Mat to_bgr8(const cv::Mat& image);

/// to_bgr8 without the copy when `image` is already 8-bit BGR: the result then shares its
/// pixels (for readers; a 9000x7000 image is 189 MB to copy).
inline cv::Mat as_bgr8(const cv::Mat& image) {
    return !image.empty() && image.type() == CV_8UC3 ? image : to_bgr8(image);
}

}  // namespace rc
