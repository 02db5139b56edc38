// Seeded synthetic scenes: 1-6 non-overlapping coloured shapes on light backgrounds.
// Two independent renderers: Train (direct OpenCV primitives, AA on/off, blur/JPEG/noise
// augmentation) and Alternate (supersampled coverage masks, other backgrounds, outlines),
// so evaluation can check the model did not just learn one rasterizer.
#include "regionchat/synth.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace rc::synth {

namespace {

// mt19937_64 with our own distributions: std:: distributions differ between standard
// libraries, and the same seed must give the same scene everywhere.
class Random {
public:
    explicit Random(uint64_t seed) : engine_(seed) {}
    uint64_t next() { return engine_(); }
    double uniform(double lo, double hi) {
        return lo + (hi - lo) * (static_cast<double>(engine_() >> 11) * 0x1.0p-53);
    }
    int uniform_int(int lo, int hi) {  // inclusive
        return lo + static_cast<int>(engine_() % static_cast<uint64_t>(hi - lo + 1));
    }
    bool chance(double p) { return uniform(0, 1) < p; }

private:
    std::mt19937_64 engine_;
};

constexpr double kPi = 3.14159265358979323846;
constexpr int kColourJitter = 15;  // per channel, keeps colour names unambiguous
constexpr int kEdgeMargin = 2;     // px kept free at the image border
constexpr int kGap = 4;            // px between neighbouring objects' boxes
constexpr int kPlacementTries = 60;
constexpr int kMinBackground = 200;  // darkest background channel value

using Polygon = std::vector<cv::Point2d>;

// A shape's outline in image pixels; circles keep centre + radius so Train can use cv::circle.
struct Geometry {
    Polygon points;  // empty for a Train circle
    cv::Point2d centre;
    double radius = 0;
};

Polygon rotated(const Polygon& poly, double degrees) {
    const double a = degrees * kPi / 180.0, c = std::cos(a), s = std::sin(a);
    Polygon out;
    out.reserve(poly.size());
    for (const auto& p : poly) out.emplace_back(c * p.x - s * p.y, s * p.x + c * p.y);
    return out;
}

Polygon star_points(int arms, double inner_ratio) {
    Polygon poly;
    for (int i = 0; i < 2 * arms; ++i) {
        const double a = -kPi / 2 + i * kPi / arms;
        const double r = (i % 2 == 0) ? 1.0 : inner_ratio;
        poly.emplace_back(r * std::cos(a), r * std::sin(a));
    }
    return poly;
}

// Unit-size outline (any scale) of a shape as the training renderer builds it.
Polygon train_outline(Shape shape, Random& rng) {
    switch (shape) {
        case Shape::Square: {
            const Polygon sq{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
            return rng.chance(0.5) ? sq : rotated(sq, rng.uniform(-20, 20));
        }
        case Shape::Triangle: {
            Polygon tri;
            for (int i = 0; i < 3; ++i) {
                const double a = -kPi / 2 + i * 2 * kPi / 3;
                tri.emplace_back(std::cos(a), std::sin(a));
            }
            return rotated(tri, rng.uniform(-15, 15));
        }
        case Shape::Star: {
            const Polygon star = star_points(5, rng.uniform(0.40, 0.50));
            return rotated(star, rng.uniform(-15, 15));
        }
        case Shape::Circle:
            break;
    }
    return {};
}

// The alternate renderer constructs outlines another way: RotatedRect corners, isosceles
// triangles of varying aspect, stars with a wider inner-radius range, circles as polygons.
Polygon alternate_outline(Shape shape, Random& rng) {
    switch (shape) {
        case Shape::Square: {
            cv::Point2f corners[4];
            cv::RotatedRect({0.f, 0.f}, {100.f, 100.f}, static_cast<float>(rng.uniform(-25, 25)))
                .points(corners);
            return Polygon(corners, corners + 4);
        }
        case Shape::Triangle: {
            const double aspect = rng.uniform(0.8, 1.15);  // height / base
            const double apex = rng.uniform(-0.12, 0.12);  // apex shift along the base
            const Polygon tri{{-0.5, aspect / 2}, {0.5, aspect / 2}, {apex, -aspect / 2}};
            return rotated(tri, rng.uniform(-20, 20));
        }
        case Shape::Star: {
            const Polygon star = star_points(5, rng.uniform(0.34, 0.56));
            return rotated(star, rng.uniform(-36, 36));
        }
        case Shape::Circle: {
            Polygon circle;
            const int n = 120;
            for (int i = 0; i < n; ++i)
                circle.emplace_back(std::cos(2 * kPi * i / n), std::sin(2 * kPi * i / n));
            return circle;
        }
    }
    return {};
}

cv::Rect2d bounds(const Polygon& poly) {
    double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
    for (const auto& p : poly) {
        x0 = std::min(x0, p.x), y0 = std::min(y0, p.y);
        x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
    }
    return {x0, y0, x1 - x0, y1 - y0};
}

// Scales the outline so its larger extent is `extent` px and moves its box's corner to 0,0.
Polygon fit_extent(const Polygon& poly, double extent) {
    const cv::Rect2d b = bounds(poly);
    const double scale = extent / std::max(b.width, b.height);
    Polygon out;
    out.reserve(poly.size());
    for (const auto& p : poly) out.emplace_back((p.x - b.x) * scale, (p.y - b.y) * scale);
    return out;
}

std::vector<cv::Point> fixed_point(const Polygon& poly, cv::Point2d offset, double scale,
                                   int shift) {
    std::vector<cv::Point> pts;
    pts.reserve(poly.size());
    const double f = scale * (1 << shift);
    for (const auto& p : poly)
        pts.emplace_back(cvRound((p.x + offset.x) * f), cvRound((p.y + offset.y) * f));
    return pts;
}

cv::Scalar jittered_bgr(Colour colour, Random& rng) {
    const cv::Vec3b rgb = colour_rgb(colour);
    int c[3];
    for (int i = 0; i < 3; ++i)
        c[i] = std::clamp(rgb[i] + rng.uniform_int(-kColourJitter, kColourJitter), 0, 255);
    return cv::Scalar(c[2], c[1], c[0]);
}

cv::Vec3f light_colour(Random& rng, int lo = 215) {
    return {static_cast<float>(rng.uniform(lo, 253)), static_cast<float>(rng.uniform(lo, 253)),
            static_cast<float>(rng.uniform(lo, 253))};
}

// Linear blend of two colours along direction `angle`; t runs 0..1 over the image.
cv::Mat gradient(cv::Size size, cv::Vec3f a, cv::Vec3f b, double angle) {
    cv::Mat out(size, CV_32FC3);
    const double dx = std::cos(angle), dy = std::sin(angle);
    const double lo = std::min(0.0, dx * size.width) + std::min(0.0, dy * size.height);
    const double hi = std::max(0.0, dx * size.width) + std::max(0.0, dy * size.height);
    for (int y = 0; y < size.height; ++y) {
        auto* row = out.ptr<cv::Vec3f>(y);
        for (int x = 0; x < size.width; ++x) {
            const float t = static_cast<float>((dx * x + dy * y - lo) / (hi - lo));
            row[x] = a * (1.f - t) + b * t;
        }
    }
    return out;
}

// Zero-mean noise of `sigma`, drawn from a local cv::RNG seeded from our stream.
cv::Mat noise(cv::Size size, int type, double sigma, Random& rng) {
    cv::Mat n(size, type);
    cv::RNG local(rng.next());
    local.fill(n, cv::RNG::NORMAL, 0.0, sigma);
    return n;
}

// Smooth blotches: a coarse random grid upsampled.
cv::Mat blotches(cv::Size size, double amplitude, Random& rng) {
    const int cols = rng.uniform_int(4, 10);
    const cv::Size coarse(cols, rng.uniform_int(4, 10));
    cv::Mat small = noise(coarse, CV_32FC3, amplitude, rng), big;
    cv::resize(small, big, size, 0, 0, cv::INTER_CUBIC);
    return big;
}

cv::Mat to_light_bgr(const cv::Mat& f32) {
    cv::Mat out;
    f32.convertTo(out, CV_8UC3);
    return cv::max(out, cv::Scalar::all(kMinBackground));
}

cv::Mat train_background(cv::Size size, Random& rng) {
    switch (rng.uniform_int(0, 2)) {
        case 0:
            return to_light_bgr(cv::Mat(size, CV_32FC3, cv::Scalar(light_colour(rng))));
        case 1: {  // horizontal or vertical gradient
            const double angle = rng.chance(0.5) ? 0.0 : kPi / 2;
            const double flip = rng.chance(0.5) ? kPi : 0.0;
            const cv::Vec3f from = light_colour(rng);
            const cv::Vec3f to = light_colour(rng);
            return to_light_bgr(gradient(size, from, to, angle + flip));
        }
        default: {
            cv::Mat bg(size, CV_32FC3, cv::Scalar(light_colour(rng, 222)));
            bg += blotches(size, 8, rng);
            const double grain = rng.uniform(2, 5);
            bg += noise(size, CV_32FC3, grain, rng);
            return to_light_bgr(bg);
        }
    }
}

cv::Mat alternate_background(cv::Size size, Random& rng) {
    switch (rng.uniform_int(0, 2)) {
        case 0: {  // two-colour gradient along a diagonal
            const double angle = kPi / 4 + rng.uniform_int(0, 3) * kPi / 2;
            const cv::Vec3f from = light_colour(rng);
            const cv::Vec3f to = light_colour(rng);
            return to_light_bgr(gradient(size, from, to, angle));
        }
        case 1: {  // paper: warm off-white, fibres, fine grain
            const float base = static_cast<float>(rng.uniform(235, 250));
            cv::Mat bg(size, CV_32FC3, cv::Scalar(base - 8, base - 3, base));
            const int fibres = size.area() / 900;
            for (int i = 0; i < fibres; ++i) {
                const int ax = rng.uniform_int(0, size.width - 1);
                const cv::Point a(ax, rng.uniform_int(0, size.height - 1));
                const double ang = rng.uniform(0, kPi);
                const double len = rng.uniform(4, 14);
                const cv::Point b(cvRound(a.x + len * std::cos(ang)),
                                  cvRound(a.y + len * std::sin(ang)));
                const double d = rng.uniform(-14, 6);
                cv::line(bg, a, b, cv::Scalar(base - 8 + d, base - 3 + d, base + d), 1,
                         cv::LINE_AA);
            }
            bg += noise(size, CV_32FC3, 2.5, rng);
            cv::GaussianBlur(bg, bg, {3, 3}, 0.6);
            return to_light_bgr(bg);
        }
        default: {  // radial vignette: lighter centre, tinted edges
            const cv::Vec3f centre = light_colour(rng, 240);
            const cv::Vec3f edge = light_colour(rng, 205);
            cv::Mat bg(size, CV_32FC3);
            const double cx = size.width / 2.0, cy = size.height / 2.0;
            const double rmax = std::hypot(cx, cy);
            for (int y = 0; y < size.height; ++y) {
                auto* row = bg.ptr<cv::Vec3f>(y);
                for (int x = 0; x < size.width; ++x) {
                    const float t = static_cast<float>(std::hypot(x - cx, y - cy) / rmax);
                    row[x] = centre * (1.f - t * t) + edge * (t * t);
                }
            }
            return to_light_bgr(bg);
        }
    }
}

// Bounding box of non-zero mask pixels (offset by the mask's origin), [x0, x1) style.
Box mask_box(const cv::Mat& mask, cv::Point origin) {
    const cv::Rect r = cv::boundingRect(mask);
    if (r.empty()) return {};
    return Box{double(origin.x + r.x), double(origin.y + r.y), double(origin.x + r.x + r.width),
               double(origin.y + r.y + r.height)};
}

// Draws with OpenCV primitives straight into the image; the box comes from the same shape
// drawn (aliased) into a small mask.
Box draw_train(cv::Mat& image, const Geometry& g, const cv::Scalar& bgr, bool antialias) {
    constexpr int kShift = 4;
    const int line = antialias ? cv::LINE_AA : cv::LINE_8;
    const cv::Rect2d b = g.points.empty() ? cv::Rect2d(g.centre.x - g.radius, g.centre.y - g.radius,
                                                       2 * g.radius, 2 * g.radius)
                                          : bounds(g.points);
    const cv::Rect roi =
        cv::Rect(cvFloor(b.x) - 2, cvFloor(b.y) - 2, cvCeil(b.width) + 5, cvCeil(b.height) + 5) &
        cv::Rect(0, 0, image.cols, image.rows);
    cv::Mat mask = cv::Mat::zeros(roi.size(), CV_8UC1);
    const cv::Point2d to_roi(-roi.x, -roi.y);
    if (g.points.empty()) {
        const double f = 1 << kShift;
        const cv::Point c(cvRound(g.centre.x * f), cvRound(g.centre.y * f));
        const cv::Point cm(cvRound((g.centre.x - roi.x) * f), cvRound((g.centre.y - roi.y) * f));
        const int r = cvRound(g.radius * f);
        cv::circle(image, c, r, bgr, cv::FILLED, line, kShift);
        cv::circle(mask, cm, r, cv::Scalar(255), cv::FILLED, cv::LINE_8, kShift);
    } else {
        const std::vector<std::vector<cv::Point>> img_pts{fixed_point(g.points, {}, 1, kShift)};
        const std::vector<std::vector<cv::Point>> mask_pts{
            fixed_point(g.points, to_roi, 1, kShift)};
        cv::fillPoly(image, img_pts, bgr, line, kShift);
        cv::fillPoly(mask, mask_pts, cv::Scalar(255), cv::LINE_8, kShift);
    }
    return mask_box(mask, roi.tl());
}

// Rasterizes at `factor`x into a coverage mask of the shape's neighbourhood only, averages
// down (INTER_AREA) and blends; some shapes get a thin darker outline.
Box draw_alternate(cv::Mat& image, const Polygon& poly, const cv::Scalar& bgr, bool outline,
                   int factor) {
    constexpr int kShift = 3;
    const cv::Rect2d b = bounds(poly);
    const cv::Rect roi =
        cv::Rect(cvFloor(b.x) - 2, cvFloor(b.y) - 2, cvCeil(b.width) + 5, cvCeil(b.height) + 5) &
        cv::Rect(0, 0, image.cols, image.rows);
    const cv::Size hi(roi.width * factor, roi.height * factor);
    // Integer coordinates are pixel centres; low-res pixel k's centre is high-res k*f+(f-1)/2.
    const double centre_shift = (factor - 1) / (2.0 * factor);
    const cv::Point2d offset(centre_shift - roi.x, centre_shift - roi.y);
    const std::vector<std::vector<cv::Point>> pts{fixed_point(poly, offset, factor, kShift)};
    cv::Mat fill_hi = cv::Mat::zeros(hi, CV_8UC1), fill, edge;
    cv::fillPoly(fill_hi, pts, cv::Scalar(255), cv::LINE_8, kShift);
    cv::resize(fill_hi, fill, roi.size(), 0, 0, cv::INTER_AREA);
    cv::Mat visible = fill.clone();
    if (outline) {
        cv::Mat edge_hi = cv::Mat::zeros(hi, CV_8UC1);
        cv::polylines(edge_hi, pts, true, cv::Scalar(255), std::max(1, factor), cv::LINE_8, kShift);
        cv::resize(edge_hi, edge, roi.size(), 0, 0, cv::INTER_AREA);
        visible = cv::max(visible, edge);
    }
    const cv::Vec3f fill_colour{float(bgr[0]), float(bgr[1]), float(bgr[2])};
    const cv::Vec3f edge_colour = fill_colour * 0.6f;
    cv::Mat target = image(roi);
    for (int y = 0; y < roi.height; ++y) {
        auto* px = target.ptr<cv::Vec3b>(y);
        const uchar* fa = fill.ptr<uchar>(y);
        const uchar* ea = outline ? edge.ptr<uchar>(y) : nullptr;
        for (int x = 0; x < roi.width; ++x) {
            cv::Vec3f v(px[x][0], px[x][1], px[x][2]);
            const float a = fa[x] / 255.f;
            v = v * (1.f - a) + fill_colour * a;
            if (ea) {
                const float e = ea[x] / 255.f;
                v = v * (1.f - e) + edge_colour * e;
            }
            px[x] = cv::Vec3b(cv::saturate_cast<uchar>(v[0]), cv::saturate_cast<uchar>(v[1]),
                              cv::saturate_cast<uchar>(v[2]));
        }
    }
    cv::Mat half_covered;
    cv::threshold(visible, half_covered, 127, 255, cv::THRESH_BINARY);
    return mask_box(half_covered, roi.tl());
}

void add_colour_noise(cv::Mat& image, double sigma, Random& rng) {
    cv::Mat n = noise(image.size(), CV_16SC3, sigma, rng), wide;
    image.convertTo(wide, CV_16SC3);
    wide += n;
    wide.convertTo(image, CV_8UC3);
}

void jpeg_roundtrip(cv::Mat& image, int quality) {
    std::vector<uchar> bytes;
    cv::imencode(".jpg", image, bytes, {cv::IMWRITE_JPEG_QUALITY, quality});
    image = cv::imdecode(bytes, cv::IMREAD_COLOR);
}

void augment_train(cv::Mat& image, Random& rng) {
    if (rng.chance(0.5)) add_colour_noise(image, rng.uniform(1.5, 6), rng);
    if (rng.chance(0.3)) cv::GaussianBlur(image, image, {0, 0}, rng.uniform(0.5, 1.1));
    if (rng.chance(0.4)) jpeg_roundtrip(image, rng.uniform_int(40, 92));
}

void augment_alternate(cv::Mat& image, Random& rng) {
    if (rng.chance(0.15)) cv::blur(image, image, {3, 3});
    if (rng.chance(0.3)) add_colour_noise(image, rng.uniform(1.5, 4), rng);
    if (rng.chance(0.5)) jpeg_roundtrip(image, rng.uniform_int(55, 95));
}

bool boxes_clear(const cv::Rect2d& a, const std::vector<cv::Rect2d>& taken) {
    for (const auto& t : taken) {
        const cv::Rect2d grown(t.x - kGap, t.y - kGap, t.width + 2 * kGap, t.height + 2 * kGap);
        if ((a & grown).area() > 0) return false;
    }
    return true;
}

}  // namespace

const char* shape_name(Shape s) {
    switch (s) {
        case Shape::Circle:
            return "circle";
        case Shape::Square:
            return "square";
        case Shape::Triangle:
            return "triangle";
        case Shape::Star:
            return "star";
    }
    return "";
}

const char* colour_name(Colour c) {
    switch (c) {
        case Colour::Red:
            return "red";
        case Colour::Green:
            return "green";
        case Colour::Blue:
            return "blue";
        case Colour::Yellow:
            return "yellow";
        case Colour::Purple:
            return "purple";
        case Colour::Orange:
            return "orange";
    }
    return "";
}

cv::Vec3b colour_rgb(Colour c) {
    switch (c) {
        case Colour::Red:
            return {220, 40, 40};
        case Colour::Green:
            return {40, 170, 60};
        case Colour::Blue:
            return {40, 80, 220};
        case Colour::Yellow:
            return {240, 210, 40};
        case Colour::Purple:
            return {140, 60, 180};
        case Colour::Orange:
            return {250, 140, 30};
    }
    return {};
}

ImageSize scene_size(const Scene& scene) {
    return {scene.image.cols, scene.image.rows};
}

Scene generate_scene(uint64_t seed, const SceneOptions& options) {
    const bool alternate = options.renderer == Renderer::Alternate;
    // Separate streams per renderer: the alternate set is not the training set redrawn.
    Random rng(alternate ? seed ^ 0xA17E5A7EC0FFEEULL : seed);
    Scene scene;
    scene.seed = seed;

    const int lo = std::max(16, std::min(options.min_side, options.max_side));
    const int hi = std::max(lo, options.max_side);
    const int width = rng.uniform_int(lo, hi);
    const int height = rng.chance(0.3) ? width : rng.uniform_int(lo, hi);
    const cv::Size size(width, height);
    scene.image = alternate ? alternate_background(size, rng) : train_background(size, rng);

    const int min_n = std::max(0, std::min(options.min_objects, options.max_objects));
    const int want = rng.uniform_int(min_n, std::max(min_n, options.max_objects));
    const double short_side = std::min(width, height);
    const bool antialias = rng.chance(0.5);
    const int factor = rng.uniform_int(2, 4);

    const double min_fraction = std::clamp(options.min_size_fraction, 0.05, 0.9);
    const double max_fraction = std::clamp(options.max_size_fraction, min_fraction + 0.02, 0.95);
    std::vector<cv::Rect2d> taken;
    for (int i = 0; i < want; ++i) {
        const auto shape = static_cast<Shape>(rng.uniform_int(0, kShapeCount - 1));
        const auto colour = static_cast<Colour>(rng.uniform_int(0, kColourCount - 1));
        const cv::Scalar bgr = jittered_bgr(colour, rng);
        const bool outline = alternate && rng.chance(0.35);
        double extent = short_side * rng.uniform(min_fraction + 0.01, max_fraction - 0.01);
        const Polygon unit = alternate ? alternate_outline(shape, rng) : train_outline(shape, rng);
        const bool train_circle = !alternate && shape == Shape::Circle;

        bool placed = false;
        for (int attempt = 0; attempt < kPlacementTries && !placed; ++attempt) {
            // Crowded scene: shrink a little every 20 failures, never below the minimum.
            if (attempt > 0 && attempt % 20 == 0)
                extent = std::max(extent * 0.85, short_side * (min_fraction + 0.01));
            const Polygon local = train_circle ? Polygon{} : fit_extent(unit, extent);
            const cv::Rect2d lb = train_circle ? cv::Rect2d(0, 0, extent, extent) : bounds(local);
            const double room_x = width - 2 * kEdgeMargin - lb.width - 2;
            const double room_y = height - 2 * kEdgeMargin - lb.height - 2;
            if (room_x < 0 || room_y < 0) continue;
            const double x = kEdgeMargin + 1 + rng.uniform(0, room_x);
            const double y = kEdgeMargin + 1 + rng.uniform(0, room_y);
            // Expected raster footprint, 1 px of rounding slack on every side.
            const cv::Rect2d footprint(x - 1, y - 1, lb.width + 2, lb.height + 2);
            if (!boxes_clear(footprint, taken)) continue;

            Geometry g;
            if (train_circle) {
                g.radius = extent / 2;
                g.centre = {x + g.radius, y + g.radius};
            } else {
                for (const auto& p : local) g.points.emplace_back(p.x + x, p.y + y);
            }
            const Box box = alternate ? draw_alternate(scene.image, g.points, bgr, outline, factor)
                                      : draw_train(scene.image, g, bgr, antialias);
            taken.push_back(footprint);
            scene.objects.push_back({shape, colour, box});
            placed = true;
        }
    }

    if (options.augment) {
        if (alternate)
            augment_alternate(scene.image, rng);
        else
            augment_train(scene.image, rng);
    }
    return scene;
}

}  // namespace rc::synth
