// The one image -> tensor path: padding, resizing, channel order, normalisation.
#include <QtTest>

#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/preprocess.h"
#include "regionchat/safetensors.h"
#include "support/read_tensor.h"

#include <fstream>

#include <nlohmann/json.hpp>

using namespace rc;

class TestPreprocess : public QObject {
    Q_OBJECT

private slots:
    // Pink stretches to 224 with torchvision's Resize on a PIL image, and CLIPImageProcessor
    // resizes with PIL: Pillow's bicubic, bit for bit.
    // The expected pixels were written by Pillow 9.4 (Debian bookworm) for the same generated
    // images: Image.resize((s, s), Image.BICUBIC), row-major RGB.
    void bicubicAntialiasMatchesPillow() {
        auto make = [](int w, int h) {
            cv::Mat img(h, w, CV_8UC3);
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    for (int c = 0; c < 3; ++c)  // RGB value c goes to BGR channel 2 - c
                        img.at<cv::Vec3b>(y, x)[2 - c] =
                            uchar((x * 37 + y * 91 + c * 53 + ((x * y) % 29) * 5) % 256);
            return img;
        };
        const std::vector<int> down = {
            100, 128, 144, 118, 130, 139, 117, 111, 125, 138, 123, 130, 134, 138, 110, 119, 83,
            124, 130, 163, 124, 139, 76,  86,  122, 127, 123, 116, 119, 123, 153, 126, 122, 158,
            142, 133, 137, 124, 128, 143, 117, 124, 121, 122, 141, 130, 102, 116, 108, 142, 117,
            145, 130, 129, 171, 132, 94,  145, 117, 94,  146, 118, 134, 138, 138, 110, 130, 149,
            137, 144, 136, 116, 114, 147, 132, 134, 150, 109, 120, 116, 113, 144, 121, 113, 125,
            167, 130, 86,  137, 121, 120, 120, 138, 122, 113, 147, 129, 100, 154, 125, 132, 131,
            116, 132, 150, 142, 134, 98,  87,  144, 128, 99,  112, 123, 130, 126, 122, 118, 118,
            134, 125, 122, 112, 105, 132, 121, 130, 120, 120, 153, 117, 98,  135, 143, 131, 122,
            129, 141, 143, 152, 109, 121, 157, 143, 122, 124, 108, 122, 117, 114, 137, 142, 112,
            160, 137, 107, 131, 131, 142, 123, 121, 134, 126, 123, 135, 113, 112, 138, 120, 155,
            101, 131, 107, 132, 113, 148, 128, 113, 120, 162, 113, 162, 103, 120, 101, 137, 135,
            120, 131, 143, 121, 101};
        const std::vector<int> up = {
            0,   41,  94,  0,   53,  105, 24,  77,  129, 44,  95,  160, 64,  117, 195, 84,  152,
            217, 107, 183, 235, 146, 207, 255, 165, 218, 255, 9,   59,  115, 18,  72,  128, 43,
            98,  153, 64,  121, 158, 87,  140, 161, 111, 143, 181, 126, 149, 203, 130, 173, 227,
            133, 186, 238, 47,  98,  170, 58,  117, 189, 84,  154, 216, 114, 188, 155, 146, 199,
            79,  182, 123, 91,  177, 62,  123, 90,  89,  148, 51,  108, 160, 93,  147, 191, 107,
            157, 213, 134, 179, 242, 154, 216, 145, 172, 225, 24,  213, 105, 34,  200, 8,   72,
            62,  37,  99,  0,   59,  112, 149, 214, 111, 168, 177, 130, 198, 112, 160, 155, 124,
            116, 98,  151, 60,  124, 92,  85,  136, 52,  126, 71,  92,  155, 43,  116, 168, 179,
            253, 31,  203, 178, 46,  235, 43,  76,  142, 32,  99,  23,  76,  120, 35,  96,  149,
            75,  120, 179, 99,  154, 209, 111, 171, 224, 120, 187, 52,  142, 141, 67,  175, 60,
            99,  120, 61,  140, 49,  102, 172, 65,  146, 144, 105, 168, 124, 148, 135, 156, 170,
            114, 175, 33,  88,  107, 51,  94,  124, 84,  106, 156, 97,  130, 199, 108, 161, 217,
            135, 206, 116, 166, 204, 37,  200, 90,  73,  218, 25,  97,  0,   48,  128, 14,  74,
            145, 47,  123, 178, 87,  156, 223, 131, 184, 237, 161, 231, 106, 189, 220, 3,   222,
            73,  39,  239, 0,   65};
        struct Case {
            int w, h, s;
            const std::vector<int>* expected;
        };
        for (const Case& k : {Case{23, 17, 8, &down}, Case{5, 4, 9, &up}}) {
            const cv::Mat out = resize_bicubic_antialias(make(k.w, k.h), k.s);
            QCOMPARE(out.cols, k.s);
            QCOMPARE(out.rows, k.s);
            int worst = 0, off = 0;
            for (int y = 0; y < k.s; ++y)
                for (int x = 0; x < k.s; ++x)
                    for (int c = 0; c < 3; ++c) {
                        const int d = std::abs(int(out.at<cv::Vec3b>(y, x)[2 - c]) -
                                               (*k.expected)[(y * k.s + x) * 3 + c]);
                        worst = std::max(worst, d);
                        off += d != 0;
                    }
            // Pillow's fixed-point arithmetic, reproduced: every value equal.
            QVERIFY2(worst == 0, qPrintable(QString("%1x%2 -> %3: worst %4, %5 values off")
                                                .arg(k.w).arg(k.h).arg(k.s).arg(worst).arg(off)));
        }
        // preprocess_image with the option uses exactly this resize.
        PreprocessOptions o;
        o.size = 8;
        o.fit = ImageFit::Stretch;
        o.bicubic_antialias = true;
        const auto t = preprocess_image(make(23, 17), o);
        const float r00 = (down[0] / 255.f - o.mean[0]) / o.std[0];
        QVERIFY(std::abs(t[0][0][0].item<float>() - r00) < 0.02f);
    }

    void uniformImageNormalisesPerChannel() {
        // BGR (10, 20, 200): R=200, G=20, B=10.
        cv::Mat img(50, 50, CV_8UC3, cv::Scalar(10, 20, 200));
        PreprocessOptions o;
        o.size = 16;
        auto t = preprocess_image(img, o);
        QCOMPARE(t.sizes(), (c10::IntArrayRef{3, 16, 16}));
        QVERIFY(t.is_contiguous());
        const float rgb[3] = {200, 20, 10};
        for (int c = 0; c < 3; ++c) {
            const float expected = (rgb[c] / 255.f - o.mean[c]) / o.std[c];
            QVERIFY(std::abs(t[c][7][7].item<float>() - expected) < 1e-5);
            QVERIFY(std::abs(t[c].max().item<float>() - t[c].min().item<float>()) < 1e-5);
        }
    }

    void wideImageIsPaddedTopAndBottomWithTheMean() {
        // 40x20 white image -> 40x40 square: rows 0..9 and 30..39 are mean-colour padding.
        cv::Mat img(20, 40, CV_8UC3, cv::Scalar(255, 255, 255));
        PreprocessOptions o;
        o.size = 40;  // no resize, so padding rows stay exact
        auto t = preprocess_image(img, o);
        for (int c = 0; c < 3; ++c) {
            const float pad = (int(o.mean[c] * 255) / 255.f - o.mean[c]) / o.std[c];
            const float white = (1.f - o.mean[c]) / o.std[c];
            QVERIFY(std::abs(t[c][0][20].item<float>() - pad) < 1e-5);
            QVERIFY(std::abs(t[c][39][0].item<float>() - pad) < 1e-5);
            QVERIFY(std::abs(t[c][10][0].item<float>() - white) < 1e-5);
            QVERIFY(std::abs(t[c][29][39].item<float>() - white) < 1e-5);
        }
        o.fit = ImageFit::Stretch;
        auto r = preprocess_image(img, o);
        QVERIFY(std::abs(r[0][0][0].item<float>() - (1.f - o.mean[0]) / o.std[0]) < 1e-5);
    }

    void expandToSquareCentresLikeLlava() {
        cv::Mat tall(7, 4, CV_8UC3, cv::Scalar(0, 0, 0));
        cv::Mat sq = expand_to_square(tall, {1.f, 1.f, 1.f});
        QCOMPARE(sq.cols, 7);
        QCOMPARE(sq.rows, 7);
        // offset (7-4)/2 = 1: column 0 padding, columns 1..4 image, 5..6 padding.
        QCOMPARE(sq.at<cv::Vec3b>(3, 0), cv::Vec3b(255, 255, 255));
        QCOMPARE(sq.at<cv::Vec3b>(3, 1), cv::Vec3b(0, 0, 0));
        QCOMPARE(sq.at<cv::Vec3b>(3, 4), cv::Vec3b(0, 0, 0));
        QCOMPARE(sq.at<cv::Vec3b>(3, 5), cv::Vec3b(255, 255, 255));
    }

    // solid_image (setTo, the fast fill) gives the pixels OpenCV's filling constructor gives,
    // channels differing, saturated where out of range; expand_to_square pads with the CLIP
    // mean's bytes (122, 116, 104 RGB) in every padding pixel.
    void solidImageFillsAsOpenCv() {
        const cv::Scalar colours[] = {{104, 116, 122}, {300, -4, 7.6}, {0.25, 1e6, 3}};
        for (int type : {CV_8UC3, CV_8UC1, CV_32FC3, CV_16UC4})
            for (const auto& c : colours) {
                const cv::Mat want(5, 9, type, c), got = solid_image(5, 9, type, c);
                QCOMPARE(got.type(), type);
                QCOMPARE(got.size(), want.size());
                QCOMPARE(cv::norm(got, want, cv::NORM_INF), 0.0);
            }
        const PreprocessOptions o;
        cv::Mat wide(4, 10, CV_8UC3, cv::Scalar(1, 2, 3));
        const cv::Mat sq = expand_to_square(wide, o.mean);
        const cv::Mat want(3, 10, CV_8UC3, cv::Scalar(104, 116, 122));
        QCOMPARE(cv::norm(sq(cv::Rect(0, 0, 10, 3)), want, cv::NORM_INF), 0.0);  // above
        QCOMPARE(cv::norm(sq(cv::Rect(0, 7, 10, 3)), want, cv::NORM_INF), 0.0);  // below
        QCOMPARE(sq.at<cv::Vec3b>(3, 0), cv::Vec3b(1, 2, 3));
        QCOMPARE(sq.at<cv::Vec3b>(6, 9), cv::Vec3b(1, 2, 3));
    }

    void otherPixelFormatsConvert() {
        cv::Mat gray(10, 10, CV_8UC1, cv::Scalar(128));
        QCOMPARE(to_bgr8(gray).type(), CV_8UC3);
        cv::Mat bgra(10, 10, CV_8UC4, cv::Scalar(1, 2, 3, 4));
        QCOMPARE(to_bgr8(bgra).at<cv::Vec3b>(0, 0), cv::Vec3b(1, 2, 3));
        cv::Mat deep(10, 10, CV_16UC3, cv::Scalar(65535, 0, 0));
        QCOMPARE(to_bgr8(deep).at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));
        QVERIFY_THROWS_EXCEPTION(Error, to_bgr8(cv::Mat()));
        QVERIFY_THROWS_EXCEPTION(Error, to_bgr8(cv::Mat(4, 4, CV_8UC2)));
    }

    void outputOwnsItsMemory() {
        torch::Tensor t;
        {
            cv::Mat img(30, 30, CV_8UC3, cv::Scalar(0, 0, 255));
            PreprocessOptions o;
            o.size = 8;
            t = preprocess_image(img, o);
        }
        const float red = (1.f - 0.48145466f) / 0.26862954f;
        QVERIFY(std::abs(t[0][4][4].item<float>() - red) < 1e-5);
    }

    // The pixel values DualFocus' own code fed its model (tests/reference/dualfocus, written by
    // tools/reference/dualfocus_reference.py: expand2square with the CLIP mean, CLIPImageProcessor
    // with PIL bicubic) for a sample scene and its crop: ours with the bicubic filter.
    void dualFocusReferencePixels() {
        const std::string src = qEnvironmentVariable("REGIONCHAT_SOURCE_DIR").toStdString();
        const std::string dir = src + "/tests/reference/dualfocus/";
        std::ifstream in(dir + "model_cases.json");
        QVERIFY(in.good());
        const auto cases = nlohmann::json::parse(in);
        const auto& tv1 = cases["cases"][0];
        const cv::Mat image =
            load_image(src + "/resources/samples/" + tv1["image"].get<std::string>());
        const auto& r = tv1["box"]["crop_rect"];
        const cv::Rect rect(r[0], r[1], r[2].get<int>() - r[0].get<int>(),
                            r[3].get<int>() - r[1].get<int>());
        PreprocessOptions o;
        o.size = 128;
        o.fit = ImageFit::Pad;
        o.bicubic_antialias = true;
        const auto pixels = SafetensorsArchive::open(dir + "pixel_values.safetensors");
        const double full = (preprocess_image(image, o) -
                             testing::read_tensor(*pixels, "full").squeeze(0))
                                .abs()
                                .max()
                                .item<double>();
        const double crop = (preprocess_image(image(rect).clone(), o) -
                             testing::read_tensor(*pixels, "crop").squeeze(0))
                                .abs()
                                .max()
                                .item<double>();
        qInfo("pixel values vs DualFocus' reference: image %.3g, crop %.3g", full, crop);
        QVERIFY(full < 1e-6 && crop < 1e-6);
    }
};

QTEST_APPLESS_MAIN(TestPreprocess)
#include "test_preprocess.moc"
