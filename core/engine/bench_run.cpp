// Answering one benchmark case with the engine (the LibTorch half of regionchat/bench_run.h).
#include "regionchat/bench_run.h"

#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace rc::bench {

CaseResult run_case(const std::shared_ptr<Model>& model, const BenchCase& c,
                    const RunOptions& options) {
    if (c.images.empty()) throw Error(c.id + ": the case has no image");
    std::vector<cv::Mat> images;
    for (const auto& path : c.images) images.push_back(load_image(path));
    Session session(model);
    const Reply reply = session.ask(case_prompt(c, options), images, options.generate);
    CaseResult r;
    r.bench_case = c;
    r.prediction = reply.text;
    if (!reply.boxes.empty()) {
        r.has_pred_box = true;
        r.pred_box = reply.boxes.front().box;
    }
    return r;
}

}  // namespace rc::bench
