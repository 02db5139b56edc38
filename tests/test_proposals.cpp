// Region proposals: the shared helpers (mask IoU, mask boxes, NMS) and the classic generator
// on held-out synthetic scenes of both renderers and on a photo-like image.
// Set REGIONCHAT_PROPOSALS_OVERLAY=<dir> to write overlays of the top proposals there.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "regionchat/error.h"
#include "regionchat/proposals.h"
#include "regionchat/synth.h"

#include "photo_like.h"

using namespace rc;

namespace {

constexpr uint64_t kHeldOutSeed = 1000000000ULL;  // training uses seeds below this
constexpr int kRecallScenes = 60;

synth::SceneOptions options_for(synth::Renderer r) {
    synth::SceneOptions o;
    o.renderer = r;
    return o;
}

Proposal proposal(const Box& box, float score) {
    Proposal p;
    p.box = box;
    p.score = score;
    return p;
}

// Whether one of the first `top` proposals matches the object's box at IoU >= 0.5.
bool found(const Box& object, const std::vector<Proposal>& proposals, size_t top = SIZE_MAX) {
    const size_t n = std::min(top, proposals.size());
    return std::any_of(proposals.begin(), proposals.begin() + n,
                       [&](const Proposal& p) { return iou(p.box, object) >= 0.5; });
}

// Checks what every result must satisfy; returns "" or what is wrong.
QString check_well_formed(const cv::Mat& image, const std::vector<Proposal>& proposals,
                          const ProposalParams& params) {
    if (int(proposals.size()) > params.max_proposals) return "too many proposals";
    for (size_t i = 0; i < proposals.size(); ++i) {
        const Proposal& p = proposals[i];
        if (p.mask.size() != image.size() || p.mask.type() != CV_8UC1) return "mask size/type";
        cv::Mat other;
        cv::compare(p.mask, 0, other, cv::CMP_NE);
        cv::bitwise_and(other, p.mask != 255, other);
        if (cv::countNonZero(other) != 0) return "mask not 0/255";
        const Box b = mask_box(p.mask);
        if (b.x0 != p.box.x0 || b.y0 != p.box.y0 || b.x1 != p.box.x1 || b.y1 != p.box.y1)
            return QString("box %1 is not the mask's bounding rect").arg(i);
        if (p.box.area() < params.min_area_fraction * image.total() * 0.5) return "tiny proposal";
        if (p.source != "classic") return "source";
        if (!(p.score >= 0 && p.score <= 1)) return "score out of 0..1";
        if (i > 0 && p.score > proposals[i - 1].score) return "not sorted by score";
        for (size_t j = 0; j < i; ++j)
            if (iou(p.box, proposals[j].box) > params.nms_iou)
                return QString("proposals %1 and %2 overlap").arg(j).arg(i);
    }
    return {};
}

// The image with the top proposals' outlines, boxes and ranks drawn on it.
void write_overlay(const cv::Mat& image, const std::vector<Proposal>& proposals,
                   const std::string& name, size_t top = 12) {
    const QByteArray dir = qgetenv("REGIONCHAT_PROPOSALS_OVERLAY");
    if (dir.isEmpty()) return;
    cv::Mat out = image.clone();
    for (size_t i = 0; i < std::min(top, proposals.size()); ++i) {
        const Proposal& p = proposals[i];
        const cv::Scalar colour((i * 97) % 256, (i * 57 + 128) % 256, (i * 31 + 64) % 256);
        std::vector<std::vector<cv::Point>> contours;
        cv::findContours(p.mask.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
        cv::drawContours(out, contours, -1, colour, 2);
        cv::rectangle(out, cv::Point(int(p.box.x0), int(p.box.y0)),
                      cv::Point(int(p.box.x1) - 1, int(p.box.y1) - 1), colour, 1);
        cv::putText(out, std::to_string(i), cv::Point(int(p.box.x0) + 3, int(p.box.y0) + 14),
                    cv::FONT_HERSHEY_SIMPLEX, 0.5, colour, 2);
    }
    cv::imwrite(dir.toStdString() + "/" + name, out);
}

}  // namespace

class TestProposals : public QObject {
    Q_OBJECT

private slots:
    void maskIouAndBox() {
        cv::Mat a = cv::Mat::zeros(20, 30, CV_8U), b = a.clone();
        QCOMPARE(mask_iou(a, b), 0.0);
        QCOMPARE(mask_box(a).area(), 0.0);
        a(cv::Rect(0, 0, 10, 10)) = 255;
        b(cv::Rect(5, 0, 10, 10)) = 1;  // any non-zero value is inside
        QCOMPARE(mask_iou(a, b), 50.0 / 150.0);
        QCOMPARE(mask_iou(a, a), 1.0);
        const Box box = mask_box(b);
        QCOMPARE(box.x0, 5.0);
        QCOMPARE(box.y0, 0.0);
        QCOMPARE(box.x1, 15.0);
        QCOMPARE(box.y1, 10.0);
        QVERIFY_THROWS_EXCEPTION(Error, mask_iou(a, cv::Mat::zeros(20, 31, CV_8U)));
    }

    void nmsKeepsBestAndOrder() {
        std::vector<Proposal> in{proposal({0, 0, 10, 10}, 0.5f), proposal({0, 0, 10, 11}, 0.9f),
                                 proposal({20, 20, 30, 30}, 0.7f),
                                 proposal({50, 50, 60, 60}, 0.1f)};
        const auto out = nms(in, 0.7, 10);
        QCOMPARE(out.size(), size_t(3));
        QCOMPARE(out[0].score, 0.9f);
        QCOMPARE(out[1].score, 0.7f);
        QCOMPARE(out[2].score, 0.1f);
        QCOMPARE(nms(in, 0.7, 2).size(), size_t(2));
        QCOMPARE(nms(in, 1.0, 10).size(), size_t(4));  // identical-ish boxes stay at 1.0
        QCOMPARE(nms({}, 0.5, 10).size(), size_t(0));
    }

    void recallOnHeldOutScenes_data() {
        QTest::addColumn<int>("renderer");
        QTest::newRow("train") << int(synth::Renderer::Train);
        QTest::newRow("alternate") << int(synth::Renderer::Alternate);
    }

    // The bar: >= 90% of the shapes matched by some proposal at box IoU >= 0.5.
    void recallOnHeldOutScenes() {
        QFETCH(int, renderer);
        const auto options = options_for(synth::Renderer(renderer));
        auto generator = make_classic_generator();
        const ProposalParams params;
        int objects = 0, hits = 0, top10 = 0;
        size_t total_proposals = 0;
        QStringList missed;
        for (int i = 0; i < kRecallScenes; ++i) {
            const auto scene = synth::generate_scene(kHeldOutSeed + 7 * i, options);
            const auto proposals = generator->generate(scene.image, params);
            const QString problem = check_well_formed(scene.image, proposals, params);
            QVERIFY2(problem.isEmpty(), qPrintable(problem));
            total_proposals += proposals.size();
            for (const auto& o : scene.objects) {
                ++objects;
                top10 += found(o.box, proposals, 10);
                if (found(o.box, proposals))
                    ++hits;
                else
                    missed << QString("%1:%2 %3")
                                  .arg(scene.seed)
                                  .arg(synth::colour_name(o.colour), synth::shape_name(o.shape));
            }
            if (i == 0)
                write_overlay(scene.image, proposals,
                              QTest::currentDataTag() + std::string(".png"));
        }
        const double recall = double(hits) / objects;
        qInfo("%s: recall %.3f (%d/%d shapes, %.1f proposals per scene), %.3f in the top 10",
              QTest::currentDataTag(), recall, hits, objects,
              double(total_proposals) / kRecallScenes, double(top10) / objects);
        if (!missed.isEmpty()) qInfo("missed: %s", qPrintable(missed.join(", ")));
        QVERIFY2(recall >= 0.90, qPrintable(QString::number(recall)));
        QVERIFY(double(top10) / objects >= 0.90);  // ranking: objects come first
    }

    void maxProposalsRespected() {
        auto generator = make_classic_generator();
        const auto scene = synth::generate_scene(kHeldOutSeed + 3);
        ProposalParams params;
        params.max_proposals = 3;
        const auto few = generator->generate(scene.image, params);
        QVERIFY(!few.empty());
        QVERIFY(few.size() <= 3u);
        QVERIFY(check_well_formed(scene.image, few, params).isEmpty());
        params.max_proposals = 0;
        QVERIFY(generator->generate(scene.image, params).empty());
        params.max_proposals = 64;
        params.nms_iou = 0.3;  // stricter dedup is honoured too
        const auto strict = generator->generate(scene.image, params);
        QVERIFY(check_well_formed(scene.image, strict, params).isEmpty());
    }

    void progressIsMonotonicAndCancels() {
        auto generator = make_classic_generator();
        const auto scene = synth::generate_scene(kHeldOutSeed + 11);
        ProposalParams params;
        std::vector<float> seen;
        params.progress = [&](float v) {
            seen.push_back(v);
            return true;
        };
        QVERIFY(!generator->generate(scene.image, params).empty());
        QVERIFY(seen.size() >= 5u);
        QCOMPARE(seen.front(), 0.f);
        QCOMPARE(seen.back(), 1.f);
        QVERIFY(std::is_sorted(seen.begin(), seen.end()));

        for (float stop_at : {0.f, 0.3f, 0.6f, 0.9f}) {
            params.progress = [stop_at](float v) { return v < stop_at; };
            bool cancelled = false;
            try {
                generator->generate(scene.image, params);
            } catch (const Error& e) {
                cancelled = std::string(e.what()) == "cancelled";
            }
            QVERIFY2(cancelled, qPrintable(QString::number(stop_at)));
        }
    }

    void emptyGrayAndBgraImages() {
        auto generator = make_classic_generator();
        QVERIFY_THROWS_EXCEPTION(Error, generator->generate(cv::Mat(), {}));
        const auto scene = synth::generate_scene(kHeldOutSeed + 5);
        cv::Mat gray, bgra;
        cv::cvtColor(scene.image, gray, cv::COLOR_BGR2GRAY);
        cv::cvtColor(scene.image, bgra, cv::COLOR_BGR2BGRA);
        const ProposalParams params;
        const auto from_gray = generator->generate(gray, params);
        QVERIFY(!from_gray.empty());
        QVERIFY(check_well_formed(gray, from_gray, params).isEmpty());
        const auto from_bgra = generator->generate(bgra, params);
        QVERIFY(check_well_formed(bgra, from_bgra, params).isEmpty());
        QCOMPARE(from_bgra.size(), generator->generate(scene.image, params).size());
        // A flat image has nothing to propose, and tiny images still work.
        QVERIFY(
            generator->generate(cv::Mat(100, 120, CV_8UC3, cv::Scalar::all(200)), params).empty());
        QVERIFY(check_well_formed(
                    cv::Mat(3, 2, CV_8UC3, cv::Scalar::all(9)),
                    generator->generate(cv::Mat(3, 2, CV_8UC3, cv::Scalar::all(9)), params), params)
                    .isEmpty());
        QVERIFY_THROWS_EXCEPTION(Error, generator->generate(cv::Mat(10, 10, CV_32FC3), params));
    }

    void deterministic() {
        auto a = make_classic_generator(), b = make_classic_generator();
        const auto scene =
            synth::generate_scene(kHeldOutSeed + 13, options_for(synth::Renderer::Alternate));
        const auto first = a->generate(scene.image, {});
        const auto again = a->generate(scene.image, {});
        const auto other = b->generate(scene.image.clone(), {});
        for (const auto* run : {&again, &other}) {
            QCOMPARE(run->size(), first.size());
            for (size_t i = 0; i < first.size(); ++i) {
                QCOMPARE((*run)[i].score, first[i].score);
                QCOMPARE(cv::countNonZero((*run)[i].mask != first[i].mask), 0);
            }
        }
    }

    // Usefulness beyond flat synthetic colours: textured background, shading, shadows, noise.
    void photoLikeImages() {
        auto generator = make_classic_generator();
        int objects = 0, hits = 0, top10 = 0;
        for (uint64_t seed = 1; seed <= 6; ++seed) {
            std::vector<Box> boxes;
            const cv::Mat image = testing::photo_like(seed, &boxes);
            const auto proposals = generator->generate(image, {});
            QVERIFY(check_well_formed(image, proposals, {}).isEmpty());
            for (const Box& b : boxes) {
                ++objects;
                hits += found(b, proposals);
                top10 += found(b, proposals, 10);
            }
            if (seed == 1) write_overlay(image, proposals, "photo.png");
        }
        qInfo("photo-like: recall %.3f in all, %.3f in the top 10 (%d shapes)",
              double(hits) / objects, double(top10) / objects, objects);
        QVERIFY(double(hits) / objects >= 0.8);
        QVERIFY(double(top10) / objects >= 0.7);
    }

    // The segmentation and grouping chosen by measurement (README, "Region proposals: ours vs
    // OpenCV ximgproc"; tools/proposals-bench): on its 20 photo-like scenes they find all 74
    // objects and 72 in the top 10. The bars allow 2 misses in all and 3 in the top 10.
    void photoLikeRecallOfTheChosenPath() {
        auto generator = make_classic_generator();
        int objects = 0, hits = 0, top10 = 0;
        for (uint64_t seed = 101; seed <= 120; ++seed) {
            std::vector<Box> boxes;
            const cv::Mat image = testing::photo_like(seed, &boxes);
            const auto proposals = generator->generate(image, {});
            for (const Box& b : boxes) {
                ++objects;
                hits += found(b, proposals);
                top10 += found(b, proposals, 10);
            }
        }
        qInfo("photo-like, 20 scenes: recall %.3f in all, %.3f in the top 10 (%d objects)",
              double(hits) / objects, double(top10) / objects, objects);
        QCOMPARE(objects, 74);
        QVERIFY(double(hits) / objects >= 0.97);
        QVERIFY(double(top10) / objects >= 0.95);
    }

    void timing() {
        auto generator = make_classic_generator();
        synth::SceneOptions options;
        options.min_side = 480;
        options.max_side = 640;
        std::vector<double> ms;
        for (int i = 0; i < 20; ++i) {
            const auto scene = synth::generate_scene(kHeldOutSeed + 1000 + i, options);
            cv::Mat image;
            cv::resize(scene.image, image, cv::Size(640, 480));
            QElapsedTimer timer;
            timer.start();
            const auto proposals = generator->generate(image, {});
            ms.push_back(timer.nsecsElapsed() / 1e6);
            // The figure is for the log; what was timed must still be real work.
            QVERIFY(!proposals.empty());
            for (const auto& p : proposals) {
                QCOMPARE(p.mask.size(), image.size());
                QVERIFY(p.box.x0 >= 0 && p.box.y0 >= 0 && p.box.x1 <= 640 && p.box.y1 <= 480);
                QVERIFY(p.box.x1 > p.box.x0 && p.box.y1 > p.box.y0);
            }
        }
        std::sort(ms.begin(), ms.end());
        qInfo("classic generator, 640x480: median %.1f ms (min %.1f, max %.1f) over 20 scenes",
              ms[ms.size() / 2], ms.front(), ms.back());
    }
};

QTEST_APPLESS_MAIN(TestProposals)
#include "test_proposals.moc"
