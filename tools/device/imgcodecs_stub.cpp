// Stand-in for libopencv_imgcodecs on the GPU machine (tools/device/make-devkit.sh): Debian's
// imgcodecs pulls in some 200 MB of codec libraries that machine lacks. Encoding is a raw
// copy, so the trainer's JPEG re-encoding augment is the identity there; files cannot be
// read or written. Never linked into the product.
#include <cstring>

#include <opencv2/imgcodecs.hpp>

namespace cv {

bool imencode(const String&, InputArray img, std::vector<uchar>& buf, const std::vector<int>&) {
    Mat m = img.getMat().clone();
    const int head[3] = {m.rows, m.cols, m.type()};
    buf.resize(sizeof head + m.total() * m.elemSize());
    std::memcpy(buf.data(), head, sizeof head);
    std::memcpy(buf.data() + sizeof head, m.data, m.total() * m.elemSize());
    return true;
}

Mat imdecode(InputArray buf, int) {
    Mat b = buf.getMat();
    int head[3];
    if (b.total() * b.elemSize() < sizeof head) return Mat();
    std::memcpy(head, b.data, sizeof head);
    Mat m(head[0], head[1], head[2]);
    if (b.total() * b.elemSize() != sizeof head + m.total() * m.elemSize()) return Mat();
    std::memcpy(m.data, b.data + sizeof head, m.total() * m.elemSize());
    return m;
}

Mat imread(const String&, int) { return Mat(); }

bool imwrite(const String&, InputArray, const std::vector<int>&) { return false; }

}  // namespace cv
