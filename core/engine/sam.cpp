// rc::SamModel: loading, the embedding cache, prompts, batched decoding and "segment
// everything". The image-side conversions are in model/sam/sam_image.cpp.
#include "regionchat/sam.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <optional>
#include <tuple>

#include <opencv2/imgproc.hpp>

#include "engine/model_impl.h"
#include "regionchat/preprocess.h"
#include "model/layers.h"
#include "model/sam/sam_image.h"
#include "model/sam/sam_net.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"

namespace rc {

namespace fs = std::filesystem;

namespace {

constexpr size_t kCachedImages = 4;

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void check_prompt(const SamPrompt& p) {
    if (p.points.empty() && !p.box) throw Error("SAM: a prompt needs a point or a box");
    if (p.labels.size() != p.points.size())
        throw Error("SAM: each point needs a label (1 foreground, 0 background)");
}

// Prompts with equal shapes stack into one decoder call.
std::tuple<size_t, bool, bool> shape_of(const SamPrompt& p) {
    return {p.points.size(), p.box.has_value(), p.multimask};
}

}  // namespace

struct SamModel::Impl {
    SamInfo info;
    SamConfig config;
    sam::SamNet net{nullptr};
    torch::Device device{torch::kCPU};

    struct Entry {
        uint64_t key = 0;
        torch::Tensor embedding;  ///< [1, C, E, E]
        cv::Size original, resized;
    };
    std::list<Entry> cache;  ///< most recently used first

    /// Builds the network of `config` on `device_name`: random weights, or (`loading`)
    /// uninitialised ones that the caller fills from a checkpoint.
    void build(const std::string& device_name, int threads, bool loading);
    /// Fills info once the weights are in.
    void finish(const std::string& dir, std::chrono::steady_clock::time_point t0);
    /// The cached (or freshly computed) embedding of an image; *ms gets the encode time.
    Entry& embed(const cv::Mat& input, double* ms);
    /// The decoder's answer for `count` prompts of equal shape, mapped from the original
    /// image's pixels to the resized frame: masks [1, count, M, s, s], iou [1, count, M].
    sam::DecoderOutput decode(const Entry& e, const SamPrompt* prompts, int64_t count,
                              bool multimask);
};

void SamModel::Impl::build(const std::string& device_name, int threads, bool loading) {
    if (threads > 0) torch::set_num_threads(threads);
    device = resolve_device(device_name);
    torch::NoGradGuard ng;
    BuildPlacement place(device, torch::kFloat32);
    std::optional<SkipInit> skip;
    if (loading) skip.emplace();  // load_state fills every parameter next
    net = sam::SamNet(config);
    net->to(device, torch::kFloat32);
    net->eval();
}

void SamModel::Impl::finish(const std::string& dir, std::chrono::steady_clock::time_point t0) {
    info.dir = dir;
    info.device = device.str();
    info.image_size = config.image_size;
    info.parameters = 0;
    for (const auto& p : net->parameters()) info.parameters += p.numel();
    info.load_ms = ms_since(t0);
}

SamModel::Impl::Entry& SamModel::Impl::embed(const cv::Mat& input, double* ms) {
    if (input.empty()) throw Error("SAM: the image is empty");
    const cv::Mat bgr = to_bgr8(input);
    const uint64_t key = image_hash(bgr);
    *ms = 0;
    for (auto it = cache.begin(); it != cache.end(); ++it) {
        if (it->key != key || it->original != bgr.size()) continue;
        cache.splice(cache.begin(), cache, it);
        return cache.front();
    }
    const auto t0 = std::chrono::steady_clock::now();
    Entry e;
    e.key = key;
    e.original = bgr.size();
    e.resized = sam::resized_size(bgr.size(), config.image_size);
    const auto pixels = sam::preprocess(bgr, config.image_size);
    {
        torch::NoGradGuard ng;
        e.embedding = net->vision_encoder->forward(pixels.to(device));
    }
    *ms = ms_since(t0);
    cache.push_front(std::move(e));
    while (cache.size() > kCachedImages) cache.pop_back();
    return cache.front();
}

sam::DecoderOutput SamModel::Impl::decode(const Entry& e, const SamPrompt* prompts, int64_t count,
                                          bool multimask) {
    // transformers' processor scales x and y by the resized/original ratio of each side.
    const float sx = float(e.resized.width) / float(e.original.width);
    const float sy = float(e.resized.height) / float(e.original.height);
    const int64_t n = int64_t(prompts[0].points.size());
    torch::Tensor points, labels, boxes;
    if (n > 0) {
        points = torch::empty({1, count, n, 2});
        labels = torch::empty({1, count, n}, torch::kInt64);
        auto pa = points.accessor<float, 4>();
        auto la = labels.accessor<int64_t, 3>();
        for (int64_t k = 0; k < count; ++k)
            for (int64_t q = 0; q < n; ++q) {
                pa[0][k][q][0] = prompts[k].points[size_t(q)].x * sx;
                pa[0][k][q][1] = prompts[k].points[size_t(q)].y * sy;
                la[0][k][q] = prompts[k].labels[size_t(q)] ? 1 : 0;
            }
        points = points.to(device);
        labels = labels.to(device);
    }
    if (prompts[0].box) {
        boxes = torch::empty({1, count, 4});
        auto ba = boxes.accessor<float, 3>();
        for (int64_t k = 0; k < count; ++k) {
            const Box& b = *prompts[k].box;
            ba[0][k][0] = float(b.x0) * sx;
            ba[0][k][1] = float(b.y0) * sy;
            ba[0][k][2] = float(b.x1) * sx;
            ba[0][k][3] = float(b.y1) * sy;
        }
        boxes = boxes.to(device);
    }
    return net->decode(e.embedding, points, labels, boxes, multimask);
}

SamModel::SamModel() : impl_(std::make_unique<Impl>()) {}
SamModel::~SamModel() = default;

const SamInfo& SamModel::info() const {
    return impl_->info;
}

size_t SamModel::cached_images() const {
    return impl_->cache.size();
}

std::shared_ptr<SamModel> SamModel::load(const SamLoadParams& params) {
    const auto t0 = std::chrono::steady_clock::now();
    const fs::path dir(params.model_dir);
    if (params.model_dir.empty() || !fs::is_directory(dir))
        throw Error("SAM folder '" + params.model_dir + "' does not exist");
    std::shared_ptr<SamModel> model(new SamModel());
    Impl& m = *model->impl_;
    m.config = load_sam_config(dir.string());
    const fs::path weights = dir / "model.safetensors";
    if (!fs::exists(weights) && !fs::exists(dir / "model.safetensors.index.json"))
        throw Error(weights.string() +
                    " is missing (a SamModel folder holds config.json and "
                    "model.safetensors)");
    auto archive = SafetensorsArchive::open(dir.string());
    // A config asking for far more than the checkpoint holds (at 2 bytes a parameter) is
    // refused before anything is allocated.
    const int64_t described = sam::count_parameters(m.config);
    if (double(described) > 1.5 * double(archive->total_bytes()) / 2 + 1e6)
        throw Error((dir / "config.json").string() + " describes " + std::to_string(described) +
                    " parameters but " + weights.string() + " holds far fewer");
    m.build(params.device, params.threads, /*loading=*/true);
    load_state(
        *m.net, *archive, [](const std::string& n) { return std::vector<std::string>{n}; },
        [&](size_t done, size_t total, uint64_t) {
            return params.progress ? params.progress(done, total) : true;
        });
    m.finish(dir.string(), t0);
    return model;
}

std::shared_ptr<SamModel> SamModel::random(const SamConfig& config, const std::string& device,
                                           int threads) {
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<SamModel> model(new SamModel());
    Impl& m = *model->impl_;
    m.config = config;
    m.build(device, threads, /*loading=*/false);
    m.finish("(random weights)", t0);
    return model;
}

double SamModel::set_image(const cv::Mat& bgr) {
    double ms = 0;
    impl_->embed(bgr, &ms);
    return ms;
}

std::vector<SamMask> SamModel::predict(const cv::Mat& bgr, const SamPrompt& prompt) {
    Impl& m = *impl_;
    check_prompt(prompt);
    double ms = 0;
    const Impl::Entry& e = m.embed(bgr, &ms);
    torch::NoGradGuard ng;
    const auto d = m.decode(e, &prompt, 1, prompt.multimask);
    const auto logits = d.masks[0][0];  // [M, s, s]
    const auto iou = d.iou[0][0].to(torch::kCPU);
    const auto stable = sam::stability_scores(logits);
    const auto masks = sam::masks_from_logits(logits, m.config.image_size, e.resized, e.original);
    std::vector<SamMask> out(masks.size());
    for (size_t k = 0; k < masks.size(); ++k) {
        out[k].mask = masks[k];
        out[k].box = mask_box(masks[k]);
        out[k].iou = iou[int64_t(k)].item<float>();
        out[k].stability = stable[int64_t(k)].item<float>();
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const SamMask& a, const SamMask& b) { return a.iou > b.iou; });
    return out;
}

std::vector<SamMask> SamModel::predict_batch(const cv::Mat& bgr,
                                             const std::vector<SamPrompt>& prompts,
                                             int batch_size) {
    Impl& m = *impl_;
    for (const auto& p : prompts) check_prompt(p);
    double ms = 0;
    const Impl::Entry& e = m.embed(bgr, &ms);
    const size_t most = size_t(std::max(1, batch_size));
    std::vector<SamMask> out(prompts.size());
    torch::NoGradGuard ng;
    for (size_t i = 0; i < prompts.size();) {
        // A run of prompts with the same shapes, at most batch_size long: one decoder call.
        size_t j = i + 1;
        while (j < prompts.size() && j - i < most && shape_of(prompts[j]) == shape_of(prompts[i]))
            ++j;
        const int64_t count = int64_t(j - i);
        const auto d = m.decode(e, &prompts[i], count, prompts[i].multimask);
        const auto iou = d.iou[0].to(torch::kCPU);  // [count, M]
        const auto best = iou.argmax(1);            // [count]
        const auto rows = torch::arange(count, torch::kInt64);
        const auto logits =
            d.masks[0].index({rows.to(m.device), best.to(m.device)});  // [count, s, s]
        const auto stable = sam::stability_scores(logits);
        const auto masks =
            sam::masks_from_logits(logits, m.config.image_size, e.resized, e.original);
        for (int64_t k = 0; k < count; ++k) {
            SamMask& r = out[i + size_t(k)];
            r.mask = masks[size_t(k)];
            r.box = mask_box(r.mask);
            r.iou = iou[k][best[k].item<int64_t>()].item<float>();
            r.stability = stable[k].item<float>();
        }
        i = j;
    }
    return out;
}

std::vector<Proposal> SamModel::segment_everything(const cv::Mat& bgr,
                                                   const SamEverythingParams& params) {
    Impl& m = *impl_;
    auto report = [&](float f) {
        if (params.progress && !params.progress(f)) throw Error("cancelled");
    };
    report(0.f);
    double ms = 0;
    const Impl::Entry& e = m.embed(bgr, &ms);
    report(0.1f);
    std::vector<SamPrompt> grid;
    for (const auto& pt : sam::point_grid(std::max(1, params.points_per_side), e.original)) {
        SamPrompt p;
        p.points = {pt};
        p.labels = {1};
        grid.push_back(std::move(p));
    }
    const size_t batch = size_t(std::max(1, params.points_per_batch));
    const double min_area = std::max(1.0, params.min_area_fraction * double(e.original.area()));
    std::vector<Proposal> kept;
    torch::NoGradGuard ng;
    for (size_t i = 0; i < grid.size(); i += batch) {
        const int64_t count = int64_t(std::min(grid.size() - i, batch));
        // All three masks of every point, as SAM's automatic mask generator keeps them.
        const auto d = m.decode(e, &grid[i], count, true);
        const auto logits = d.masks[0].flatten(0, 1);  // [count * 3, s, s]
        const auto iou = d.iou[0].flatten().to(torch::kCPU);
        // Stability is judged on the low-resolution logits: the ratio barely changes with
        // upscaling, and upscaling every candidate first would cost 4 MiB each at 1024.
        const auto stable = sam::stability_scores(logits);
        std::vector<int64_t> pass;
        for (int64_t k = 0; k < logits.size(0); ++k)
            if ((params.pred_iou_thresh <= 0 || iou[k].item<float>() > params.pred_iou_thresh) &&
                (params.stability_thresh <= 0 || stable[k].item<float>() > params.stability_thresh))
                pass.push_back(k);
        if (!pass.empty()) {
            const auto index = torch::tensor(pass, torch::kInt64).to(m.device);
            const auto masks = sam::masks_from_logits(logits.index_select(0, index),
                                                      m.config.image_size, e.resized, e.original);
            for (size_t k = 0; k < pass.size(); ++k) {
                if (cv::countNonZero(masks[k]) < min_area) continue;
                Proposal p;
                p.mask = masks[k];
                p.box = mask_box(p.mask);
                p.score = iou[pass[k]].item<float>();
                p.source = "sam";
                kept.push_back(std::move(p));
            }
        }
        report(0.1f + 0.85f * float(i + size_t(count)) / float(grid.size()));
    }
    auto result = nms(std::move(kept), params.nms_iou, size_t(std::max(0, params.max_masks)));
    report(1.f);
    return result;
}

namespace {

class SamGenerator : public ProposalGenerator {
public:
    explicit SamGenerator(std::shared_ptr<SamModel> sam) : sam_(std::move(sam)) {}
    std::string name() const override { return "sam"; }
    std::vector<Proposal> generate(const cv::Mat& bgr, const ProposalParams& params) override {
        if (bgr.empty()) throw Error("proposals: the image is empty");
        SamEverythingParams p;
        p.max_masks = params.max_proposals;
        p.min_area_fraction = params.min_area_fraction;
        p.nms_iou = params.nms_iou;
        p.progress = params.progress;
        return sam_->segment_everything(bgr, p);
    }

private:
    std::shared_ptr<SamModel> sam_;
};

}  // namespace

void write_random_sam(const std::string& dir, const SamConfig& config) {
    fs::create_directories(dir);
    {
        torch::NoGradGuard ng;
        sam::SamNet net(config);
        save_state(*net, (fs::path(dir) / "model.safetensors").string());
    }
    const fs::path path = fs::path(dir) / "config.json";
    std::ofstream out(path);
    out << sam_config_to_json(config);
    if (!out.flush()) throw Error("cannot write " + path.string());
}

std::unique_ptr<ProposalGenerator> make_sam_generator(std::shared_ptr<SamModel> sam) {
    if (!sam) throw Error("proposals: no SAM loaded");
    return std::make_unique<SamGenerator>(std::move(sam));
}

}  // namespace rc
