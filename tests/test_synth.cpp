// Synthetic scenes, their question/answer samples and the DualFocus crop. Expectations are
// recomputed here from pixels and the scene's objects, not taken from the generator.
// Set REGIONCHAT_SYNTH_EXAMPLES=<dir> to also write example scenes (raw + boxes drawn).
#include <QDebug>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QtTest>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "regionchat/dual_focus_crop.h"
#include "regionchat/synth.h"

using namespace rc;
using namespace rc::synth;

namespace {

// The nominal colours (RGB) and names, in enum order.
const int kNominal[kColourCount][3] = {{220, 40, 40},  {40, 170, 60},  {40, 80, 220},
                                       {240, 210, 40}, {140, 60, 180}, {250, 140, 30}};
const char* const kColourNames[kColourCount] = {"red",    "green",  "blue",
                                                "yellow", "purple", "orange"};
const char* const kShapeNames[kShapeCount] = {"circle", "square", "triangle", "star"};

SceneOptions options_for(Renderer r, bool augment = true) {
    SceneOptions o;
    o.renderer = r;
    o.augment = augment;
    return o;
}

int index_of(const char* const* names, int n, const QString& name) {
    for (int i = 0; i < n; ++i)
        if (name == names[i]) return i;
    return -1;
}
int colour_index(const QString& name) {
    return index_of(kColourNames, kColourCount, name);
}
int shape_index(const QString& name) {
    return index_of(kShapeNames, kShapeCount, name);
}

bool intersects(const Box& a, const Box& b) {
    return std::min(a.x1, b.x1) > std::max(a.x0, b.x0) &&
           std::min(a.y1, b.y1) > std::max(a.y0, b.y0);
}

cv::Rect to_rect(const Box& b, int grow = 0) {
    return cv::Rect(cvFloor(b.x0) - grow, cvFloor(b.y0) - grow, cvCeil(b.x1 - b.x0) + 2 * grow,
                    cvCeil(b.y1 - b.y0) + 2 * grow);
}

// Per-channel median (BGR) of a region.
cv::Vec3b median_bgr(const cv::Mat& region) {
    std::array<std::vector<uchar>, 3> ch;
    for (int y = 0; y < region.rows; ++y)
        for (int x = 0; x < region.cols; ++x)
            for (int c = 0; c < 3; ++c) ch[c].push_back(region.at<cv::Vec3b>(y, x)[c]);
    cv::Vec3b out;
    for (int c = 0; c < 3; ++c) {
        std::nth_element(ch[c].begin(), ch[c].begin() + ch[c].size() / 2, ch[c].end());
        out[c] = ch[c][ch[c].size() / 2];
    }
    return out;
}

double distance_to_nominal(const cv::Vec3b& bgr, int colour) {
    const double dr = bgr[2] - kNominal[colour][0], dg = bgr[1] - kNominal[colour][1],
                 db = bgr[0] - kNominal[colour][2];
    return std::sqrt(dr * dr + dg * dg + db * db);
}

// Parses "[0.12, 0.40, 0.55, 0.93]" (exactly that shape) into 4 numbers.
bool parse_box_text(const QString& text, double v[4]) {
    static const QRegularExpression re(
        QStringLiteral("^\\[(\\d\\.\\d\\d), (\\d\\.\\d\\d), (\\d\\.\\d\\d), (\\d\\.\\d\\d)\\]$"));
    const auto m = re.match(text);
    if (!m.hasMatch()) return false;
    for (int i = 0; i < 4; ++i) v[i] = m.captured(i + 1).toDouble();
    return true;
}

// True when the text is the object's box normalized to the image (2 decimals).
bool box_text_matches(const QString& text, const Box& b, const cv::Mat& image) {
    double v[4];
    if (!parse_box_text(text, v)) return false;
    const double want[4] = {b.x0 / image.cols, b.y0 / image.rows, b.x1 / image.cols,
                            b.y1 / image.rows};
    for (int i = 0; i < 4; ++i)
        if (std::abs(v[i] - want[i]) > 0.0051) return false;
    return true;
}

// Index of the object whose box the region text denotes; -1 when none or ambiguous.
int object_for_region(const Scene& s, const QString& region) {
    int found = -1;
    for (size_t i = 0; i < s.objects.size(); ++i) {
        if (!box_text_matches(region, s.objects[i].box, s.image)) continue;
        if (found >= 0) return -1;
        found = static_cast<int>(i);
    }
    return found;
}

// Objects with the colour and/or shape (-1: any).
int count(const Scene& s, int colour, int shape) {
    int n = 0;
    for (const auto& o : s.objects)
        n += (colour < 0 || int(o.colour) == colour) && (shape < 0 || int(o.shape) == shape);
    return n;
}
int count_pair(const Scene& s, int colour, int shape) {
    return count(s, colour, shape);
}
int count_shape(const Scene& s, int shape) {
    return count(s, -1, shape);
}
int count_colour(const Scene& s, int colour) {
    return count(s, colour, -1);
}

// QVERIFY2 with the current `msg` as the failure text.
#define CHECK(cond) QVERIFY2(cond, qPrintable(msg))

QString q(const std::string& s) {
    return QString::fromStdString(s);
}

}  // namespace

class TestSynth : public QObject {
    Q_OBJECT

private slots:
    void names();
    void determinism();
    void sizesAndCounts();
    void boxesAreSeparateAndSized();
    void objectColours();
    void boxesAreTight();
    void backgroundIsLight();
    void samplePhrasingAndAnswers();
    void existenceBalanceAndCounting();
    void samplesDeterministic();
    void cropRuleHandComputed();
    void cropEmptyBoxes();
    void cropPixels();
    void timing();
    void writeExamples();
};

void TestSynth::names() {
    for (int i = 0; i < kShapeCount; ++i)
        QCOMPARE(QString(shape_name(static_cast<Shape>(i))), QString(kShapeNames[i]));
    for (int i = 0; i < kColourCount; ++i) {
        QCOMPARE(QString(colour_name(static_cast<Colour>(i))), QString(kColourNames[i]));
        const cv::Vec3b rgb = colour_rgb(static_cast<Colour>(i));
        for (int c = 0; c < 3; ++c) QCOMPARE(int(rgb[c]), kNominal[i][c]);
    }
    std::set<std::string> tasks;
    for (int t = 0; t <= static_cast<int>(Task::DualFocusMicro); ++t)
        tasks.insert(task_name(static_cast<Task>(t)));
    QCOMPARE(int(tasks.size()), 8);
    QVERIFY(!tasks.count(""));
    QCOMPARE(box_text(Box{16, 40, 88, 93}, {160, 100}), std::string("[0.10, 0.40, 0.55, 0.93]"));
}

void TestSynth::determinism() {
    for (Renderer r : {Renderer::Train, Renderer::Alternate}) {
        for (uint64_t seed = 0; seed < 15; ++seed) {
            const Scene a = generate_scene(seed, options_for(r));
            const Scene b = generate_scene(seed, options_for(r));
            QCOMPARE(a.seed, seed);
            QCOMPARE(a.image.type(), CV_8UC3);
            QCOMPARE(a.image.size(), b.image.size());
            QCOMPARE(cv::norm(a.image, b.image, cv::NORM_INF), 0.0);
            QCOMPARE(a.objects.size(), b.objects.size());
            for (size_t i = 0; i < a.objects.size(); ++i) {
                QCOMPARE(a.objects[i].shape, b.objects[i].shape);
                QCOMPARE(a.objects[i].colour, b.objects[i].colour);
                QCOMPARE(a.objects[i].box.x0, b.objects[i].box.x0);
                QCOMPARE(a.objects[i].box.y1, b.objects[i].box.y1);
            }
            const Scene c = generate_scene(seed + 1000, options_for(r));
            const bool differs =
                c.image.size() != a.image.size() || cv::norm(a.image, c.image, cv::NORM_L1) > 0;
            QVERIFY2(differs, "different seeds gave the same image");
        }
    }
    // The renderers are different drawing paths.
    const Scene t = generate_scene(7, options_for(Renderer::Train));
    const Scene a = generate_scene(7, options_for(Renderer::Alternate));
    QVERIFY(t.image.size() != a.image.size() || cv::norm(t.image, a.image, cv::NORM_L1) > 0);
}

void TestSynth::sizesAndCounts() {
    for (Renderer r : {Renderer::Train, Renderer::Alternate}) {
        std::array<int, 7> by_count{};
        std::array<int, kShapeCount> shapes{};
        std::array<int, kColourCount> colours{};
        int non_square = 0;
        const int n = 300;
        for (uint64_t seed = 0; seed < n; ++seed) {
            const Scene s = generate_scene(seed, options_for(r));
            QVERIFY(s.image.cols >= 160 && s.image.cols <= 640);
            QVERIFY(s.image.rows >= 160 && s.image.rows <= 640);
            non_square += s.image.cols != s.image.rows;
            QVERIFY2(!s.objects.empty() && s.objects.size() <= 6,
                     qPrintable(QString::number(seed)));
            ++by_count[s.objects.size()];
            for (const auto& o : s.objects) {
                ++shapes[static_cast<int>(o.shape)];
                ++colours[static_cast<int>(o.colour)];
            }
        }
        QVERIFY(non_square > n / 3);
        for (int k = 1; k <= 6; ++k) QVERIFY2(by_count[k] > 0, qPrintable(QString::number(k)));
        for (int v : shapes) QVERIFY(v > 50);
        for (int v : colours) QVERIFY(v > 30);
    }
    // Options are honoured.
    SceneOptions o;
    o.min_side = o.max_side = 200;
    o.min_objects = o.max_objects = 2;
    const Scene s = generate_scene(3, o);
    QCOMPARE(s.image.size(), cv::Size(200, 200));
    QCOMPARE(int(s.objects.size()), 2);
}

void TestSynth::boxesAreSeparateAndSized() {
    for (Renderer r : {Renderer::Train, Renderer::Alternate}) {
        for (uint64_t seed = 0; seed < 300; ++seed) {
            const Scene s = generate_scene(seed, options_for(r));
            const double short_side = std::min(s.image.cols, s.image.rows);
            for (size_t i = 0; i < s.objects.size(); ++i) {
                const Box& b = s.objects[i].box;
                QVERIFY(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= s.image.cols && b.y1 <= s.image.rows);
                QCOMPARE(b.x0, std::floor(b.x0));  // whole pixels, [x0, x1)
                QCOMPARE(b.y1, std::floor(b.y1));
                const double extent = std::max(b.x1 - b.x0, b.y1 - b.y0) / short_side;
                QVERIFY2(extent >= 0.08 && extent <= 0.37,
                         qPrintable(QStringLiteral("seed %1 extent %2").arg(seed).arg(extent)));
                for (size_t j = i + 1; j < s.objects.size(); ++j)
                    QVERIFY2(!intersects(b, s.objects[j].box), qPrintable(QString::number(seed)));
            }
        }
    }
    // The trainer's curriculum asks for one large object: sizes follow the options.
    SceneOptions big;
    big.max_objects = 1;
    big.min_size_fraction = 0.45;
    big.max_size_fraction = 0.85;
    for (uint64_t seed = 0; seed < 100; ++seed) {
        const Scene s = generate_scene(seed, big);
        QCOMPARE(s.objects.size(), size_t(1));
        const Box& b = s.objects[0].box;
        const double extent =
            std::max(b.x1 - b.x0, b.y1 - b.y0) / std::min(s.image.cols, s.image.rows);
        QVERIFY2(extent >= 0.40 && extent <= 0.87,
                 qPrintable(QStringLiteral("seed %1 extent %2").arg(seed).arg(extent)));
    }
}

void TestSynth::objectColours() {
    for (Renderer r : {Renderer::Train, Renderer::Alternate}) {
        for (uint64_t seed = 0; seed < 200; ++seed) {
            const Scene s = generate_scene(seed, options_for(r));
            for (const auto& o : s.objects) {
                const Box& b = o.box;
                // Central 20% of the box: inside every shape's body.
                const double cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
                const double hw = std::max(1.0, 0.1 * (b.x1 - b.x0));
                const double hh = std::max(1.0, 0.1 * (b.y1 - b.y0));
                const cv::Rect centre(cvRound(cx - hw), cvRound(cy - hh), cvRound(2 * hw),
                                      cvRound(2 * hh));
                const cv::Vec3b m = median_bgr(s.image(centre));
                const int want = static_cast<int>(o.colour);
                const QString msg = QString::asprintf("seed %d %s: got BGR %d,%d,%d", int(seed),
                                                      kColourNames[want], m[0], m[1], m[2]);
                CHECK(distance_to_nominal(m, want) < 45);
                for (int c = 0; c < kColourCount; ++c)
                    if (c != want)
                        QVERIFY2(distance_to_nominal(m, c) > distance_to_nominal(m, want) + 15,
                                 qPrintable(msg));
            }
        }
    }
}

void TestSynth::boxesAreTight() {
    // Without augmentation: the box is the bounding rect of the object's pixels at least half
    // covered (every object colour has a channel <= 80, half-blended <= ~155; backgrounds
    // have none below 200).
    for (Renderer r : {Renderer::Train, Renderer::Alternate}) {
        for (uint64_t seed = 0; seed < 150; ++seed) {
            const Scene s = generate_scene(seed, options_for(r, false));
            cv::Mat channels[3], darkest, coloured;
            cv::split(s.image, channels);
            darkest = cv::min(cv::min(channels[0], channels[1]), channels[2]);
            cv::threshold(darkest, coloured, 158, 255, cv::THRESH_BINARY_INV);
            for (const auto& o : s.objects) {
                const cv::Rect window =
                    to_rect(o.box, 2) & cv::Rect(0, 0, s.image.cols, s.image.rows);
                const cv::Rect found = cv::boundingRect(coloured(window)) + window.tl();
                const QString msg = QString::asprintf(
                    "seed %d box %g,%g,%g,%g pixels %d,%d,%d,%d", int(seed), o.box.x0, o.box.y0,
                    o.box.x1, o.box.y1, found.x, found.y, found.br().x, found.br().y);
                QVERIFY2(std::abs(found.x - o.box.x0) <= 1 && std::abs(found.y - o.box.y0) <= 1 &&
                             std::abs(found.br().x - o.box.x1) <= 1 &&
                             std::abs(found.br().y - o.box.y1) <= 1,
                         qPrintable(msg));
            }
        }
    }
}

void TestSynth::backgroundIsLight() {
    for (Renderer r : {Renderer::Train, Renderer::Alternate}) {
        for (uint64_t seed = 0; seed < 150; ++seed) {
            const Scene s = generate_scene(seed, options_for(r));
            cv::Mat outside(s.image.size(), CV_8UC1, cv::Scalar(255));
            for (const auto& o : s.objects)
                outside(to_rect(o.box, 3) & cv::Rect(0, 0, s.image.cols, s.image.rows)) = 0;
            const cv::Scalar mean = cv::mean(s.image, outside);
            for (int c = 0; c < 3; ++c)
                QVERIFY2(mean[c] >= 200, qPrintable(QString::asprintf("seed %d channel %d mean %g",
                                                                      int(seed), c, mean[c])));
            cv::Mat channels[3], dark;
            cv::split(s.image, channels);
            cv::Mat darkest = cv::min(cv::min(channels[0], channels[1]), channels[2]);
            cv::threshold(darkest, dark, 170, 255, cv::THRESH_BINARY_INV);
            dark &= outside;
            QVERIFY2(cv::countNonZero(dark) <= 0.005 * cv::countNonZero(outside),
                     qPrintable(QString::number(seed)));
        }
    }
}

void TestSynth::samplePhrasingAndAnswers() {
    static const QRegularExpression describe("^What is in the region (\\[[^\\]]*\\])\\?$");
    static const QRegularExpression colour_q("^What color is the object in (\\[[^\\]]*\\])\\?$");
    static const QRegularExpression shape_q("^What shape is the object in (\\[[^\\]]*\\])\\?$");
    static const QRegularExpression where("^Where is the (\\w+) (\\w+)\\?$");
    static const QRegularExpression by_shape("^What color is the (\\w+)\\?$");
    static const QRegularExpression by_colour("^What shape is the (\\w+) object\\?$");
    const QString box_prefix =
        "Please provide the bounding box coordinate of the region this question asks: ";
    const QString micro_prefix =
        "Please combine the information from these two images and answer this question: ";

    std::array<int, 8> seen{};
    std::array<int, 2> scored_micro{};
    int multi_turn = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
        const Renderer r = seed % 4 == 3 ? Renderer::Alternate : Renderer::Train;
        const Scene s = generate_scene(seed, options_for(r));
        const auto samples = make_samples(s, seed * 31 + 5);
        QVERIFY2(samples.size() >= 6 && samples.size() <= 10, qPrintable(QString::number(seed)));

        bool unique_pair = false, dual_candidate = false;
        for (const auto& o : s.objects) {
            unique_pair |= count_pair(s, int(o.colour), int(o.shape)) == 1;
            dual_candidate |= count_shape(s, int(o.shape)) == 1;
            dual_candidate |= count_colour(s, int(o.colour)) == 1;
        }
        bool has_grounding = false, has_dual = false, has_multi = false;
        for (const auto& sample : samples) {
            QVERIFY(!sample.turns.empty());
            QCOMPARE(sample.turns[0].image, 0);
            const QString q0 = q(sample.turns[0].question);
            QVERIFY(!q0.contains("<region>") && !q0.contains("<image>"));
            std::set<int> region_objects;
            bool region_only = true;
            for (size_t ti = 0; ti < sample.turns.size(); ++ti) {
                const Turn& t = sample.turns[ti];
                const QString question = q(t.question), answer = q(t.answer);
                ++seen[static_cast<int>(t.task)];
                const QString msg =
                    QStringLiteral("seed %1: %2 -> %3").arg(seed).arg(question, answer);
                if (ti > 0 && t.task != Task::DualFocusMicro) QCOMPARE(t.image, -1);
                if (t.task != Task::RegionDescription && t.task != Task::RegionColour &&
                    t.task != Task::RegionShape)
                    region_only = false;
                switch (t.task) {
                    case Task::RegionDescription:
                    case Task::RegionColour:
                    case Task::RegionShape: {
                        const QRegularExpression& re = t.task == Task::RegionDescription ? describe
                                                       : t.task == Task::RegionColour    ? colour_q
                                                                                         : shape_q;
                        const auto m = re.match(question);
                        CHECK(m.hasMatch());
                        const int i = object_for_region(s, m.captured(1));
                        CHECK(i >= 0);
                        QVERIFY2(region_objects.insert(i).second, "same object asked twice");
                        const auto& o = s.objects[i];
                        const QString c = kColourNames[int(o.colour)],
                                      sh = kShapeNames[int(o.shape)];
                        const QString want = t.task == Task::RegionDescription ? "a " + c + " " + sh
                                             : t.task == Task::RegionColour    ? c
                                                                               : sh;
                        CHECK(answer == want);
                        QVERIFY(!t.answer_is_box);
                        break;
                    }
                    case Task::Grounding: {
                        has_grounding = true;
                        const auto m = where.match(question);
                        CHECK(m.hasMatch());
                        const int c = colour_index(m.captured(1)), sh = shape_index(m.captured(2));
                        CHECK(c >= 0 && sh >= 0 && count_pair(s, c, sh) == 1);
                        QVERIFY(t.answer_is_box);
                        for (const auto& o : s.objects)
                            if (int(o.colour) == c && int(o.shape) == sh) {
                                CHECK(box_text_matches(answer, o.box, s.image));
                                QCOMPARE(t.answer_box.x0, o.box.x0);
                                QCOMPARE(t.answer_box.y1, o.box.y1);
                            }
                        break;
                    }
                    case Task::Existence:
                    case Task::Counting:
                        QCOMPARE(sample.turns.size(), size_t(1));  // checked in their own test
                        break;
                    case Task::DualFocusBox: {
                        has_dual = true;
                        QCOMPARE(ti, size_t(0));
                        CHECK(question.startsWith(box_prefix));
                        const QString inner = question.mid(box_prefix.size());
                        QVERIFY(t.answer_is_box);
                        int target = -1;
                        QString want;
                        if (const auto m = by_shape.match(inner); m.hasMatch()) {
                            const int sh = shape_index(m.captured(1));
                            CHECK(sh >= 0 && count_shape(s, sh) == 1);
                            for (size_t i = 0; i < s.objects.size(); ++i)
                                if (int(s.objects[i].shape) == sh) target = int(i);
                            want = kColourNames[int(s.objects[target].colour)];
                        } else if (const auto m2 = by_colour.match(inner); m2.hasMatch()) {
                            const int c = colour_index(m2.captured(1));
                            CHECK(c >= 0 && count_colour(s, c) == 1);
                            for (size_t i = 0; i < s.objects.size(); ++i)
                                if (int(s.objects[i].colour) == c) target = int(i);
                            want = kShapeNames[int(s.objects[target].shape)];
                        } else {
                            QFAIL(qPrintable("unexpected box-pass question: " + msg));
                        }
                        const Box& b = s.objects[target].box;
                        CHECK(box_text_matches(answer, b, s.image));
                        QCOMPARE(t.answer_box.x0, b.x0);
                        QCOMPARE(t.answer_box.y1, b.y1);
                        // The micro pass follows with the crop.
                        QCOMPARE(sample.turns.size(), size_t(2));
                        const Turn& micro = sample.turns[1];
                        QCOMPARE(micro.task, Task::DualFocusMicro);
                        QCOMPARE(micro.image, 1);
                        // Half of them end with the line the choice step scores under.
                        const QString score_suffix = kDualFocusScoreSuffix;
                        const bool scored = q(micro.question).endsWith(score_suffix);
                        ++scored_micro[scored];
                        QCOMPARE(q(micro.question),
                                 micro_prefix + inner + (scored ? score_suffix : QString()));
                        QCOMPARE(q(micro.answer), want);
                        QVERIFY(!micro.answer_is_box);
                        QVERIFY(!sample.crop.empty());
                        const cv::Rect rect = dual_focus_crop_rect(b, scene_size(s));
                        QCOMPARE(sample.crop.size(), rect.size());
                        QCOMPARE(cv::norm(sample.crop, s.image(rect), cv::NORM_INF), 0.0);
                        break;
                    }
                    case Task::DualFocusMicro:
                        QCOMPARE(ti, size_t(1));
                        break;
                }
            }
            if (sample.turns.size() > 1 && region_only) {
                has_multi = true;
                ++multi_turn;
                QVERIFY(sample.turns.size() <= 3);
            }
            if (sample.turns.back().image != 1) QVERIFY(sample.crop.empty());
        }
        QCOMPARE(has_grounding, unique_pair);
        QCOMPARE(has_dual, dual_candidate);
        QCOMPARE(has_multi, s.objects.size() >= 2);
    }
    for (int t = 0; t < 8; ++t) QVERIFY2(seen[t] > 20, task_name(static_cast<Task>(t)));
    QVERIFY(multi_turn > 50);
    // Both micro-pass phrasings occur, roughly half each.
    QVERIFY2(scored_micro[0] > 30 && scored_micro[1] > 30,
             qPrintable(QString("plain %1, scored %2").arg(scored_micro[0]).arg(scored_micro[1])));
}

void TestSynth::existenceBalanceAndCounting() {
    // A third are in MME's wording, with " Please answer yes or no." after the question.
    static const QRegularExpression exists(
        "^Is there a (\\w+) (\\w+) in the image\\?( Please answer yes or no\\.)?$");
    static const QRegularExpression how_many("^How many (\\w+)s are there\\?$");
    int yes = 0, no = 0, zero_counts = 0, counts = 0, mme_style = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
        const Scene s = generate_scene(seed + 5000);
        for (const auto& sample : make_samples(s, seed)) {
            const Turn& t = sample.turns[0];
            const QString question = q(t.question), answer = q(t.answer);
            const QString msg = QStringLiteral("seed %1: %2 -> %3").arg(seed).arg(question, answer);
            if (t.task == Task::Existence) {
                const auto m = exists.match(question);
                CHECK(m.hasMatch());
                const int c = colour_index(m.captured(1)), sh = shape_index(m.captured(2));
                CHECK(c >= 0 && sh >= 0);
                const bool present = count_pair(s, c, sh) > 0;
                CHECK(answer == (present ? "Yes" : "No"));
                (present ? yes : no)++;
                mme_style += !m.captured(3).isEmpty();
            } else if (t.task == Task::Counting) {
                const auto m = how_many.match(question);
                CHECK(m.hasMatch());
                const int sh = shape_index(m.captured(1));
                CHECK(sh >= 0);
                CHECK(answer == QString::number(count_shape(s, sh)));
                ++counts;
                zero_counts += count_shape(s, sh) == 0;
            }
        }
    }
    QVERIFY2(mme_style > 30 && mme_style < yes + no - 30, qPrintable(QString::number(mme_style)));
    // The MME export's pairs: one present pair ("Yes"), one absent pair ("No").
    for (uint64_t seed = 0; seed < 50; ++seed) {
        const Scene s = generate_scene(seed + 7000);
        const QString msg = QStringLiteral("existence_pair, seed %1").arg(seed);
        const auto [yes_q, no_q] = existence_pair(s, seed);
        const auto my = exists.match(q(yes_q)), mn = exists.match(q(no_q));
        CHECK(my.hasMatch() && mn.hasMatch() && !my.captured(3).isEmpty());
        CHECK(count_pair(s, colour_index(my.captured(1)), shape_index(my.captured(2))) > 0);
        CHECK(count_pair(s, colour_index(mn.captured(1)), shape_index(mn.captured(2))) == 0);
    }
    const double share = double(yes) / (yes + no);
    qDebug() << "existence: yes" << yes << "no" << no << "counting:" << counts << "zero"
             << zero_counts;
    QVERIFY2(yes + no >= 200, "an existence question per scene");
    QVERIFY2(share >= 0.4 && share <= 0.6, qPrintable(QString::number(share)));
    QVERIFY(zero_counts > 5 && zero_counts < counts / 2);
}

void TestSynth::samplesDeterministic() {
    const Scene s = generate_scene(42);
    const auto a = make_samples(s, 9), b = make_samples(s, 9);
    QCOMPARE(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        QCOMPARE(a[i].turns.size(), b[i].turns.size());
        for (size_t t = 0; t < a[i].turns.size(); ++t) {
            QCOMPARE(a[i].turns[t].question, b[i].turns[t].question);
            QCOMPARE(a[i].turns[t].answer, b[i].turns[t].answer);
        }
    }
    // Other seeds pick other questions somewhere.
    bool differs = false;
    for (uint64_t seed = 10; seed < 20 && !differs; ++seed) {
        const auto c = make_samples(s, seed);
        differs = c.size() != a.size();
        for (size_t i = 0; i < c.size() && !differs; ++i)
            differs = c[i].turns[0].question != a[i].turns[0].question;
    }
    QVERIFY(differs);
}

void TestSynth::cropRuleHandComputed() {
    // Centre: 20x40 box -> 40x40 square around (50, 70), +25 px each side.
    QCOMPARE(dual_focus_crop_rect(Box{40, 50, 60, 90}, {200, 200}), cv::Rect(5, 25, 90, 90));
    // Fractional: side 30 around (115.5, 130.2), half 40 -> floor 75.5, 90.2; ceil 155.5, 170.2.
    QCOMPARE(dual_focus_crop_rect(Box{100.5, 120.2, 130.5, 140.2}, {300, 300}),
             cv::Rect(75, 90, 81, 81));
    // Clipped at the top-left corner.
    QCOMPARE(dual_focus_crop_rect(Box{0, 0, 20, 20}, {100, 80}), cv::Rect(0, 0, 45, 45));
    // Clipped at the bottom-right: side 20 around (190, 75), half 35.
    QCOMPARE(dual_focus_crop_rect(Box{180, 70, 200, 80}, {200, 80}), cv::Rect(155, 40, 45, 40));
    // Margin 0 and a custom margin.
    QCOMPARE(dual_focus_crop_rect(Box{10, 10, 20, 30}, {100, 100}, 0), cv::Rect(5, 10, 20, 20));
    QCOMPARE(dual_focus_crop_rect(Box{40, 40, 50, 50}, {100, 100}, 10), cv::Rect(30, 30, 30, 30));
    // Clipped on every side (box larger than the image).
    QCOMPARE(dual_focus_crop_rect(Box{-10, -10, 120, 60}, {100, 50}), cv::Rect(0, 0, 100, 50));
    // Corners given in reverse order mean the same box.
    QCOMPARE(dual_focus_crop_rect(Box{60, 90, 40, 50}, {200, 200}), cv::Rect(5, 25, 90, 90));
}

void TestSynth::cropEmptyBoxes() {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    QVERIFY(dual_focus_crop_rect(Box{}, {100, 100}).empty());
    QVERIFY(dual_focus_crop_rect(Box{10, 10, 10, 40}, {100, 100}).empty());  // zero width
    QVERIFY(dual_focus_crop_rect(Box{10, 10, 40, 10}, {100, 100}).empty());  // zero height
    QVERIFY(dual_focus_crop_rect(Box{nan, 10, 40, 40}, {100, 100}).empty());
    QVERIFY(dual_focus_crop_rect(Box{10, 10, inf, 40}, {100, 100}).empty());
    QVERIFY(dual_focus_crop_rect(Box{300, 300, 320, 320}, {100, 100}).empty());  // outside
    QVERIFY(dual_focus_crop_rect(Box{10, 10, 40, 40}, {0, 0}).empty());
    const cv::Mat image(100, 100, CV_8UC3, cv::Scalar(1, 2, 3));
    QVERIFY(dual_focus_crop(image, Box{nan, nan, nan, nan}).empty());
    QVERIFY(dual_focus_crop(image, Box{}).empty());
    QVERIFY(dual_focus_crop(cv::Mat(), Box{10, 10, 40, 40}).empty());
}

void TestSynth::cropPixels() {
    cv::Mat image(80, 120, CV_8UC3);
    for (int y = 0; y < image.rows; ++y)
        for (int x = 0; x < image.cols; ++x) image.at<cv::Vec3b>(y, x) = cv::Vec3b(x, y, x ^ y);
    const cv::Mat crop = dual_focus_crop(image, Box{50, 30, 60, 40});
    QCOMPARE(crop.size(), cv::Size(60, 60));
    QCOMPARE(crop.type(), CV_8UC3);
    // Square of side 10 around (55, 35), +25 each side: x 25..85, y 5..65.
    QCOMPARE(crop.at<cv::Vec3b>(0, 0), cv::Vec3b(25, 5, 25 ^ 5));
    QCOMPARE(crop.at<cv::Vec3b>(59, 59), cv::Vec3b(84, 64, 84 ^ 64));
    // A deep copy: changing it leaves the image alone.
    cv::Mat copy = crop;
    copy.setTo(cv::Scalar(0, 0, 0));
    QCOMPARE(image.at<cv::Vec3b>(5, 25), cv::Vec3b(25, 5, 25 ^ 5));
    QVERIFY(crop.isContinuous());
}

void TestSynth::timing() {
    QElapsedTimer timer;
    timer.start();
    size_t objects = 0;
    for (uint64_t seed = 0; seed < 1000; ++seed) objects += generate_scene(seed).objects.size();
    const qint64 train_ms = timer.restart();
    for (uint64_t seed = 0; seed < 200; ++seed)
        objects += generate_scene(seed, options_for(Renderer::Alternate)).objects.size();
    const qint64 alt_ms = timer.restart();
    size_t samples = 0;
    for (uint64_t seed = 0; seed < 1000; ++seed)
        samples += make_samples(generate_scene(seed), seed).size();
    const qint64 samples_ms = timer.elapsed();
    qDebug() << "1000 train scenes:" << train_ms << "ms; 200 alternate scenes:" << alt_ms
             << "ms; 1000 scenes + samples:" << samples_ms << "ms (" << samples << "samples,"
             << objects << "objects)";
    // Every scene holds at least one object and yields at least one sample (a timing run that
    // generated nothing would otherwise pass).
    QVERIFY2(objects >= 1200, qPrintable(QString::number(objects)));
    QVERIFY2(samples >= 1000, qPrintable(QString::number(samples)));
}

void TestSynth::writeExamples() {
    const QByteArray dir = qgetenv("REGIONCHAT_SYNTH_EXAMPLES");
    if (dir.isEmpty()) QSKIP("set REGIONCHAT_SYNTH_EXAMPLES=<dir> to write example scenes");
    for (Renderer r : {Renderer::Train, Renderer::Alternate}) {
        const std::string tag = r == Renderer::Train ? "train" : "alternate";
        for (uint64_t seed = 1; seed <= 3; ++seed) {
            const Scene s = generate_scene(seed, options_for(r));
            const std::string base = dir.toStdString() + "/" + tag + "_" + std::to_string(seed);
            QVERIFY(cv::imwrite(base + ".png", s.image));
            cv::Mat boxed = s.image.clone();
            for (const auto& o : s.objects) {
                cv::rectangle(boxed, to_rect(o.box), cv::Scalar(0, 0, 0), 1);
                cv::putText(boxed, std::string(colour_name(o.colour)) + " " + shape_name(o.shape),
                            {cvFloor(o.box.x0), cvFloor(o.box.y0) - 2}, cv::FONT_HERSHEY_PLAIN, 0.8,
                            cv::Scalar(0, 0, 0));
            }
            QVERIFY(cv::imwrite(base + "_boxes.png", boxed));
        }
    }
}

QTEST_APPLESS_MAIN(TestSynth)
#include "test_synth.moc"
