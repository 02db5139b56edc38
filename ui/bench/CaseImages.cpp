#include "bench/CaseImages.h"

#include <opencv2/imgproc.hpp>

#include "document/FileLoading.h"
#include "inference/ImageConversion.h"
#include "regionchat/image_io.h"

namespace rcui {

QImage loadCaseView(const std::vector<std::string>& paths) {
    std::vector<cv::Mat> frames;
    for (const auto& path : paths) {
        try {
            frames.push_back(rc::load_image(path));
        } catch (const std::exception&) {
        }
    }
    if (frames.size() >= 2) {  // MMVM: query frame | candidate frame, same height
        const int h = std::max(frames[0].rows, frames[1].rows);
        std::vector<cv::Mat> scaled;
        for (const auto& f : frames) {
            cv::Mat s;
            cv::resize(f, s, cv::Size(std::max(1, f.cols * h / std::max(1, f.rows)), h));
            scaled.push_back(s);
        }
        cv::Mat joined;
        cv::hconcat(scaled, joined);
        return displayReady(toQImage(joined));
    }
    return frames.empty() ? QImage() : displayReady(toQImage(frames[0]));
}

CaseImages loadCaseImages(const std::vector<std::string>& paths) {
    CaseImages out;
    try {
        if (paths.empty()) throw std::runtime_error("the case has no image");
        for (size_t i = 0; i < paths.size(); ++i) {
            const QImage img = toQImage(rc::load_image(paths[i]));
            if (i == 0)
                out.first = img;
            else
                out.extra << img;
        }
    } catch (const std::exception& e) {
        out.error = QString::fromStdString(e.what());
    }
    return out;
}

}  // namespace rcui
