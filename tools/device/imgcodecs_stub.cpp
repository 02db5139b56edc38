// Stand-in for libopencv_imgcodecs on the GPU machine (tools/device/make-devkit.sh): Debian's
// imgcodecs pulls in some 200 MB of codec libraries that machine lacks. Only what the
// trainer's augment needs is real: JPEG encoding and decoding of 8-bit BGR images in memory,
// through libjpeg-turbo with OpenCV's settings (quality, 4:2:0, baseline, islow DCT), so the
// re-encoding augment gives the same pixels as Debian's imgcodecs. Other formats are a raw
// copy; files cannot be read or written. Never linked into the product.
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>

#include <opencv2/imgcodecs.hpp>

namespace cv {

namespace {

struct JpegError {
    jpeg_error_mgr mgr;
    std::jmp_buf jump;
};

void on_jpeg_error(j_common_ptr info) {
    std::longjmp(reinterpret_cast<JpegError*>(info->err)->jump, 1);
}

bool is_jpeg(const String& ext) { return ext == ".jpg" || ext == ".jpeg" || ext == ".JPG"; }

int quality_of(const std::vector<int>& params) {
    for (size_t i = 0; i + 1 < params.size(); i += 2)
        if (params[i] == IMWRITE_JPEG_QUALITY) return std::max(0, std::min(100, params[i + 1]));
    return 95;
}

bool encode_jpeg(const Mat& bgr, int quality, std::vector<uchar>& buf) {
    jpeg_compress_struct c{};
    JpegError err{};
    c.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = on_jpeg_error;
    unsigned char* out = nullptr;
    unsigned long size = 0;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&c);
        std::free(out);
        return false;
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &size);
    c.image_width = bgr.cols;
    c.image_height = bgr.rows;
    c.input_components = 3;
    c.in_color_space = JCS_EXT_BGR;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(bgr.ptr<uchar>(int(c.next_scanline)));
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    buf.assign(out, out + size);
    std::free(out);
    return true;
}

Mat decode_jpeg(const uchar* data, size_t size) {
    jpeg_decompress_struct d{};
    JpegError err{};
    d.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = on_jpeg_error;
    Mat m;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&d);
        return Mat();
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, data, static_cast<unsigned long>(size));
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_EXT_BGR;
    jpeg_start_decompress(&d);
    m.create(int(d.output_height), int(d.output_width), CV_8UC3);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = m.ptr<uchar>(int(d.output_scanline));
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return m;
}

}  // namespace

bool imencode(const String& ext, InputArray img, std::vector<uchar>& buf,
              const std::vector<int>& params) {
    Mat m = img.getMat();
    if (is_jpeg(ext) && m.type() == CV_8UC3 && m.isContinuous())
        return encode_jpeg(m, quality_of(params), buf);
    m = m.clone();
    const int head[3] = {m.rows, m.cols, m.type()};
    buf.resize(sizeof head + m.total() * m.elemSize());
    std::memcpy(buf.data(), head, sizeof head);
    std::memcpy(buf.data() + sizeof head, m.data, m.total() * m.elemSize());
    return true;
}

Mat imdecode(InputArray buf, int) {
    Mat b = buf.getMat();
    const size_t bytes = b.total() * b.elemSize();
    if (bytes >= 2 && b.data[0] == 0xFF && b.data[1] == 0xD8) return decode_jpeg(b.data, bytes);
    int head[3];
    if (bytes < sizeof head) return Mat();
    std::memcpy(head, b.data, sizeof head);
    Mat m(head[0], head[1], head[2]);
    if (bytes != sizeof head + m.total() * m.elemSize()) return Mat();
    std::memcpy(m.data, b.data + sizeof head, m.total() * m.elemSize());
    return m;
}

Mat imread(const String&, int) { return Mat(); }

bool imwrite(const String&, InputArray, const std::vector<int>&) { return false; }

}  // namespace cv
