// Region formats: box helpers, exact encodings, parse round trips, Pink's padded square,
// hostile inputs and <region> placeholder filling.
#include <QElapsedTimer>

#include <algorithm>
#include <QtTest>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "regionchat/region_format.h"

using rc::Box;
using rc::ImageSize;
using rc::ParsedBox;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::unique_ptr<rc::RegionFormat> fmt(const std::string& name, bool pad = false) {
    return rc::make_region_format(name, pad);
}

bool near(double a, double b, double tol) {
    return std::fabs(a - b) <= tol;
}

bool box_near(const Box& a, const Box& b, double tol) {
    return near(a.x0, b.x0, tol) && near(a.y0, b.y0, tol) && near(a.x1, b.x1, tol) &&
           near(a.y1, b.y1, tol);
}

QString str(const Box& b) {
    return QString("[%1, %2, %3, %4]").arg(b.x0).arg(b.y0).arg(b.x1).arg(b.y1);
}

}  // namespace

class TestRegionFormat : public QObject {
    Q_OBJECT

private slots:
    void boxHelpers();
    void iouValues();
    void factory();
    void dualFocusEncode();
    void dualFocusParse();
    void pinkEncode();
    void pinkPaddedSquare();
    void pixelsEncodeParse();
    void roundTrips_data();
    void roundTrips();
    void multipleBoxesInOrder();
    void malformedGroupsSkipped();
    void hostileInputs();
    void longInputIsLinear();
    void fillPlaceholders();
    void servedFormatsGolden();
    void qwenSmartResize();
    void guessFromModelName();
};

void TestRegionFormat::boxHelpers() {
    const Box b{10, 20, 40, 80};
    QCOMPARE(b.width(), 30.0);
    QCOMPARE(b.height(), 60.0);
    QCOMPARE(b.area(), 1800.0);
    QCOMPARE((Box{40, 20, 10, 80}.area()), 0.0);  // inverted
    QCOMPARE((Box{5, 5, 5, 9}.area()), 0.0);      // empty
    QCOMPARE((Box{kNaN, 0, 1, 1}.area()), 0.0);

    const Box n = Box{40, 80, 10, 20}.normalized();
    QCOMPARE(n.x0, 10.0);
    QCOMPARE(n.y0, 20.0);
    QCOMPARE(n.x1, 40.0);
    QCOMPARE(n.y1, 80.0);

    const Box c = Box{-5, 10, 120, 300}.clipped(100, 200);
    QCOMPARE(c.x0, 0.0);
    QCOMPARE(c.y0, 10.0);
    QCOMPARE(c.x1, 100.0);
    QCOMPARE(c.y1, 200.0);
}

void TestRegionFormat::iouValues() {
    const Box a{0, 0, 10, 10};
    QCOMPARE(rc::iou(a, a), 1.0);
    QCOMPARE(rc::iou(a, Box{5, 0, 15, 10}), 50.0 / 150.0);
    QCOMPARE(rc::iou(a, Box{20, 20, 30, 30}), 0.0);
    QCOMPARE(rc::iou(a, Box{10, 0, 20, 10}), 0.0);  // touching edges
    QCOMPARE(rc::iou(a, Box{2, 2, 4, 4}), 4.0 / 100.0);
    QCOMPARE(rc::iou(Box{}, Box{}), 0.0);
    QCOMPARE(rc::iou(a, Box{kNaN, 0, 10, 10}), 0.0);
    QCOMPARE(rc::iou(Box{0, 0, 10, kNaN}, a), 0.0);
    QCOMPARE(rc::iou(a, Box{10, 10, 0, 0}), 0.0);  // inverted counts as empty
}

void TestRegionFormat::factory() {
    QCOMPARE(fmt("dualfocus")->name(), std::string("dualfocus"));
    QCOMPARE(fmt("pink")->name(), std::string("pink"));
    QCOMPARE(fmt("pixels")->name(), std::string("pixels"));
    QVERIFY(fmt("shikra") == nullptr);
    QVERIFY(fmt("") == nullptr);
}

void TestRegionFormat::dualFocusEncode() {
    const auto f = fmt("dualfocus");
    const ImageSize size{200, 100};
    QCOMPARE(f->encode(Box{24, 40, 110, 93}, size), std::string("[0.12, 0.40, 0.55, 0.93]"));
    // Corners reordered, values clamped to [0, 1], no "-0.00".
    QCOMPARE(f->encode(Box{110, 93, 24, 40}, size), std::string("[0.12, 0.40, 0.55, 0.93]"));
    QCOMPARE(f->encode(Box{-30, -0.1, 500, 100}, size), std::string("[0.00, 0.00, 1.00, 1.00]"));
    QCOMPARE(f->encode(Box{0, 0, 200, 100}, size), std::string("[0.00, 0.00, 1.00, 1.00]"));
}

void TestRegionFormat::dualFocusParse() {
    const auto f = fmt("dualfocus");
    const ImageSize size{200, 100};
    const std::string text = "The region is [0.12, 0.40, 0.55, 0.93].";
    const auto boxes = f->parse(text, size);
    QCOMPARE(boxes.size(), size_t(1));
    QVERIFY2(box_near(boxes[0].box, Box{24, 40, 110, 93}, 1e-9), qPrintable(str(boxes[0].box)));
    QCOMPARE(boxes[0].begin, text.find('['));
    QCOMPARE(boxes[0].end, text.find(']') + 1);

    // No spaces, integers, signs, swapped corners, out-of-range values clamped.
    const auto b2 = f->parse("[0.5,1,0,+0.25]", size);
    QCOMPARE(b2.size(), size_t(1));
    QVERIFY2(box_near(b2[0].box, Box{0, 25, 100, 100}, 1e-9), qPrintable(str(b2[0].box)));
    const auto b3 = f->parse("[-0.5, 2, 0.3, 0.4]", size);
    QCOMPARE(b3.size(), size_t(1));
    QVERIFY2(box_near(b3[0].box, Box{0, 40, 60, 100}, 1e-9), qPrintable(str(b3[0].box)));
    // Pixel-looking values clamp to a zero-area box: skipped.
    QVERIFY(f->parse("[12, 34, 56, 78]", size).empty());
    // Leading dot and exponent forms are numbers too.
    const auto b4 = f->parse("[.1, .2, 5e-1, 1E0]", size);
    QCOMPARE(b4.size(), size_t(1));
    QVERIFY2(box_near(b4[0].box, Box{20, 20, 100, 100}, 1e-9), qPrintable(str(b4[0].box)));
}

void TestRegionFormat::pinkEncode() {
    const auto f = fmt("pink");
    const ImageSize size{1000, 500};
    QCOMPARE(f->encode(Box{111, 111, 333, 222}, size),
             std::string("<loc>[0.111,0.222,0.333,0.444]</loc>"));
    const std::string text = "It is at <loc>[0.111,0.222,0.333,0.444]</loc> here";
    const auto boxes = f->parse(text, size);
    QCOMPARE(boxes.size(), size_t(1));
    QVERIFY(box_near(boxes[0].box, Box{111, 111, 333, 222}, 1e-9));
    // The span covers the tags.
    QCOMPARE(text.substr(boxes[0].begin, boxes[0].end - boxes[0].begin),
             std::string("<loc>[0.111,0.222,0.333,0.444]</loc>"));
    // Without tags (Pink's grounding answers): just the brackets.
    const auto bare = f->parse("answer: [0.111,0.222,0.333,0.444]", size);
    QCOMPARE(bare.size(), size_t(1));
    QCOMPARE(bare[0].begin, size_t(8));
    QCOMPARE(bare[0].end, size_t(33));
}

void TestRegionFormat::pinkPaddedSquare() {
    // 640x480 pasted into a 640x640 square at (0, 80).
    const auto f = fmt("pink", true);
    const ImageSize wide{640, 480};
    const Box b{64, 0, 320, 480};
    // x: 64/640 = 0.1, 320/640 = 0.5; y: (0+80)/640 = 0.125, (480+80)/640 = 0.875.
    QCOMPARE(f->encode(b, wide), std::string("<loc>[0.100,0.125,0.500,0.875]</loc>"));
    auto parsed = f->parse("<loc>[0.100,0.125,0.500,0.875]</loc>", wide);
    QCOMPARE(parsed.size(), size_t(1));
    QVERIFY2(box_near(parsed[0].box, b, 1e-9), qPrintable(str(parsed[0].box)));
    // A box in the padding band is clipped to the image; one wholly in the band is skipped.
    parsed = f->parse("[0.0,0.0,0.5,0.5]", wide);
    QCOMPARE(parsed.size(), size_t(1));
    QVERIFY2(box_near(parsed[0].box, Box{0, 0, 320, 240}, 1e-9), qPrintable(str(parsed[0].box)));
    QVERIFY(f->parse("[0.0,0.0,1.0,0.1]", wide).empty());

    // Tall 301x500 (odd padding): side 500, offset x = 199 / 2 = 99 (integer division).
    const ImageSize tall{301, 500};
    const Box t{0, 50, 301, 450};
    QCOMPARE(f->encode(t, tall), std::string("<loc>[0.198,0.100,0.800,0.900]</loc>"));
    parsed = f->parse(f->encode(t, tall), tall);
    QCOMPARE(parsed.size(), size_t(1));
    QVERIFY2(box_near(parsed[0].box, t, 0.0005 * 500 + 1e-9), qPrintable(str(parsed[0].box)));

    // Without padding the same image normalizes per axis.
    QCOMPARE(fmt("pink", false)->encode(t, tall),
             std::string("<loc>[0.000,0.100,1.000,0.900]</loc>"));
    // A square image is the same either way.
    QCOMPARE(f->encode(Box{10, 20, 30, 40}, ImageSize{100, 100}),
             fmt("pink")->encode(Box{10, 20, 30, 40}, ImageSize{100, 100}));
}

void TestRegionFormat::pixelsEncodeParse() {
    const auto f = fmt("pixels");
    const ImageSize size{640, 480};
    QCOMPARE(f->encode(Box{12.4, 33.6, 56.5, 78}, size), std::string("[12, 34, 57, 78]"));
    QCOMPARE(f->encode(Box{700, 500, -3, 10}, size), std::string("[0, 10, 640, 480]"));
    const auto boxes = f->parse("box [12, 34, 56, 78] and [600,400,9000,9000]", size);
    QCOMPARE(boxes.size(), size_t(2));
    QVERIFY(box_near(boxes[0].box, Box{12, 34, 56, 78}, 1e-9));
    QVERIFY(box_near(boxes[1].box, Box{600, 400, 640, 480}, 1e-9));
    QVERIFY(f->parse("[700, 10, 800, 20]", size).empty());  // wholly outside
}

void TestRegionFormat::roundTrips_data() {
    QTest::addColumn<QString>("format");
    QTest::addColumn<bool>("pad");
    QTest::addColumn<double>("unit");  // half a unit of the last decimal, in normalized terms
    QTest::newRow("dualfocus") << "dualfocus" << false << 0.005;
    QTest::newRow("pink") << "pink" << false << 0.0005;
    QTest::newRow("pink padded") << "pink" << true << 0.0005;
    QTest::newRow("pixels") << "pixels" << false << -0.5;  // negative: pixels, absolute
    QTest::newRow("qwen2-vl") << "qwen2-vl" << false << 0.0005;
    QTest::newRow("qwen2.5-vl") << "qwen2.5-vl" << false << -0.5;  // pixels of its resize
    QTest::newRow("qwen3-vl") << "qwen3-vl" << false << 0.0005;
    QTest::newRow("internvl") << "internvl" << false << 0.0005;
}

void TestRegionFormat::roundTrips() {
    QFETCH(QString, format);
    QFETCH(bool, pad);
    QFETCH(double, unit);
    const auto f = fmt(format.toStdString(), pad);
    QVERIFY(f != nullptr);
    const ImageSize sizes[] = {{640, 480}, {333, 777}, {1024, 1024}};
    const Box boxes[] = {{13.7, 21.2, 300.9, 400.1}, {0, 0, 333, 480}, {100.5, 200.25, 181.5, 260}};
    for (const ImageSize& size : sizes) {
        const double side = pad ? std::max(size.width, size.height) : 0;
        for (Box b : boxes) {
            b = b.clipped(size.width, size.height);
            const std::string text = "see " + f->encode(b, size) + " ok";
            const auto parsed = f->parse(text, size);
            QVERIFY2(parsed.size() == 1, text.c_str());
            const Box& p = parsed[0].box;
            const double tx = unit < 0 ? 0.5 : unit * (pad ? side : size.width);
            const double ty = unit < 0 ? 0.5 : unit * (pad ? side : size.height);
            const bool ok = near(p.x0, b.x0, tx + 1e-9) && near(p.x1, b.x1, tx + 1e-9) &&
                            near(p.y0, b.y0, ty + 1e-9) && near(p.y1, b.y1, ty + 1e-9);
            QVERIFY2(ok, qPrintable(QString::fromStdString(text) + " -> " + str(p)));
        }
    }
}

void TestRegionFormat::multipleBoxesInOrder() {
    const auto f = fmt("dualfocus");
    const ImageSize size{100, 100};
    const std::string text =
        "a [0.50, 0.50, 0.60, 0.60] b [0.10, 0.10, 0.20, 0.20] c "
        "[0.30,0.30,0.40,0.40]";
    const auto boxes = f->parse(text, size);
    QCOMPARE(boxes.size(), size_t(3));
    QVERIFY(box_near(boxes[0].box, Box{50, 50, 60, 60}, 1e-9));
    QVERIFY(box_near(boxes[1].box, Box{10, 10, 20, 20}, 1e-9));
    QVERIFY(box_near(boxes[2].box, Box{30, 30, 40, 40}, 1e-9));
    QVERIFY(boxes[0].end <= boxes[1].begin && boxes[1].end <= boxes[2].begin);
    QCOMPARE(text.substr(boxes[2].begin), std::string("[0.30,0.30,0.40,0.40]"));
}

void TestRegionFormat::malformedGroupsSkipped() {
    const auto f = fmt("dualfocus");
    const ImageSize size{100, 100};
    struct Case {
        const char* text;
        size_t count;
    };
    const Case cases[] = {
        {"[0.1, 0.2, 0.3]", 0},
        {"[0.1,0.2,0.3,0.4,0.5]", 0},
        {"[0.1, 0.2, 0.3, abc]", 0},
        {"[0.1, 0.2, 0.3, nan]", 0},
        {"[0.1, 0.2, 0.3, inf]", 0},
        {"[1e999, 0.2, 0.3, 0.4]", 0},
        {"[0.1, 0.2, 0.3, 0.4", 0},
        {"[0.1 0.2 0.3 0.4]", 0},
        {"[0.1,, 0.2, 0.3, 0.4]", 0},
        {"[0.1, 0.2, 0.3, 0.4,]", 0},
        {"[0.1, 0.2, 0.1, 0.4]", 0},                                // zero width
        {"[0.1, 0.2, 0.3, 0.4000000000000000000000000000001]", 0},  // 33 chars
        {"[0.1, 0.2, 0.3, 0.400000000000000000000000000001]", 1},   // 32 chars
        {"[[0.1, 0.2, 0.3, 0.4]]", 1},
        {"[0.1, [0.1, 0.2, 0.3, 0.4]", 1},
        {"[0.1, 0.2, 0.3, 0.4][0.5,0.5,0.9,0.9]", 2},
        {"[0.1,0.2,0.3,0.4,0.5] [0.2, 0.2, 0.3, 0.3]", 1},
        {"[ 0.1 , 0.2 ,\t0.3 , 0.4 ]", 1},
        {"[-, 0.2, 0.3, 0.4]", 0},
        {"[., 0.2, 0.3, 0.4]", 0},
    };
    for (const Case& c : cases) {
        const auto boxes = f->parse(c.text, size);
        QVERIFY2(boxes.size() == c.count,
                 qPrintable(QString("%1 -> %2 boxes").arg(c.text).arg(boxes.size())));
    }
}

void TestRegionFormat::hostileInputs() {
    const ImageSize size{640, 480};
    const std::string nul =
        std::string("[0.1, 0.2,") + '\0' + " 0.3, 0.4] [0.1, 0.2, 0.3, 0.4]" + '\0' + "[";
    const std::vector<std::string> inputs = {
        "",
        "[",
        "]",
        "[[[[[[[[[[",
        std::string(100000, '['),
        std::string(100000, '[') + "0.1,0.2,0.3,0.4]",
        "[" + std::string(100000, '9') + ", 0.2, 0.3, 0.4]",
        "[0.1, 0.2, 0.3, 0." + std::string(100000, '1') + "]",
        "\xE6\x97\xA5\xE6\x9C\xAC [0.1, 0.2, 0.3, 0.4] \xF0\x9F\x99\x82 \xFF\xFE",
        nul,
        "[-0.5, 2, 0.3, 0.4]",
        "[1e999, 1e-999, -1e999, 0.4]",
        "[+-0.1, 0.2, 0.3, 0.4]",
        std::string(100000, '('),
        "(" + std::string(100000, '9') + ",1),(2,3)",
        "<|box_start|>(1,2),(3<|box_end|> (-5,-5),(2000,2000)",
    };
    for (const char* name :
         {"dualfocus", "pink", "pixels", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "internvl"}) {
        for (bool pad : {false, true}) {
            const auto f = fmt(name, pad);
            for (const std::string& in : inputs) {
                const auto boxes = f->parse(in, size);
                for (const ParsedBox& p : boxes) {
                    QVERIFY(p.box.x0 >= 0 && p.box.x1 <= size.width && p.box.x0 < p.box.x1);
                    QVERIFY(p.box.y0 >= 0 && p.box.y1 <= size.height && p.box.y0 < p.box.y1);
                    QVERIFY(p.begin < p.end && p.end <= in.size());
                }
            }
            QVERIFY(f->parse("[0.1, 0.2, 0.3, 0.4]", ImageSize{0, 0}).empty());
            QVERIFY(f->parse("[0.1, 0.2, 0.3, 0.4]", ImageSize{-5, 10}).empty());
        }
    }
    // The embedded NUL splits the first group; the second is still found.
    QCOMPARE(fmt("dualfocus")->parse(nul, size).size(), size_t(1));
    QCOMPARE(fmt("dualfocus")->parse(inputs[5], size).size(), size_t(1));
}

void TestRegionFormat::longInputIsLinear() {
    // Near-misses, 256 KB and 8 times as much: linear parsing takes about 8 times as long,
    // quadratic rescanning 64 times. A ratio measured in this run (medians of 3), not a
    // wall-clock limit, so a busy machine does not decide it.
    auto make = [](size_t bytes) {
        std::string text;
        while (text.size() < bytes) text += "[0.1, 0.2, 0.3 [0.1,0.2,0.3,0.4,0.5] [[";
        return text + "[0.1, 0.2, 0.3, 0.4]";
    };
    const std::string small = make(size_t(1) << 18), text = make(size_t(1) << 21);
    auto median_ms = [&](const std::string& input) {
        std::vector<double> ms;
        for (int i = 0; i < 3; ++i) {
            QElapsedTimer timer;
            timer.start();
            const auto boxes = fmt("dualfocus")->parse(input, ImageSize{100, 100});
            ms.push_back(timer.nsecsElapsed() / 1e6);
            if (boxes.size() != 1) return -1.0;
        }
        std::sort(ms.begin(), ms.end());
        return ms[1];
    };
    const double t_small = median_ms(small), t_large = median_ms(text);
    QVERIFY(t_small >= 0 && t_large >= 0);  // the one real box found in both
    const double ratio = t_large / std::max(t_small, 0.05);
    qInfo("parse: 256 KB %.2f ms, 2 MB %.2f ms, ratio %.1f (linear 8, quadratic 64)", t_small,
          t_large, ratio);
    QVERIFY2(ratio < 32, qPrintable(QString("8x the input took %1x the time").arg(ratio)));
    const std::string digits = "[" + std::string(1 << 20, '1');
    QVERIFY(fmt("pink")->parse(digits, ImageSize{100, 100}).empty());
}

void TestRegionFormat::fillPlaceholders() {
    const auto f = fmt("dualfocus");
    const ImageSize size{100, 200};
    const std::vector<Box> boxes = {{10, 20, 30, 40}, {50, 100, 100, 200}};
    size_t used = 99;

    std::string out =
        rc::fill_region_placeholders("What is <region> next to <region>?", boxes, size, *f, &used);
    QCOMPARE(out,
             std::string("What is [0.10, 0.10, 0.30, 0.20] next to [0.50, 0.50, 1.00, 1.00]?"));
    QCOMPARE(used, size_t(2));

    // More placeholders than boxes: the extra stays.
    out = rc::fill_region_placeholders("<region> and <region> and <region>", {boxes[0]}, size, *f,
                                       &used);
    QCOMPARE(out, std::string("[0.10, 0.10, 0.30, 0.20] and <region> and <region>"));
    QCOMPARE(used, size_t(1));

    // More boxes than placeholders: extras ignored.
    out = rc::fill_region_placeholders("Describe <region>.", boxes, size, *f, &used);
    QCOMPARE(out, std::string("Describe [0.10, 0.10, 0.30, 0.20]."));
    QCOMPARE(used, size_t(1));

    // None at all, no boxes, and a null `used`.
    QCOMPARE(rc::fill_region_placeholders("no regions", boxes, size, *f, &used),
             std::string("no regions"));
    QCOMPARE(used, size_t(0));
    QCOMPARE(rc::fill_region_placeholders("<region>", {}, size, *f), std::string("<region>"));
    QCOMPARE(rc::fill_region_placeholders("<region<region>>", boxes, size, *fmt("pixels")),
             std::string("<region[10, 20, 30, 40]>"));
    QCOMPARE(rc::fill_region_placeholders("x <region>", boxes, size, *fmt("pink")),
             std::string("x <loc>[0.100,0.100,0.300,0.200]</loc>"));
}

// The served models' formats: golden text for a landscape and a portrait image (the same box
// relative to each), and the boxes their answers carry back on the right pixels.
void TestRegionFormat::servedFormatsGolden() {
    const ImageSize land{640, 480}, port{480, 640};
    const Box bl{64, 48, 320, 240}, bp{48, 64, 240, 320};
    struct Golden {
        const char* format;
        std::string landscape, portrait;
    };
    const Golden golden[] = {
        {"qwen2-vl", "<|box_start|>(100,100),(500,500)<|box_end|>",
         "<|box_start|>(100,100),(500,500)<|box_end|>"},
        {"qwen3-vl", "[100, 100, 500, 500]", "[100, 100, 500, 500]"},
        {"internvl", "<box>[[100, 100, 500, 500]]</box>", "<box>[[100, 100, 500, 500]]</box>"},
        // Pixels of smart_resize's 644x476 (landscape) and 476x644 (portrait).
        {"qwen2.5-vl", "[64, 48, 322, 238]", "[48, 64, 238, 322]"},
    };
    for (const Golden& g : golden) {
        const auto f = fmt(g.format);
        QVERIFY(f != nullptr);
        QCOMPARE(f->encode(bl, land), g.landscape);
        QCOMPARE(f->encode(bp, port), g.portrait);
    }
    auto one = [&](const char* format, const std::string& answer, ImageSize size) {
        const auto boxes = fmt(format)->parse(answer, size);
        return boxes.size() == 1 ? boxes[0].box : Box{-1, -1, -1, -1};
    };
    // Answers as the models write them.
    QVERIFY(box_near(one("qwen2-vl",
                     "<|object_ref_start|>the dog<|object_ref_end|><|box_start|>(100,100),"
                     "(500,500)<|box_end|>",
                     land),
                 bl, 1e-9));
    QVERIFY(box_near(one("qwen2.5-vl",
                     "```json\n[\n\t{\"bbox_2d\": [48, 64, 238, 322], \"label\": \"dog\"}\n]\n```",
                     port),
                 bp, 0.7));
    QVERIFY(box_near(one("qwen3-vl", R"([{"bbox_2d": [100, 100, 500, 500], "label": "dog"}])", port),
                 bp, 1e-9));
    QVERIFY(box_near(one("internvl", "<ref>the dog</ref><box>[[100, 100, 500, 500]]</box>", land),
                 bl, 1e-9));
    // Two boxes in one InternVL answer; a 0-1000 value past the edge is clamped.
    QCOMPARE(fmt("internvl")->parse("<box>[[0, 0, 10, 10], [900, 900, 1200, 1000]]</box>", land).size(),
             size_t(2));
    QVERIFY(box_near(one("qwen3-vl", "[900, 900, 1200, 1000]", land), Box{576, 432, 640, 480}, 1e-9));
}

void TestRegionFormat::qwenSmartResize() {
    // Values from Qwen2-VL's smart_resize (factor 28, 3136..12845056 pixels), run in Python.
    const struct {
        ImageSize in, out;
    } cases[] = {{{640, 480}, {644, 476}},   {{480, 640}, {476, 644}},
                 {{4000, 3000}, {4004, 2996}}, {{8000, 6000}, {4116, 3080}},
                 {{20, 10}, {84, 56}},         {{1000, 14}, {1008, 28}}};
    for (const auto& c : cases) {
        const ImageSize r = rc::qwen_smart_resize(c.in);
        QVERIFY2(r.width == c.out.width && r.height == c.out.height,
                 qPrintable(QString("%1x%2 -> %3x%4").arg(c.in.width).arg(c.in.height)
                                .arg(r.width).arg(r.height)));
    }
    QCOMPARE(rc::qwen_smart_resize(ImageSize{0, 10}).width, 0);
}

void TestRegionFormat::guessFromModelName() {
    QCOMPARE(rc::guess_region_format("Qwen/Qwen2.5-VL-7B-Instruct"), std::string("qwen2.5-vl"));
    QCOMPARE(rc::guess_region_format("qwen2_5_vl"), std::string("qwen2.5-vl"));
    QCOMPARE(rc::guess_region_format("Qwen/Qwen3-VL-8B-Instruct"), std::string("qwen3-vl"));
    QCOMPARE(rc::guess_region_format("Qwen/Qwen2-VL-2B-Instruct"), std::string("qwen2-vl"));
    QCOMPARE(rc::guess_region_format("OpenGVLab/InternVL2_5-8B"), std::string("internvl"));
    QCOMPARE(rc::guess_region_format("llava-hf/llava-1.5-7b-hf"), std::string("dualfocus"));
    QCOMPARE(rc::guess_region_format("SY-Xuan/Pink_base"), std::string("pink"));
    QCOMPARE(rc::guess_region_format("gpt-4o"), std::string("pixels"));
}

QTEST_APPLESS_MAIN(TestRegionFormat)
#include "test_region_format.moc"
