// Segment Anything (SAM) in LibTorch: a Hugging Face `SamModel` folder (config.json +
// model.safetensors, facebook/sam-vit-base layout) loaded by the same tensor loader as the
// chat models. Torch-free header so ui/ may include it.
//
//   auto sam = rc::SamModel::load({"/path/to/sam-vit-base"});
//   rc::SamPrompt p; p.points = {{120, 80}}; p.labels = {1};
//   std::vector<rc::SamMask> masks = sam->predict(image, p);   // best first
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "regionchat/config.h"
#include "regionchat/proposals.h"
#include "regionchat/region_format.h"

namespace rc {

struct SamLoadParams {
    std::string model_dir;        ///< folder with config.json and model.safetensors
    std::string device = "auto";  ///< "auto" (CUDA when available), "cpu", "cuda", "cuda:N"
    int threads = 0;              ///< CPU threads for LibTorch; 0 keeps its default
    /// Called after each tensor with (done, total); return false to cancel.
    std::function<bool(size_t, size_t)> progress;
};

struct SamInfo {
    std::string dir;
    std::string device;
    int64_t parameters = 0;
    int image_size = 1024;  ///< the encoder's input side (longest side is resized to this)
    double load_ms = 0;
};

/// A prompt in the original image's pixels. Points and a box may be combined.
struct SamPrompt {
    std::vector<cv::Point2f> points;
    std::vector<int> labels;   ///< one per point: 1 = foreground, 0 = background
    std::optional<Box> box;    ///< pixels, [x0, x1) style like rc::Box elsewhere
    bool multimask = true;     ///< 3 candidate masks (ambiguous prompts) or the single one
};

struct SamMask {
    cv::Mat mask;           ///< CV_8U 0/255, the original image's size
    Box box;                ///< the mask's bounding rect (empty box when the mask is empty)
    float iou = 0;          ///< the decoder's predicted IoU
    float stability = 0;    ///< IoU of the mask thresholded at +1 and -1 logits
};

struct SamEverythingParams {
    int points_per_side = 32;         ///< grid of points_per_side^2 single-point prompts
    int points_per_batch = 64;        ///< prompts per decoder call
    float pred_iou_thresh = 0.88f;    ///< keep masks whose predicted IoU is higher (<= 0: all)
    float stability_thresh = 0.95f;   ///< keep masks whose stability is higher (<= 0: all)
    double nms_iou = 0.7;             ///< box NMS between the kept masks
    int max_masks = 128;
    double min_area_fraction = 0.0005;
    /// 0..1 after the encoder and after each decoder batch; return false to cancel.
    std::function<bool(float)> progress;
};

/// A loaded SAM. The image embedding of the last 4 images is cached (keyed by the pixels'
/// content), so prompts on the same image cost one decoder pass each. Not thread-safe: use
/// it from one thread (the inference worker).
class SamModel {
public:
    /// Throws rc::Error naming the file or tensor at fault (missing, wrong shape, bad config).
    static std::shared_ptr<SamModel> load(const SamLoadParams& params);
    /// A SAM of `config`'s sizes with random weights (LibTorch's default initialisation),
    /// built in memory with no files: benchmarks and tests. `device` as in SamLoadParams.
    static std::shared_ptr<SamModel> random(const SamConfig& config = {},
                                            const std::string& device = "auto", int threads = 0);
    ~SamModel();

    const SamInfo& info() const;

    /// Computes (or finds in the cache) the embedding of a BGR image (gray/BGRA accepted).
    /// Returns the encode time in ms (0 when cached). Throws rc::Error for an empty image.
    double set_image(const cv::Mat& bgr);
    /// Masks for one prompt, best predicted IoU first (3 with multimask, else 1). Encodes the
    /// image first when it is not cached. Throws rc::Error for an empty prompt or image.
    std::vector<SamMask> predict(const cv::Mat& bgr, const SamPrompt& prompt);
    /// Masks for many prompts: consecutive prompts of the same shape (point count, box or
    /// not, multimask) are stacked, up to `batch_size`, into one decoder call. Result i
    /// answers prompts[i]: its best mask of 3 when prompts[i].multimask, else the single one.
    std::vector<SamMask> predict_batch(const cv::Mat& bgr, const std::vector<SamPrompt>& prompts,
                                       int batch_size = 64);
    /// "Segment everything": a point grid batched through the decoder, filtered by predicted
    /// IoU and stability, deduplicated by box NMS. Best first. Throws rc::Error("cancelled").
    std::vector<Proposal> segment_everything(const cv::Mat& bgr, const SamEverythingParams& params);

    /// Number of images whose embedding is cached (at most 4).
    size_t cached_images() const;

    struct Impl;

private:
    SamModel();
    std::unique_ptr<Impl> impl_;
};

/// Writes a SamModel folder (config.json + model.safetensors) with random weights of
/// `config`'s sizes (sam-vit-base's by default), for tests and benchmarks.
void write_random_sam(const std::string& dir, const SamConfig& config = {});

/// A ProposalGenerator over a loaded SAM (segment_everything; ProposalParams' limits apply).
std::unique_ptr<ProposalGenerator> make_sam_generator(std::shared_ptr<SamModel> sam);

}  // namespace rc
