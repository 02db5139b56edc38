// The local LibTorch engine behind the chat-backend seam.
#include "regionchat/backend.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

#include <cmath>

namespace rc {

namespace {

class LocalBackend : public ChatBackend {
public:
    explicit LocalBackend(std::shared_ptr<Model> model)
        : model_(std::move(model)), session_(model_) {}

    BackendInfo info() const override {
        BackendInfo i;
        i.name = "local: " + model_->info().dir;
        i.region_format = model_->region_format().name();
        if (model_->info().reads_region_points) {
            i.region_format = "points";
            i.capabilities.region_points = true;
            i.capabilities.region_masks = true;
            i.capabilities.region_point_prompts = true;
            i.capabilities.grounding = false;
        }
        if (model_->info().reads_region_tokens) {
            i.capabilities.region_masks = true;
            i.capabilities.region_tokens = true;
            i.capabilities.multi_image_regions = true;
        }
        return i;
    }

    std::unique_ptr<ChatBackend> fresh() const override {
        return std::make_unique<LocalBackend>(model_);
    }

    Reply ask(const ChatRequest& request, const GenerateParams& params) override {
        std::vector<cv::Mat> images;
        std::vector<RegionToken> tokens;
        const std::string text = prepare(request, &images, &tokens);
        return session_.ask(text, images, params, tokens);
    }

    double score(const ChatRequest& request, const std::string& answer) override {
        std::vector<cv::Mat> images;
        std::vector<RegionToken> tokens;
        const std::string text = prepare(request, &images, &tokens);
        return session_.answer_nll(text, images, answer, tokens);
    }

    double score_one_turn(const std::string& human, const std::vector<cv::Mat>& images,
                          const std::string& answer) override {
        return session_.one_turn_nll(human, images, answer);
    }

    void add_exchange(const ChatRequest& request, const std::string& answer) override {
        std::vector<cv::Mat> images;
        std::vector<RegionToken> tokens;
        const std::string text = prepare(request, &images, &tokens);
        session_.add_exchange(text, images, answer, tokens);
    }

    void truncate(size_t message_count) override { session_.truncate(message_count); }
    void reset() override { session_.reset(); }
    size_t message_count() const override { return session_.messages().size(); }

    std::vector<ParsedBox> parse_boxes(const std::string& answer, ImageSize size) const override {
        return model_->region_format().parse(answer, size);
    }

    std::string render_question(const ChatRequest& request) const override {
        return encode_region_references(request.text, request.regions, region_frame(request),
                                        model_->region_format(), mode(request), request.point_seed);
    }

private:
    // Regions are marked on the conversation's first image (this request's first when it
    // starts the conversation).
    ImageSize region_frame(const ChatRequest& request) const {
        const ImageSize first = session_.first_image_size();
        if (first.width > 0) return first;
        if (!request.images.empty())
            return ImageSize{request.images.front().cols, request.images.front().rows};
        return {};
    }

    // A model that reads no region coordinates (ParGo) gets its regions drawn on the image; one
    // that reads points (RegionVLM) gets points; one that reads region tokens (CoLVA) gets
    // them, with the regions drawn on its images as CoLVA was trained.
    RegionMode mode(const ChatRequest& request) const {
        if (model_->info().reads_region_points) return RegionMode::Points;
        if (model_->info().reads_region_tokens) return RegionMode::Tokens;
        return model_->info().reads_region_text ? request.region_mode : RegionMode::VisualPrompt;
    }

    std::string prepare(const ChatRequest& request, std::vector<cv::Mat>* images,
                        std::vector<RegionToken>* tokens) const {
        if (mode(request) == RegionMode::Tokens) {
            // One row per reference, in text order: the region's mask (its box filled when it
            // has none) over its image as given (un-annotated).
            for (const RegionInput& r : region_references(request.text, request.regions)) {
                if (r.image < 0 || r.image >= int(request.images.size()))
                    throw Error("region " + std::to_string(r.id) + " is marked on image " +
                                std::to_string(r.image + 1) + " but the request has " +
                                std::to_string(request.images.size()));
                const cv::Mat img = to_bgr8(request.images[size_t(r.image)]);
                cv::Mat mask;
                if (!r.mask.empty() && r.mask.size() == img.size()) {
                    mask = r.mask.type() == CV_8UC1 ? r.mask : cv::Mat();
                    if (mask.empty()) r.mask.convertTo(mask, CV_8U);
                } else {
                    mask = cv::Mat(img.size(), CV_8UC1, cv::Scalar(0));
                    const Box b = r.box.normalized();
                    const cv::Rect box = cv::Rect(cv::Point(int(std::floor(b.x0)), int(std::floor(b.y0))),
                                                  cv::Point(int(std::ceil(b.x1)), int(std::ceil(b.y1)))) &
                                         cv::Rect(0, 0, img.cols, img.rows);
                    if (box.area() > 0) mask(box).setTo(255);
                }
                tokens->push_back({img, mask});
            }
        }
        if (mode(request) != request.region_mode) {
            ChatRequest drawn = request;
            drawn.region_mode = mode(request);
            *images = images_with_visual_prompts(drawn);
        } else {
            *images = images_with_visual_prompts(request);
        }
        return render_question(request);
    }

    std::shared_ptr<Model> model_;
    Session session_;
};

}  // namespace

std::unique_ptr<ChatBackend> make_local_backend(std::shared_ptr<Model> model) {
    if (!model) throw Error("no model is loaded");
    return std::make_unique<LocalBackend>(std::move(model));
}

}  // namespace rc
