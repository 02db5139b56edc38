// Loading images without trusting them: bad, truncated and huge files give clear errors.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/image_resize.h"
#include "regionchat/tiling.h"

using namespace rc;

namespace {

std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
}

void put_be32(std::string& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = char((v >> (24 - 8 * i)) & 0xFF);
}

std::string message_of(const std::string& path) {
    try {
        load_image(path);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

class TestImageIo : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    std::string path(const char* name) { return tmp_.path().toStdString() + "/" + name; }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        cv::Mat img(30, 50, CV_8UC3, cv::Scalar(10, 200, 30));
        QVERIFY(cv::imwrite(path("ok.png"), img));
        QVERIFY(cv::imwrite(path("ok.jpg"), img));
        QVERIFY(cv::imwrite(path("ok.bmp"), img));
    }

    void headersGiveTheSize() {
        for (const char* f : {"ok.png", "ok.jpg", "ok.bmp"}) {
            int w = 0, h = 0;
            QVERIFY2(read_image_header_size(read_file(path(f)), &w, &h), f);
            QCOMPARE(w, 50);
            QCOMPARE(h, 30);
        }
        int w, h;
        QVERIFY(!read_image_header_size("hello world", &w, &h));
    }

    void goodFilesLoad() {
        cv::Mat m = load_image(path("ok.png"));
        QCOMPARE(m.cols, 50);
        QCOMPARE(m.rows, 30);
        QCOMPARE(m.type(), CV_8UC3);
        QCOMPARE(m.at<cv::Vec3b>(5, 5), cv::Vec3b(10, 200, 30));
    }

    void missingAndNonImageFiles() {
        QVERIFY(message_of(path("nope.png")).find("nope.png") != std::string::npos);
        write_file(path("text.png"), "this is not an image at all");
        const std::string msg = message_of(path("text.png"));
        QVERIFY2(msg.find("not an image") != std::string::npos, msg.c_str());
        write_file(path("empty.png"), "");
        QVERIFY(message_of(path("empty.png")).find("empty") != std::string::npos);
    }

    void truncatedPngIsRefused() {
        const std::string png = read_file(path("ok.png"));
        write_file(path("cut.png"), png.substr(0, png.size() / 2));
        const std::string msg = message_of(path("cut.png"));
        QVERIFY2(msg.find("cut.png") != std::string::npos, msg.c_str());
    }

    void hugeHeaderIsRefusedBeforeDecoding() {
        // A real PNG whose IHDR claims 30000x30000: refused from the header alone.
        std::string png = read_file(path("ok.png"));
        put_be32(png, 16, 30000);
        put_be32(png, 20, 30000);
        write_file(path("huge.png"), png);
        const std::string msg = message_of(path("huge.png"));
        QVERIFY2(msg.find("30000x30000") != std::string::npos, msg.c_str());
        QVERIFY(msg.find("Mpx") != std::string::npos);
        // A tighter limit applies to ordinary images too.
        ImageLoadLimits small;
        small.max_pixels = 1000;
        QVERIFY_THROWS_EXCEPTION(Error, load_image(path("ok.jpg"), small));
        small.max_file_bytes = 10;
        small.max_pixels = 100'000'000;
        QVERIFY_THROWS_EXCEPTION(Error, load_image(path("ok.png"), small));
    }

    // Files over 4 MiB are checked from their first bytes and decoded from disk (never whole
    // in memory beside their pixels): the same pixels as decoding the bytes, the same refusals.
    void largeFilesLoadFromDisk() {
        cv::Mat noise(1400, 1300, CV_8UC3);
        cv::RNG(11).fill(noise, cv::RNG::UNIFORM, 0, 256);  // incompressible: a 5.5 MB PNG
        std::vector<uchar> png;
        QVERIFY(cv::imencode(".png", noise, png));
        QVERIFY(png.size() > (size_t(4) << 20));
        const std::string bytes(png.begin(), png.end());
        write_file(path("large.png"), bytes);
        const cv::Mat loaded = load_image(path("large.png"));
        QCOMPARE(loaded.cols, 1300);
        QCOMPARE(loaded.rows, 1400);
        QVERIFY(cv::norm(loaded, noise, cv::NORM_INF) == 0);
        QVERIFY(cv::norm(decode_image(bytes, "large.png"), noise, cv::NORM_INF) == 0);
        // A header over the limit, and a limit tighter than the image: refused, with the size.
        std::string huge = bytes;
        put_be32(huge, 16, 30000);
        put_be32(huge, 20, 30000);
        write_file(path("large-huge.png"), huge);
        const std::string msg = message_of(path("large-huge.png"));
        QVERIFY2(msg.find("30000x30000") != std::string::npos, msg.c_str());
        ImageLoadLimits small;
        small.max_pixels = 1'000'000;
        QVERIFY_THROWS_EXCEPTION(Error, load_image(path("large.png"), small));
        // A header edited to another size within the limits: refused (by libpng's checksum,
        // else because the decoded size is not the one checked).
        std::string liar = bytes;
        put_be32(liar, 16, 1000);
        write_file(path("large-liar.png"), liar);
        QVERIFY_THROWS_EXCEPTION(Error, load_image(path("large-liar.png")));
        // A size found only past the first 4 MiB (a TIFF's IFD at the end): the whole file.
        std::vector<uchar> tiff;
        QVERIFY(cv::imencode(".tiff", noise, tiff, {cv::IMWRITE_TIFF_COMPRESSION, 1}));
        std::string t(tiff.begin(), tiff.end());
        write_file(path("large.tiff"), t);
        QVERIFY(cv::norm(load_image(path("large.tiff")), noise, cv::NORM_INF) == 0);
    }

    // Ways around the header check found by crafted files (issue 22), each refused before
    // anything is decoded.
    void craftedHeadersCannotHideTheirSize() {
        // A stray byte before the SOF: libjpeg skips it and decodes; the size is still read.
        const std::string jpg = read_file(path("ok.jpg"));
        size_t sof = 2;
        while (sof + 4 < jpg.size() && !(uint8_t(jpg[sof]) == 0xFF && uint8_t(jpg[sof + 1]) == 0xC0)) ++sof;
        QVERIFY(sof + 9 < jpg.size());
        std::string big = jpg;
        big[sof + 5] = char(0xEA);  // 60000 rows
        big[sof + 6] = char(0x60);
        big[sof + 7] = char(0xEA);  // 60000 columns
        big[sof + 8] = char(0x60);
        big.insert(sof, 1, '\x00');
        int w = 0, h = 0;
        QVERIFY(read_image_header_size(big, &w, &h));
        QCOMPARE(w, 60000);
        std::string msg;
        try {
            decode_image(big, "stray.jpg");
        } catch (const Error& e) {
            msg = e.what();
        }
        QVERIFY2(msg.find("60000x60000") != std::string::npos, msg.c_str());

        // TIFF is sized from its first IFD, and a huge one is refused.
        const cv::Mat img(20, 30, CV_8UC3, cv::Scalar(10, 20, 30));
        std::vector<uchar> tif;
        QVERIFY(cv::imencode(".tiff", img, tif));
        const std::string t(tif.begin(), tif.end());
        QVERIFY(read_image_header_size(t, &w, &h));
        QCOMPARE(w, 30);
        QCOMPARE(h, 20);
        QCOMPARE(decode_image(t, "ok.tiff").cols, 30);
        ImageLoadLimits tiny;
        tiny.max_pixels = 100;
        QVERIFY_THROWS_EXCEPTION(Error, decode_image(t, "ok.tiff", tiny));

        // BMP (bottom-up and top-down) and WebP (lossy VP8, lossless VP8L) headers claiming more
        // than 100 Mpx are refused from the header, before anything is decoded.
        auto refusedAs = [&](const std::string& bytes, const char* name, const char* size) {
            std::string why;
            try {
                decode_image(bytes, name);
            } catch (const Error& e) {
                why = e.what();
            }
            return why.find(size) != std::string::npos && why.find("100 Mpx") != std::string::npos
                       ? std::string()
                       : std::string(name) + ": " + (why.empty() ? "decoded" : why);
        };
        auto put32 = [](std::string* b, size_t at, int32_t v) {
            for (int k = 0; k < 4; ++k) (*b)[at + k] = char((uint32_t(v) >> (8 * k)) & 0xff);
        };
        std::vector<uchar> bmp;
        QVERIFY(cv::imencode(".bmp", img, bmp));
        std::string b(bmp.begin(), bmp.end());
        QCOMPARE(decode_image(b, "ok.bmp").cols, 30);
        put32(&b, 18, 20000);
        put32(&b, 22, 20000);
        QCOMPARE(QString::fromStdString(refusedAs(b, "up.bmp", "20000x20000")), QString());
        put32(&b, 22, -20000);
        QCOMPARE(QString::fromStdString(refusedAs(b, "down.bmp", "20000x20000")), QString());
        for (int quality : {90, 101}) {  // 101: lossless
            std::vector<uchar> webp;
            QVERIFY(cv::imencode(".webp", img, webp, {cv::IMWRITE_WEBP_QUALITY, quality}));
            std::string wb(webp.begin(), webp.end());
            QCOMPARE(decode_image(wb, "ok.webp").cols, 30);
            if (wb.compare(12, 4, "VP8 ") == 0) {
                wb[26] = char(0xff), wb[27] = char(0x3f);  // 16383 columns
                wb[28] = char(0xff), wb[29] = char(0x3f);  // 16383 rows
            } else {
                QCOMPARE(QString::fromStdString(wb.substr(12, 4)), QString("VP8L"));
                const uint32_t bits = 0x3fffu | (0x3fffu << 14);  // 16384 x 16384
                for (int k = 0; k < 4; ++k) wb[21 + k] = char((bits >> (8 * k)) & 0xff);
            }
            const char* want = quality == 101 ? "16384x16384" : "16383x16383";
            QCOMPARE(QString::fromStdString(refusedAs(wb, "big.webp", want)), QString());
        }

        // What cannot be sized from its header is not decoded (PPM, a damaged JPEG header).
        std::vector<uchar> ppm;
        QVERIFY(cv::imencode(".ppm", img, ppm));
        try {
            decode_image(std::string(ppm.begin(), ppm.end()), "x.ppm");
            msg.clear();
        } catch (const Error& e) {
            msg = e.what();
        }
        QVERIFY2(msg.find("not an image RegionChat reads") != std::string::npos, msg.c_str());
    }

    // LLaVA's pad-then-resize done without the padded square gives the same bytes as padding
    // and resizing (Pillow's passes), for wide, tall, odd-offset and one-pixel images; above
    // 16 Mpx of square both take the averaged path and stay close.
    void paddedResizeEqualsPadThenResize() {
        const std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
        cv::RNG rng(7);
        const std::vector<cv::Size> sizes{{464, 549}, {549, 464}, {337, 336}, {336, 337},
                                          {1000, 3}, {3, 1000}, {1, 1}, {2, 1}, {1, 2},
                                          {200, 200}, {1600, 900}, {333, 1111}};
        for (const cv::Size s : sizes) {
            cv::Mat img(s, CV_8UC3);
            rng.fill(img, cv::RNG::UNIFORM, 0, 256);
            for (int size : {336, 224, 17}) {
                const cv::Mat want = resize_bicubic_antialias(expand_to_square(img, mean), size);
                const cv::Mat got = resize_padded_square(img, mean, size);
                QCOMPARE(got.size(), want.size());
                QVERIFY2(cv::norm(got, want, cv::NORM_INF) == 0,
                         qPrintable(QString("%1x%2 -> %3").arg(s.width).arg(s.height).arg(size)));
            }
        }
        // 6000 x 4000: 36 Mpx of square, averaged first on both paths.
        cv::Mat coarse(40, 60, CV_8UC3), big;
        rng.fill(coarse, cv::RNG::UNIFORM, 0, 256);
        cv::resize(coarse, big, cv::Size(6000, 4000), 0, 0, cv::INTER_LINEAR);  // smooth, as photos
        const cv::Mat want = resize_bicubic_antialias(expand_to_square(big, mean), 336);
        const cv::Mat got = resize_padded_square(big, mean, 336);
        QCOMPARE(got.size(), want.size());
        QVERIFY2(cv::norm(got, want, cv::NORM_INF) <= 6,
                 qPrintable(QString::number(cv::norm(got, want, cv::NORM_INF))));
    }

    void randomCorruptionNeverCrashes() {
        const std::string png = read_file(path("ok.png"));
        std::mt19937 rng(1);
        int loaded = 0, refused = 0;
        for (int i = 0; i < 300; ++i) {
            std::string b = png;
            for (int k = 0; k < 4; ++k) b[rng() % b.size()] = char(rng());
            if (i % 3 == 0) b.resize(rng() % b.size());
            try {
                cv::Mat m = decode_image(b, "fuzz.png");
                QVERIFY(!m.empty());
                ++loaded;
            } catch (const Error&) {
                ++refused;
            }
        }
        QCOMPARE(loaded + refused, 300);
        QVERIFY(refused > 0);
    }

    // InternVL's dynamic tiling equals InternVL's own dynamic_preprocess
    // (tools/reference/tiling_reference.py ran it): the grid for 40 sizes with 6 and 12 tiles
    // at most, and the tiles and thumbnail of a 1100x500 image pixel for pixel.
    void internVlTilingEqualsInternVls() {
        const std::filesystem::path dir =
            std::filesystem::path(std::getenv("REGIONCHAT_SOURCE_DIR")) / "tests/reference/internvit";
        nlohmann::json ref;
        std::ifstream(dir / "tiling.json") >> ref;
        int checked = 0;
        for (const auto& g : ref["grids"]) {
            const rc::TileGrid t = rc::internvl_tile_grid(g["width"], g["height"], g["max_num"]);
            QCOMPARE(t.cols, g["cols"].get<int>());
            QCOMPARE(t.rows, g["rows"].get<int>());
            ++checked;
        }
        QCOMPARE(checked, 80);
        const cv::Mat input = cv::imread((dir / "tiling_input.png").string(), cv::IMREAD_COLOR);
        QCOMPARE(input.cols, 1100);
        const auto tiles = rc::internvl_tiles(input, 6, true);
        QCOMPARE(int(tiles.size()), ref["image_tiles"].get<int>());
        for (size_t k = 0; k < tiles.size(); ++k) {
            const cv::Mat want = cv::imread((dir / ("tile_" + std::to_string(k) + ".png")).string(),
                                            cv::IMREAD_COLOR);
            QCOMPARE(tiles[k].size(), want.size());
            QCOMPARE(cv::norm(tiles[k], want, cv::NORM_INF), 0.0);
        }
        QVERIFY_THROWS_EXCEPTION(rc::Error, rc::internvl_tile_grid(0, 10));
        QCOMPARE(rc::internvl_tiles(cv::Mat(300, 300, CV_8UC3, cv::Scalar(1, 2, 3)), 6, true).size(),
                 size_t(1));  // one tile: no thumbnail
    }
};

QTEST_APPLESS_MAIN(TestImageIo)
#include "test_image_io.moc"
