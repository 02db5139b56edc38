// The one image -> tensor path: padding, resizing, channel order, normalisation.
#include <QtTest>

#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"
#include "regionchat/preprocess.h"

using namespace rc;

class TestPreprocess : public QObject {
    Q_OBJECT

private slots:
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
        o.pad_to_square = false;
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
};

QTEST_APPLESS_MAIN(TestPreprocess)
#include "test_preprocess.moc"
