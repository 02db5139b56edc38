// Plain geometry shared by core and ui: boxes, points and image sizes in image pixels.
#pragma once

namespace rc {

/// A box in pixels of the original image, x0 <= x1, y0 <= y1 after normalized().
struct Box {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;

    double width() const { return x1 - x0; }
    double height() const { return y1 - y0; }
    double area() const;
    /// Orders the corners so x0 <= x1 and y0 <= y1.
    Box normalized() const;
    /// Clips to [0, w] x [0, h].
    Box clipped(double w, double h) const;
};

/// Intersection over union of two boxes (0 when either is empty).
double iou(const Box& a, const Box& b);

/// A point in image pixels.
struct Point {
    double x = 0, y = 0;
};

struct ImageSize {
    int width = 0;
    int height = 0;
};

}  // namespace rc
