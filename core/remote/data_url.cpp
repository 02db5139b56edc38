// Images as chat requests carry them: "data:image/png;base64,..." URLs (regionchat/remote.h).
// No network code here: the server's request parser and tests/fuzz/ use it too.
#include <algorithm>
#include <cstdint>
#include <iterator>

#include <opencv2/imgcodecs.hpp>

#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/remote.h"

namespace rc {

namespace {

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(const std::vector<uchar>& in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | in[i + 2];
        for (int s : {18, 12, 6, 0}) out += kBase64[(v >> s) & 63];
    }
    if (i < in.size()) {
        const uint32_t v = (uint32_t(in[i]) << 16) | (i + 1 < in.size() ? uint32_t(in[i + 1]) << 8 : 0);
        out += kBase64[(v >> 18) & 63];
        out += kBase64[(v >> 12) & 63];
        out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

bool unbase64(const std::string& in, size_t from, std::string* out) {
    int value[256];
    std::fill(std::begin(value), std::end(value), -1);
    for (int k = 0; k < 64; ++k) value[static_cast<uint8_t>(kBase64[k])] = k;
    value[static_cast<uint8_t>('-')] = 62;  // the URL-safe alphabet too
    value[static_cast<uint8_t>('_')] = 63;
    out->clear();
    out->reserve((in.size() - from) / 4 * 3);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = from; i < in.size(); ++i) {
        const auto c = static_cast<uint8_t>(in[i]);
        if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
        if (value[c] < 0) return false;
        acc = (acc << 6) | uint32_t(value[c]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->push_back(char((acc >> bits) & 0xff));
        }
    }
    return true;
}

}  // namespace

std::string image_data_url(const cv::Mat& image) {
    std::vector<uchar> png;
    if (!cv::imencode(".png", to_bgr8(image), png)) throw Error("cannot encode the image as PNG");
    return "data:image/png;base64," + base64(png);
}

cv::Mat decode_data_url(const std::string& url, int64_t max_pixels) {
    static const std::string kData = "data:";
    const size_t comma = url.find(',');
    if (url.compare(0, kData.size(), kData) != 0 || comma == std::string::npos ||
        url.substr(0, comma).find(";base64") == std::string::npos)
        throw Error("the image is not a base64 data URL (data:image/...;base64,...)");
    std::string bytes;
    if (!unbase64(url, comma + 1, &bytes)) throw Error("the image's base64 text is malformed");
    ImageLoadLimits limits;
    limits.max_pixels = uint64_t(std::max<int64_t>(max_pixels, 1));
    limits.max_file_bytes = 256ull << 20;
    return decode_image(bytes, "the image", limits);
}

}  // namespace rc
