#include "regionchat/image_io.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"

namespace rc {

namespace {

uint32_t be32(const std::string& b, size_t i) {
    return (uint32_t(uint8_t(b[i])) << 24) | (uint32_t(uint8_t(b[i + 1])) << 16) |
           (uint32_t(uint8_t(b[i + 2])) << 8) | uint32_t(uint8_t(b[i + 3]));
}
uint32_t be16(const std::string& b, size_t i) {
    return (uint32_t(uint8_t(b[i])) << 8) | uint32_t(uint8_t(b[i + 1]));
}
uint32_t le16(const std::string& b, size_t i) {
    return uint32_t(uint8_t(b[i])) | (uint32_t(uint8_t(b[i + 1])) << 8);
}
uint32_t le24(const std::string& b, size_t i) {
    return le16(b, i) | (uint32_t(uint8_t(b[i + 2])) << 16);
}
int32_t le32s(const std::string& b, size_t i) {
    return static_cast<int32_t>(le16(b, i) | (le16(b, i + 2) << 16));
}

bool jpeg_size(const std::string& b, int* w, int* h) {
    size_t i = 2;
    while (i + 4 <= b.size()) {
        // libjpeg skips stray bytes before a marker ("N extraneous bytes before marker") and
        // decodes on: so must the size check, or one byte before the SOF hides the size.
        if (uint8_t(b[i]) != 0xFF) {
            ++i;
            continue;
        }
        const uint8_t marker = uint8_t(b[i + 1]);
        if (marker == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
            i += 2;
            continue;
        }
        const uint32_t len = be16(b, i + 2);
        if (len < 2) return false;
        const bool sof = (marker >= 0xC0 && marker <= 0xCF) && marker != 0xC4 && marker != 0xC8 &&
                         marker != 0xCC;
        if (sof) {
            if (i + 9 > b.size()) return false;
            *h = static_cast<int>(be16(b, i + 5));
            *w = static_cast<int>(be16(b, i + 7));
            return true;
        }
        i += 2 + len;
    }
    return false;
}

uint32_t tiff16(const std::string& b, size_t i, bool le) {
    return le ? le16(b, i) : be16(b, i);
}
uint32_t tiff32(const std::string& b, size_t i, bool le) {
    return le ? (le16(b, i) | (le16(b, i + 2) << 16)) : be32(b, i);
}

// TIFF: ImageWidth (256) and ImageLength (257) of the first IFD, the page OpenCV decodes.
bool tiff_size(const std::string& b, int* w, int* h) {
    if (b.size() < 8) return false;
    const bool le = b[0] == 'I';
    if (tiff16(b, 2, le) != 42) return false;
    const uint64_t ifd = tiff32(b, 4, le);
    if (ifd + 2 > b.size()) return false;
    const uint32_t n = tiff16(b, size_t(ifd), le);
    int64_t W = -1, H = -1;
    for (uint32_t k = 0; k < n; ++k) {
        const uint64_t e = ifd + 2 + uint64_t(k) * 12;
        if (e + 12 > b.size()) return false;
        const uint32_t tag = tiff16(b, size_t(e), le), type = tiff16(b, size_t(e + 2), le);
        const uint32_t v = type == 3 ? tiff16(b, size_t(e + 8), le) : tiff32(b, size_t(e + 8), le);
        if (type != 3 && type != 4) continue;
        if (tag == 256) W = v;
        if (tag == 257) H = v;
    }
    if (W <= 0 || H <= 0 || W > 0x7fffffff || H > 0x7fffffff) return false;
    *w = int(W);
    *h = int(H);
    return true;
}

}  // namespace

bool read_image_header_size(const std::string& b, int* w, int* h) {
    if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 &&
        b.compare(12, 4, "IHDR") == 0) {
        const uint32_t W = be32(b, 16), H = be32(b, 20);
        if (W > 0x7fffffff || H > 0x7fffffff) return false;
        *w = static_cast<int>(W);
        *h = static_cast<int>(H);
        return true;
    }
    if (b.size() >= 4 && uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xD8) return jpeg_size(b, w, h);
    if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {
        const int32_t W = le32s(b, 18), H = le32s(b, 22);
        if (W <= 0 || H == 0 || H == INT32_MIN) return false;
        *w = W;
        *h = H < 0 ? -H : H;
        return true;
    }
    if (b.size() >= 10 && b.compare(0, 3, "GIF") == 0) {
        *w = static_cast<int>(le16(b, 6));
        *h = static_cast<int>(le16(b, 8));
        return true;
    }
    if (b.size() >= 8 && (b.compare(0, 4, std::string("II*\0", 4)) == 0 ||
                          b.compare(0, 4, std::string("MM\0*", 4)) == 0))
        return tiff_size(b, w, h);
    if (b.size() >= 30 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) {
        if (b.compare(12, 4, "VP8X") == 0) {
            *w = static_cast<int>(le24(b, 24) + 1);
            *h = static_cast<int>(le24(b, 27) + 1);
            return true;
        }
        if (b.compare(12, 4, "VP8 ") == 0) {
            *w = static_cast<int>(le16(b, 26) & 0x3fff);
            *h = static_cast<int>(le16(b, 28) & 0x3fff);
            return true;
        }
        if (b.compare(12, 4, "VP8L") == 0 && b.size() >= 25) {
            const uint32_t bits = le16(b, 21) | (le16(b, 23) << 16);
            *w = static_cast<int>((bits & 0x3fff) + 1);
            *h = static_cast<int>(((bits >> 14) & 0x3fff) + 1);
            return true;
        }
    }
    return false;
}

namespace {

// Only what can be sized from its header is decoded: OpenCV would allocate whatever a header
// it reads claims (a 162-byte JPEG decoded to 2.8 GB), and its own pixel limit is read once
// when the library loads, before any code of ours runs. Throws unless the size is within the
// limits.
void check_header_size(int w, int h, const std::string& name, const ImageLoadLimits& limits) {
    if (w <= 0 || h <= 0) throw Error(name + ": the image header gives a size of 0 pixels");
    const uint64_t px = uint64_t(w) * uint64_t(h);
    if (px > limits.max_pixels) {
        std::ostringstream msg;
        msg << name << ": the image is " << w << "x" << h << " pixels (" << px / 1000000
            << " Mpx); RegionChat opens images up to " << limits.max_pixels / 1000000
            << " Mpx. Downscale it first.";
        throw Error(msg.str());
    }
}

[[noreturn]] void throw_unreadable_header(const std::string& name) {
    throw Error(name + ": not an image RegionChat reads (PNG, JPEG, BMP, WebP or TIFF), or "
                       "its header is damaged");
}

// The decoded image, checked again (the decoder may have read a size of its own).
cv::Mat checked(cv::Mat img, const std::string& name, const ImageLoadLimits& limits) {
    if (img.empty()) throw Error(name + ": not an image, or the file is corrupt or truncated");
    if (uint64_t(img.cols) * uint64_t(img.rows) > limits.max_pixels)
        throw Error(name + ": the image is larger than " +
                    std::to_string(limits.max_pixels / 1000000) + " Mpx");
    return img;
}

[[noreturn]] void decode_failure(const cv::Exception& e, const std::string& name) {
    throw Error(name + ": cannot decode the image (" + std::string(e.what()).substr(0, 200) + ")");
}

// A file's first bytes: where every header read_image_header_size reads sits in the files
// seen so far (a JPEG's frame header comes after its EXIF and ICC segments; a TIFF's first
// IFD may be anywhere, and when it is beyond these the whole file is read).
constexpr size_t kHeaderBytes = size_t(4) << 20;

}  // namespace

cv::Mat decode_image(const std::string& bytes, const std::string& name,
                     const ImageLoadLimits& limits) {
    if (bytes.empty()) throw Error(name + ": the file is empty");
    int w = 0, h = 0;
    if (!read_image_header_size(bytes, &w, &h)) throw_unreadable_header(name);
    check_header_size(w, h, name, limits);
    cv::Mat img;
    try {
        cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
        img = cv::imdecode(buf, cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
        decode_failure(e, name);
    }
    return checked(std::move(img), name, limits);
}

namespace {

// The file's size in bytes, checked: a regular file (not /dev/zero, a fifo or a folder) within
// the limit.
uint64_t checked_file_bytes(const std::string& path, const ImageLoadLimits& limits) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": not an image file");
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) throw Error(path + ": cannot read the file");
    if (size > limits.max_file_bytes)
        throw Error(path + ": the file is " + std::to_string(size >> 20) + " MiB; the limit is " +
                    std::to_string(limits.max_file_bytes >> 20) + " MiB");
    if (size == 0) throw Error(path + ": the file is empty");
    return size;
}

std::string read_bytes(const std::string& path, size_t n) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes(n, '\0');
    if (!in || !in.read(bytes.data(), std::streamsize(n))) throw Error(path + ": cannot read the file");
    return bytes;
}

}  // namespace

bool image_file_size(const std::string& path, int* width, int* height,
                     const ImageLoadLimits& limits) {
    const uint64_t size = checked_file_bytes(path, limits);
    const std::string head = read_bytes(path, size_t(std::min<uint64_t>(size, kHeaderBytes)));
    if (!read_image_header_size(head, width, height)) {
        if (size <= kHeaderBytes) throw_unreadable_header(path);
        return false;
    }
    check_header_size(*width, *height, path, limits);
    return true;
}

cv::Mat load_image(const std::string& path, const ImageLoadLimits& limits) {
    const uint64_t size = checked_file_bytes(path, limits);
    int w = 0, h = 0;
    if (size > kHeaderBytes && image_file_size(path, &w, &h, limits)) {
        // A large file: its header checked from its first bytes, then decoded by OpenCV from
        // the file, so that its bytes are never in memory whole beside its pixels (a 9000x7000
        // PNG is 117 MB of file and 189 MB of pixels).
        cv::Mat img;
        try {
            img = cv::imread(path, cv::IMREAD_COLOR);
        } catch (const cv::Exception& e) {
            decode_failure(e, path);
        }
        img = checked(std::move(img), path, limits);
        // EXIF orientation may swap the sides; any other size is not the file checked.
        if (!((img.cols == w && img.rows == h) || (img.cols == h && img.rows == w)))
            throw Error(path + ": the file changed while it was read");
        return img;
    }
    return decode_image(read_bytes(path, size_t(size)), path, limits);
}

cv::Mat to_bgr8(const cv::Mat& image) {
    if (image.empty()) throw Error("image is empty");
    cv::Mat m = image;
    if (m.depth() == CV_16U) {
        m.convertTo(m, CV_8U, 1.0 / 257.0);
    } else if (m.depth() == CV_32F || m.depth() == CV_64F) {
        m.convertTo(m, CV_8U, 255.0);
    } else if (m.depth() != CV_8U) {
        throw Error("unsupported image pixel type");
    }
    cv::Mat out;
    switch (m.channels()) {
        case 1:
            cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
            break;
        case 3:
            out = m.clone();
            break;
        case 4:
            cv::cvtColor(m, out, cv::COLOR_BGRA2BGR);
            break;
        default:
            throw Error("unsupported image with " + std::to_string(m.channels()) + " channels");
    }
    return out;
}

}  // namespace rc
