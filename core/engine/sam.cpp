// rc::SamModel: loading, preprocessing, the embedding cache, prompts and "segment everything".
#include "regionchat/sam.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <list>

#include <opencv2/imgproc.hpp>

#include "engine/model_impl.h"
#include "model/sam/sam_net.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"

namespace rc {

namespace fs = std::filesystem;

namespace {

constexpr size_t kCachedImages = 4;

uint64_t content_hash(const cv::Mat& m) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](uint64_t v) {
        h ^= v;
        h *= 1099511628211ull;
    };
    mix(uint64_t(m.rows));
    mix(uint64_t(m.cols));
    mix(uint64_t(m.type()));
    for (int y = 0; y < m.rows; ++y) {
        const uint8_t* row = m.ptr<uint8_t>(y);
        const size_t n = size_t(m.cols) * m.elemSize();
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            std::memcpy(&v, row + i, 8);
            mix(v);
        }
        for (; i < n; ++i) mix(row[i]);
    }
    return h;
}

Box box_of(const cv::Mat& mask) {
    const cv::Rect r = cv::boundingRect(mask);
    return Box{double(r.x), double(r.y), double(r.x + r.width), double(r.y + r.height)};
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
        int rows = 0, cols = 0;   ///< original size
        int resized_rows = 0, resized_cols = 0;
    };
    std::list<Entry> cache;  ///< most recent first

    /// The cached (or freshly computed) embedding of an image; *ms gets the encode time.
    Entry& embed(const cv::Mat& input, double* ms);
    /// Normalized, padded pixels [1, 3, S, S] (and the resized size).
    torch::Tensor preprocess(const cv::Mat& bgr, int* rows, int* cols) const;
    /// Low-resolution logits [K, 4E, 4E] -> K masks of the original image, CV_8U 0/255.
    std::vector<cv::Mat> upscale(const torch::Tensor& logits, const Entry& e) const;
    float scale_x(const Entry& e) const { return float(e.resized_cols) / float(e.cols); }
    float scale_y(const Entry& e) const { return float(e.resized_rows) / float(e.rows); }
};

torch::Tensor SamModel::Impl::preprocess(const cv::Mat& bgr, int* rows, int* cols) const {
    const int S = config.image_size;
    const double scale = double(S) / std::max(bgr.rows, bgr.cols);
    *rows = std::max(1, int(bgr.rows * scale + 0.5));
    *cols = std::max(1, int(bgr.cols * scale + 0.5));
    cv::Mat rgb, resized;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    cv::resize(rgb, resized, cv::Size(*cols, *rows), 0, 0, cv::INTER_LINEAR);
    resized.convertTo(resized, CV_32FC3, 1.0 / 255.0);
    auto t = torch::from_blob(resized.data, {*rows, *cols, 3}, torch::kFloat32).clone();
    const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 1, 3});
    const auto stdv = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 1, 3});
    t = ((t - mean) / stdv).permute({2, 0, 1});
    auto padded = torch::zeros({1, 3, S, S});
    padded.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(0, *rows),
                       torch::indexing::Slice(0, *cols)},
                      t);
    return padded;
}

SamModel::Impl::Entry& SamModel::Impl::embed(const cv::Mat& input, double* ms) {
    if (input.empty()) throw Error("SAM: the image is empty");
    const cv::Mat bgr = to_bgr8(input);
    const uint64_t key = content_hash(bgr);
    *ms = 0;
    for (auto it = cache.begin(); it != cache.end(); ++it) {
        if (it->key != key || it->rows != bgr.rows || it->cols != bgr.cols) continue;
        cache.splice(cache.begin(), cache, it);  // most recently used first
        return cache.front();
    }
    const auto t0 = std::chrono::steady_clock::now();
    Entry e;
    e.key = key;
    e.rows = bgr.rows;
    e.cols = bgr.cols;
    const auto pixels = preprocess(bgr, &e.resized_rows, &e.resized_cols);
    {
        torch::NoGradGuard ng;
        e.embedding = net->vision_encoder->forward(pixels.to(device));
    }
    *ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    cache.push_front(std::move(e));
    while (cache.size() > kCachedImages) cache.pop_back();
    return cache.front();
}

std::vector<cv::Mat> SamModel::Impl::upscale(const torch::Tensor& logits, const Entry& e) const {
    namespace F = torch::nn::functional;
    const int S = config.image_size;
    std::vector<cv::Mat> out;
    for (int64_t start = 0; start < logits.size(0); start += 16) {
        const auto chunk = logits.slice(0, start, std::min<int64_t>(start + 16, logits.size(0)))
                               .unsqueeze(1)
                               .to(torch::kFloat32);
        auto up = F::interpolate(chunk, F::InterpolateFuncOptions()
                                            .size(std::vector<int64_t>{S, S})
                                            .mode(torch::kBilinear)
                                            .align_corners(false));
        up = up.slice(2, 0, e.resized_rows).slice(3, 0, e.resized_cols);
        up = F::interpolate(up, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{e.rows, e.cols})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
        const auto bin = (up.squeeze(1) > 0).to(torch::kUInt8).mul(255).to(torch::kCPU).contiguous();
        for (int64_t i = 0; i < bin.size(0); ++i) {
            cv::Mat m(e.rows, e.cols, CV_8UC1);
            std::memcpy(m.data, bin[i].data_ptr<uint8_t>(), size_t(e.rows) * e.cols);
            out.push_back(m);
        }
    }
    return out;
}

SamModel::SamModel() : impl_(std::make_unique<Impl>()) {}
SamModel::~SamModel() = default;

const SamInfo& SamModel::info() const { return impl_->info; }

size_t SamModel::cached_images() const { return impl_->cache.size(); }

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
        throw Error(weights.string() + " is missing (a SamModel folder holds config.json and "
                                       "model.safetensors)");
    auto archive = SafetensorsArchive::open(dir.string());
    // A config asking for far more than the checkpoint holds is refused before allocating.
    const int64_t described = sam::count_parameters(m.config);
    if (double(described) > 1.5 * double(archive->total_bytes()) / 2 + 1e6)
        throw Error((dir / "config.json").string() + " describes " +
                    std::to_string(described) + " parameters but " + weights.string() +
                    " holds far fewer");
    if (params.threads > 0) torch::set_num_threads(params.threads);
    m.device = resolve_device(params.device);
    {
        torch::NoGradGuard ng;
        BuildPlacement place(m.device, torch::kFloat32);
        m.net = sam::SamNet(m.config);
        m.net->to(m.device, torch::kFloat32);
        m.net->eval();
    }
    load_state(*m.net, *archive, [](const std::string& n) { return std::vector<std::string>{n}; },
               [&](size_t done, size_t total, uint64_t) {
                   return params.progress ? params.progress(done, total) : true;
               });
    m.info.dir = dir.string();
    m.info.device = m.device.str();
    m.info.image_size = m.config.image_size;
    for (const auto& p : m.net->parameters()) m.info.parameters += p.numel();
    m.info.load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return model;
}

double SamModel::set_image(const cv::Mat& bgr) {
    double ms = 0;
    impl_->embed(bgr, &ms);
    return ms;
}

namespace {

bool prompt_has_input(const SamPrompt& p) { return !p.points.empty() || p.box.has_value(); }

// A signature of a prompt's tensor shapes: prompts with equal ones stack into one batch.
std::tuple<size_t, bool, bool> shape_of(const SamPrompt& p) {
    return {p.points.size(), p.box.has_value(), p.multimask};
}

}  // namespace

std::vector<SamMask> SamModel::predict_batch(const cv::Mat& bgr,
                                             const std::vector<SamPrompt>& prompts,
                                             int batch_size) {
    Impl& m = *impl_;
    double ms = 0;
    Impl::Entry& e = m.embed(bgr, &ms);
    for (const auto& p : prompts) {
        if (!prompt_has_input(p)) throw Error("SAM: a prompt needs a point or a box");
        if (p.labels.size() != p.points.size())
            throw Error("SAM: each point needs a label (1 foreground, 0 background)");
    }
    std::vector<SamMask> out(prompts.size());
    const float sx = m.scale_x(e), sy = m.scale_y(e);
    torch::NoGradGuard ng;
    size_t i = 0;
    while (i < prompts.size()) {
        // A run of prompts with the same shapes, at most batch_size long: one decoder call.
        size_t j = i + 1;
        while (j < prompts.size() && j - i < size_t(std::max(1, batch_size)) &&
               shape_of(prompts[j]) == shape_of(prompts[i]))
            ++j;
        const int64_t P = int64_t(j - i), n = int64_t(prompts[i].points.size());
        const bool has_box = prompts[i].box.has_value(), multimask = prompts[i].multimask;
        torch::Tensor points, labels, boxes;
        if (n > 0) {
            points = torch::empty({1, P, n, 2});
            labels = torch::empty({1, P, n}, torch::kInt64);
            auto pa = points.accessor<float, 4>();
            auto la = labels.accessor<int64_t, 3>();
            for (int64_t k = 0; k < P; ++k)
                for (int64_t q = 0; q < n; ++q) {
                    pa[0][k][q][0] = prompts[i + k].points[q].x * sx;
                    pa[0][k][q][1] = prompts[i + k].points[q].y * sy;
                    la[0][k][q] = prompts[i + k].labels[q] ? 1 : 0;
                }
            points = points.to(m.device);
            labels = labels.to(m.device);
        }
        if (has_box) {
            boxes = torch::empty({1, P, 4});
            auto ba = boxes.accessor<float, 3>();
            for (int64_t k = 0; k < P; ++k) {
                const Box& b = *prompts[i + k].box;
                ba[0][k][0] = float(b.x0) * sx;
                ba[0][k][1] = float(b.y0) * sy;
                ba[0][k][2] = float(b.x1) * sx;
                ba[0][k][3] = float(b.y1) * sy;
            }
            boxes = boxes.to(m.device);
        }
        const auto d = m.net->decode(e.embedding, points, labels, boxes, multimask);
        const auto iou = d.iou[0].to(torch::kCPU);            // [P, M]
        const auto best = iou.argmax(1);                       // [P]
        const auto rows = torch::arange(P, best.options());
        const auto logits = d.masks[0].index({rows.to(m.device), best.to(m.device)});  // [P, s, s]
        const auto stable =
            ((logits > 1).sum({1, 2}).to(torch::kFloat32) /
             (logits > -1).sum({1, 2}).to(torch::kFloat32).clamp_min(1)).to(torch::kCPU);
        const auto masks = m.upscale(logits, e);
        for (int64_t k = 0; k < P; ++k) {
            SamMask& r = out[i + k];
            r.mask = masks[k];
            r.box = box_of(r.mask);
            r.iou = iou[k][best[k].item<int64_t>()].item<float>();
            r.stability = stable[k].item<float>();
        }
        i = j;
    }
    return out;
}

std::vector<SamMask> SamModel::predict(const cv::Mat& bgr, const SamPrompt& prompt) {
    Impl& m = *impl_;
    if (!prompt_has_input(prompt)) throw Error("SAM: a prompt needs a point or a box");
    if (prompt.labels.size() != prompt.points.size())
        throw Error("SAM: each point needs a label (1 foreground, 0 background)");
    double ms = 0;
    Impl::Entry& e = m.embed(bgr, &ms);
    const float sx = m.scale_x(e), sy = m.scale_y(e);
    torch::NoGradGuard ng;
    torch::Tensor points, labels, boxes;
    const int64_t n = int64_t(prompt.points.size());
    if (n > 0) {
        points = torch::empty({1, 1, n, 2});
        labels = torch::empty({1, 1, n}, torch::kInt64);
        for (int64_t q = 0; q < n; ++q) {
            points[0][0][q][0] = prompt.points[q].x * sx;
            points[0][0][q][1] = prompt.points[q].y * sy;
            labels[0][0][q] = prompt.labels[q] ? 1 : 0;
        }
        points = points.to(m.device);
        labels = labels.to(m.device);
    }
    if (prompt.box) {
        const Box& b = *prompt.box;
        boxes = torch::tensor({float(b.x0) * sx, float(b.y0) * sy, float(b.x1) * sx,
                               float(b.y1) * sy})
                    .view({1, 1, 4})
                    .to(m.device);
    }
    const auto d = m.net->decode(e.embedding, points, labels, boxes, prompt.multimask);
    const auto logits = d.masks[0][0];  // [M, s, s]
    const auto iou = d.iou[0][0].to(torch::kCPU);
    const auto stable = ((logits > 1).sum({1, 2}).to(torch::kFloat32) /
                         (logits > -1).sum({1, 2}).to(torch::kFloat32).clamp_min(1))
                            .to(torch::kCPU);
    const auto masks = m.upscale(logits, e);
    std::vector<SamMask> out(masks.size());
    for (size_t k = 0; k < masks.size(); ++k) {
        out[k].mask = masks[k];
        out[k].box = box_of(masks[k]);
        out[k].iou = iou[int64_t(k)].item<float>();
        out[k].stability = stable[int64_t(k)].item<float>();
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const SamMask& a, const SamMask& b) { return a.iou > b.iou; });
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
    Impl::Entry& e = m.embed(bgr, &ms);
    report(0.1f);
    const int n = std::max(1, params.points_per_side);
    const int batch = std::max(1, params.points_per_batch);
    std::vector<SamPrompt> grid;
    for (int gy = 0; gy < n; ++gy)
        for (int gx = 0; gx < n; ++gx) {
            SamPrompt p;
            p.points = {cv::Point2f(float((gx + 0.5) / n * e.cols), float((gy + 0.5) / n * e.rows))};
            p.labels = {1};
            grid.push_back(p);
        }
    const float sx = m.scale_x(e), sy = m.scale_y(e);
    const double min_area = params.min_area_fraction * double(e.rows) * e.cols;
    std::vector<Proposal> kept;
    torch::NoGradGuard ng;
    for (size_t i = 0; i < grid.size(); i += size_t(batch)) {
        const int64_t P = int64_t(std::min(grid.size(), i + size_t(batch)) - i);
        auto points = torch::empty({1, P, 1, 2});
        auto pa = points.accessor<float, 4>();
        for (int64_t k = 0; k < P; ++k) {
            pa[0][k][0][0] = grid[i + k].points[0].x * sx;
            pa[0][k][0][1] = grid[i + k].points[0].y * sy;
        }
        const auto labels = torch::ones({1, P, 1}, torch::kInt64).to(m.device);
        // All three masks of every point, as SAM's automatic generator keeps them.
        const auto d = m.net->decode(e.embedding, points.to(m.device), labels, {}, true);
        const auto logits = d.masks[0].flatten(0, 1);  // [P * 3, s, s]
        const auto iou = d.iou[0].flatten().to(torch::kCPU);
        const auto stable = ((logits > 1).sum({1, 2}).to(torch::kFloat32) /
                             (logits > -1).sum({1, 2}).to(torch::kFloat32).clamp_min(1))
                                .to(torch::kCPU);
        std::vector<int64_t> pass;
        for (int64_t k = 0; k < logits.size(0); ++k)
            if (iou[k].item<float>() >= params.pred_iou_thresh &&
                stable[k].item<float>() >= params.stability_thresh)
                pass.push_back(k);
        if (!pass.empty()) {
            const auto index = torch::tensor(pass, torch::kInt64).to(m.device);
            const auto masks = m.upscale(logits.index_select(0, index), e);
            for (size_t k = 0; k < pass.size(); ++k) {
                Proposal p;
                p.mask = masks[k];
                p.box = box_of(p.mask);
                if (p.box.area() < std::max(1.0, min_area)) continue;
                p.score = iou[pass[k]].item<float>();
                p.source = "sam";
                kept.push_back(std::move(p));
            }
        }
        report(0.1f + 0.85f * float(i + size_t(P)) / float(grid.size()));
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

std::unique_ptr<ProposalGenerator> make_sam_generator(std::shared_ptr<SamModel> sam) {
    if (!sam) throw Error("proposals: no SAM loaded");
    return std::make_unique<SamGenerator>(std::move(sam));
}

}  // namespace rc
