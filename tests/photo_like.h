// A photo-like synthetic tabletop scene with its objects' boxes, shared by test_proposals
// and the proposals measurement program (tools/proposals-bench).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "regionchat/proposals.h"

namespace rc::testing {

// A photo-like tabletop: a textured, unevenly lit background with shaded objects that cast
// soft shadows, then blur, sensor noise and JPEG. Returns the image and the objects' boxes.
inline cv::Mat photo_like(uint64_t seed, std::vector<Box>* boxes) {
    cv::RNG rng(seed);
    const cv::Size size(640, 480);
    cv::Mat bg(size, CV_32FC3);
    const cv::Vec3f wood(rng.uniform(90.f, 140.f), rng.uniform(120.f, 160.f),
                         rng.uniform(150.f, 200.f));
    const double freq = rng.uniform(0.04, 0.09);
    for (int y = 0; y < size.height; ++y)
        for (int x = 0; x < size.width; ++x) {
            const double grain = 12 * std::sin(freq * y + 3 * std::sin(0.01 * x + 0.02 * y));
            const double light = 1.1 - 0.35 * double(x + y) / (size.width + size.height);
            bg.at<cv::Vec3f>(y, x) = (wood + cv::Vec3f::all(float(grain))) * float(light);
        }
    cv::Mat speckle(size, CV_32FC3);
    rng.fill(speckle, cv::RNG::NORMAL, 0, 10);
    cv::GaussianBlur(speckle, speckle, {0, 0}, 1.5);
    bg += speckle;

    std::vector<cv::Rect> taken;
    for (int i = 0; i < 6; ++i) {
        cv::Mat mask = cv::Mat::zeros(size, CV_8U);
        const int w = rng.uniform(50, 150), h = rng.uniform(50, 150);
        const cv::Rect r(rng.uniform(10, size.width - w - 10),
                         rng.uniform(10, size.height - h - 10), w, h);
        const cv::Rect grown(r.x - 25, r.y - 25, r.width + 50, r.height + 50);
        if (std::any_of(taken.begin(), taken.end(),
                        [&](const cv::Rect& t) { return (t & grown).area() > 0; }))
            continue;
        switch (i % 3) {
            case 0:
                cv::ellipse(mask, (r.tl() + r.br()) / 2, r.size() / 2, rng.uniform(0., 180.), 0,
                            360, 255, cv::FILLED, cv::LINE_AA);
                break;
            case 1: {
                const std::vector<cv::Point> poly{{r.x + rng.uniform(0, w / 3), r.y},
                                                  {r.x + w, r.y + rng.uniform(0, h / 3)},
                                                  {r.x + w - rng.uniform(0, w / 3), r.y + h},
                                                  {r.x, r.y + h - rng.uniform(0, h / 3)}};
                cv::fillConvexPoly(mask, poly, 255, cv::LINE_AA);
                break;
            }
            default:
                cv::rectangle(mask, r, 255, cv::FILLED);
                break;
        }
        taken.push_back(r);
        cv::Mat alpha, shadow;
        mask.convertTo(alpha, CV_32F, 1.0 / 255);
        cv::Mat shifted = cv::Mat::zeros(size, CV_32F);
        alpha(cv::Rect(0, 0, size.width - 8, size.height - 8))
            .copyTo(shifted(cv::Rect(8, 8, size.width - 8, size.height - 8)));
        cv::GaussianBlur(shifted, shadow, {0, 0}, 6);
        const cv::Vec3f colour(rng.uniform(30.f, 230.f), rng.uniform(30.f, 230.f),
                               rng.uniform(30.f, 230.f));
        for (int y = 0; y < size.height; ++y)
            for (int x = 0; x < size.width; ++x) {
                cv::Vec3f& px = bg.at<cv::Vec3f>(y, x);
                px *= 1.f - 0.45f * shadow.at<float>(y, x);
                const float a = alpha.at<float>(y, x);
                if (a <= 0) continue;
                const float shade = 1.15f - 0.4f * float(y - r.y) / float(h);
                px = px * (1.f - a) + colour * shade * a;
            }
        const Box b = mask_box(mask);
        boxes->push_back(b);
    }
    cv::Mat noise(size, CV_32FC3), out;
    rng.fill(noise, cv::RNG::NORMAL, 0, 5);
    bg += noise;
    cv::GaussianBlur(bg, bg, {0, 0}, 0.7);
    bg.convertTo(out, CV_8UC3);
    std::vector<uchar> jpeg;
    cv::imencode(".jpg", out, jpeg, {cv::IMWRITE_JPEG_QUALITY, 75});
    return cv::imdecode(jpeg, cv::IMREAD_COLOR);
}

}  // namespace rc::testing
