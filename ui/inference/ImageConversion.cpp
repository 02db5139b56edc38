#include "inference/ImageConversion.h"

#include <cstring>

#include <opencv2/imgproc.hpp>

namespace rcui {

cv::Mat toBgrMat(const QImage& image) {
    if (image.isNull()) return {};
#if Q_BYTE_ORDER == Q_LITTLE_ENDIAN
    if (image.format() == QImage::Format_RGB32) {
        // The documents' own format (B, G, R, 255 in memory): one pass to BGR.
        const cv::Mat view(image.height(), image.width(), CV_8UC4,
                           const_cast<uchar*>(image.constBits()), size_t(image.bytesPerLine()));
        cv::Mat bgr;
        cv::cvtColor(view, bgr, cv::COLOR_BGRA2BGR);
        return bgr;
    }
#endif
    // One path for every format (indexed, grey, ARGB, 16-bit ...): let Qt make it RGB888.
    const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
    const cv::Mat view(rgb.height(), rgb.width(), CV_8UC3, const_cast<uchar*>(rgb.constBits()),
                       static_cast<size_t>(rgb.bytesPerLine()));
    cv::Mat bgr;
    cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);  // writes a new buffer: a deep copy
    return bgr;
}

QImage toQImage(const cv::Mat& bgr) {
    if (bgr.empty() || bgr.depth() != CV_8U) return {};
    cv::Mat rgb;
    switch (bgr.channels()) {
        case 1:
            cv::cvtColor(bgr, rgb, cv::COLOR_GRAY2RGB);
            break;
        case 3:
            cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
            break;
        case 4:
            cv::cvtColor(bgr, rgb, cv::COLOR_BGRA2RGB);
            break;
        default:
            return {};
    }
    const QImage view(rgb.data, rgb.cols, rgb.rows, static_cast<qsizetype>(rgb.step),
                      QImage::Format_RGB888);
    return view.copy();  // own the pixels; rgb goes away with this scope
}

QImage toMaskImage(const cv::Mat& mask) {
    if (mask.empty() || mask.type() != CV_8UC1) return {};
    QImage out(mask.cols, mask.rows, QImage::Format_Grayscale8);
    for (int y = 0; y < mask.rows; ++y)
        std::memcpy(out.scanLine(y), mask.ptr<uchar>(y), static_cast<size_t>(mask.cols));
    return out;
}

cv::Mat toMaskMat(const QImage& mask) {
    if (mask.isNull()) return {};
    const QImage grey = mask.convertToFormat(QImage::Format_Grayscale8);
    cv::Mat out(grey.height(), grey.width(), CV_8UC1);
    for (int y = 0; y < grey.height(); ++y)
        std::memcpy(out.ptr<uchar>(y), grey.constScanLine(y), static_cast<size_t>(grey.width()));
    return out;
}

std::vector<rc::RegionInput> toRegionInputs(const QList<Region>& regions) {
    std::vector<rc::RegionInput> out;
    for (const Region& r : regions) {
        rc::RegionInput in;
        in.id = r.id;
        const QRectF b = r.box.normalized();
        in.box = rc::Box{b.left(), b.top(), b.right(), b.bottom()};
        for (const QPointF& p : r.positive) in.points.push_back(rc::Point{p.x(), p.y()});
        in.scribble = r.kind == Region::Kind::Scribble;
        if (r.hasMask()) in.mask = toMaskMat(r.mask);
        const QColor c = r.colour.isValid() ? r.colour : regionColour(r.id);
        in.colour_b = c.blue();
        in.colour_g = c.green();
        in.colour_r = c.red();
        out.push_back(std::move(in));
    }
    return out;
}

rc::ChatRequest splitImagePair(rc::ChatRequest request, int split, QSize first, QSize second) {
    if (request.images.empty() || split <= 0) return request;
    const cv::Mat canvas = request.images.front();
    const cv::Rect a(0, 0, first.width(), first.height()),
        b(split, 0, second.width(), second.height());
    const cv::Rect all(0, 0, canvas.cols, canvas.rows);
    if ((a & all) != a || (b & all) != b) return request;  // not this pair's canvas
    std::vector<cv::Mat> images = {canvas(a).clone(), canvas(b).clone()};
    for (size_t i = 1; i < request.images.size(); ++i) images.push_back(request.images[i]);
    request.images = std::move(images);
    for (rc::RegionInput& r : request.regions) {
        const bool right = (r.box.x0 + r.box.x1) / 2 >= split;
        const cv::Rect& rect = right ? b : a;
        const double dx = right ? split : 0;
        r.image = right ? 1 : 0;
        r.box = rc::Box{r.box.x0 - dx, r.box.y0, r.box.x1 - dx, r.box.y1}.clipped(rect.width, rect.height);
        for (rc::Point& p : r.points) p.x -= dx;
        if (!r.mask.empty() && (rect & cv::Rect(0, 0, r.mask.cols, r.mask.rows)) == rect)
            r.mask = r.mask(rect).clone();
        else
            r.mask = cv::Mat();
    }
    if (request.text.find("<image>") == std::string::npos)
        request.text = "Image-1: <image>\nImage-2: <image>\n" + request.text;
    return request;
}

}  // namespace rcui
