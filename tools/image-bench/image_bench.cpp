// image-bench: where a large image's time and memory go, one path per process (so that each
// peak is its own). Built on demand: cmake --build build --target image-bench.
//   image-bench make DIR            writes DIR/big.png and DIR/big.jpg (9000x7000, photo-like)
//   image-bench decode FILE         OpenCV's decode alone (cv::imread): the baseline
//   image-bench cli FILE            rc::load_image + the model's input (the embedded model's
//                                   preprocessing; REGIONCHAT_BICUBIC=1: a released LLaVA's)
//   image-bench app FILE            the app: loadImageFile (decode + SHA-256), the canvas pixmap,
//                                   the worker's BGR copy, the model's input
// Prints one JSON line: {"path", "ms", "peak_mb" (peak RSS over the process's RSS before it)}.
// tools/image-bench/run.sh runs each path 5 times and prints the medians.
// LibTorch first: Qt's `slots` keyword would break its headers.
#include "regionchat/preprocess.h"

#include <QApplication>
#include <QPixmap>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "document/FileLoading.h"
#include "inference/ImageConversion.h"
#include "regionchat/image_io.h"

namespace {

// VmRSS or VmHWM of this process, in MB.
double status_mb(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key) + 1)) / 1024.0;
    return 0;
}

// The model's input as the embedded model makes it (padded square, area resize); with
// REGIONCHAT_BICUBIC=1 as a released LLaVA-1.5 does (Pillow's bicubic).
void model_input(const cv::Mat& bgr) {
    rc::PreprocessOptions o;
    o.bicubic_antialias = std::getenv("REGIONCHAT_BICUBIC") != nullptr;
    if (rc::preprocess_image(bgr, o).size(1) != 336) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: image-bench make DIR | decode|cli|app FILE\n");
        return 2;
    }
    const std::string mode = argv[1], file = argv[2];
    if (mode == "make") {
        cv::Mat small(350, 450, CV_8UC3), big, grain(7000, 9000, CV_8UC3);
        cv::RNG rng(3);
        rng.fill(small, cv::RNG::UNIFORM, 0, 256);
        cv::resize(small, big, cv::Size(9000, 7000), 0, 0, cv::INTER_CUBIC);
        rng.fill(grain, cv::RNG::UNIFORM, 0, 12);  // a photo's grain: PNG cannot pack it away
        big += grain;
        cv::imwrite(file + "/big.png", big);
        cv::imwrite(file + "/big.jpg", big, {cv::IMWRITE_JPEG_QUALITY, 92});
        return 0;
    }
    QApplication app(argc, argv);  // the app path needs pixmaps; the same start for every path
    const double before = status_mb("VmRSS:");
    const auto t0 = std::chrono::steady_clock::now();
    double split_ms = 0;  // the file opened (decoded, and for the app shown), before the model's input
    if (mode == "decode") {
        const cv::Mat m = cv::imread(file, cv::IMREAD_COLOR);
        if (m.empty()) return 1;
    } else if (mode == "cli") {
        const cv::Mat bgr = rc::load_image(file);
        split_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        model_input(bgr);
    } else if (mode == "app") {
        const rcui::LoadedImage loaded = rcui::loadImageFile(QString::fromStdString(file));
        if (!loaded.error.isEmpty()) return 1;
        split_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        const QPixmap shown = QPixmap::fromImage(loaded.image);  // the canvas
        model_input(rcui::toBgrMat(loaded.image));              // the worker's request
        if (shown.isNull()) return 1;
    } else {
        return 2;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"path\": \"%s\", \"ms\": %.0f, \"opened_ms\": %.0f, \"peak_mb\": %.0f}\n",
                mode.c_str(), ms, split_ms, status_mb("VmHWM:") - before);
    return 0;
}
