// The prompt a benchmark case sends and whether its answer is right (torch-free half of
// regionchat/bench_run.h).
#include <algorithm>
#include <cctype>

#include <opencv2/imgproc.hpp>

#include "regionchat/bench_run.h"
#include "regionchat/error.h"

namespace rc::bench {

std::string case_prompt(const BenchCase& c, const RunOptions& options) {
    if (is_dualfocus_format(c.format)) return dualfocus_prompt(c);
    if (c.format == "mmvm") {
        // The options, unless the question already lists them, and LLaVA's instruction for
        // multiple choice, so the answer is a letter.
        const std::string q = mmvm_question_with_options(c);
        if (q == c.question) return q;
        return q + "\nAnswer with the option's letter from the given choices directly.";
    }
    if (c.format != "grounding") return c.question;
    std::string prompt = options.grounding_prompt;
    const std::string key = "{expression}";
    const size_t at = prompt.find(key);
    if (at == std::string::npos) return prompt + " " + c.question;
    return prompt.replace(at, key.size(), c.question);
}

bool case_correct(const CaseResult& r) {
    const BenchCase& c = r.bench_case;
    // TextVQA: right when the answer earns any VQA accuracy (matches a reference answer).
    if (is_dualfocus_format(c.format)) return dualfocus_case_score(c, r.prediction) > 0;
    if (c.format == "mme") {
        std::string gt = c.answer;
        for (auto& ch : gt) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return mme_parse_answer(r.prediction) == gt;
    }
    if (c.format == "mmvm")
        return !c.answer.empty() && mmvm_result_letter(r) == c.answer;
    if (c.format == "grounding")
        return c.has_box && r.has_pred_box && iou(r.pred_box, c.box) >= 0.5;
    return false;
}

ChatRequest mmvm_region_token_request(const BenchCase& c, const std::vector<cv::Mat>& shown,
                                      const std::vector<cv::Mat>& originals) {
    if (shown.size() != 2 || originals.size() != 2)
        throw Error(c.id + ": an MMVM case has two frames");
    if (c.query_objects.empty()) throw Error(c.id + ": FRAME00.json has no query object");
    if (c.candidates.empty()) throw Error(c.id + ": FRAME01_CAND.json has no candidates");
    ChatRequest q;
    q.images = originals;
    q.shown_images = shown;
    q.region_mode = RegionMode::Tokens;
    auto region = [&](int id, int image, const MmvmObject& o) {
        RegionInput r;
        r.id = id;
        r.image = image;
        r.mask = mmvm_object_mask(o, originals[size_t(image)].size());
        const cv::Rect b = cv::boundingRect(r.mask);
        r.box = {double(b.x), double(b.y), double(b.x + b.width), double(b.y + b.height)};
        q.regions.push_back(r);
    };
    // Candidates by ascending id (the kit sorts ids and reorders the masks alike).
    std::vector<std::pair<int, const MmvmObject*>> cands;
    int max_id = 0;
    for (size_t i = 0; i < c.candidates.size(); ++i) {
        const int id = c.candidates[i].id >= 0 ? c.candidates[i].id : int(i) + 1;
        cands.emplace_back(id, &c.candidates[i]);
        max_id = std::max(max_id, id);
    }
    std::stable_sort(cands.begin(), cands.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const int query_id = max_id + 1;  // any id no candidate has
    region(query_id, 0, c.query_objects.front());
    std::string objects;
    for (const auto& [id, o] : cands) {
        region(id, 1, *o);
        objects += (objects.empty() ? "" : ", ") + std::string("<object-") + std::to_string(id) +
                   "><region " + std::to_string(id) + ">";
    }
    q.text = "Image-1: <image>\nImage-2: <image>\nObjects in Image-1: <query object><region " +
             std::to_string(query_id) + ">\nObjects in Image-2: " + objects +
             ".\n<Image-1><Image-2>" + mmvm_question_with_options(c);
    return q;
}

}  // namespace rc::bench
