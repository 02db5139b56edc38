// The local LibTorch engine behind the chat-backend seam.
#include "regionchat/backend.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

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
        return i;
    }

    std::unique_ptr<ChatBackend> fresh() const override {
        return std::make_unique<LocalBackend>(model_);
    }

    Reply ask(const ChatRequest& request, const GenerateParams& params) override {
        std::vector<cv::Mat> images;
        const std::string text = prepare(request, &images);
        return session_.ask(text, images, params);
    }

    double score(const ChatRequest& request, const std::string& answer) override {
        std::vector<cv::Mat> images;
        const std::string text = prepare(request, &images);
        return session_.answer_nll(text, images, answer);
    }

    double score_one_turn(const std::string& human, const std::vector<cv::Mat>& images,
                          const std::string& answer) override {
        return session_.one_turn_nll(human, images, answer);
    }

    void add_exchange(const ChatRequest& request, const std::string& answer) override {
        std::vector<cv::Mat> images;
        const std::string text = prepare(request, &images);
        session_.add_exchange(text, images, answer);
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
    // that reads points (RegionVLM) gets points.
    RegionMode mode(const ChatRequest& request) const {
        if (model_->info().reads_region_points) return RegionMode::Points;
        return model_->info().reads_region_text ? request.region_mode : RegionMode::VisualPrompt;
    }

    std::string prepare(const ChatRequest& request, std::vector<cv::Mat>* images) const {
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
