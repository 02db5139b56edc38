// The local LibTorch engine behind the chat-backend seam, and the region-reference writer
// every backend shares.
#include <cctype>

#include "regionchat/backend.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace rc {

namespace {

struct Reference {
    size_t begin = 0, end = 0;
    int id = 0;  // 0: a plain <region>
};

// Every `<region N>` / `<region>` (spaces inside allowed, any case), in order.
std::vector<Reference> find_references(const std::string& t) {
    std::vector<Reference> refs;
    auto space = [&](size_t i) { return i < t.size() && std::isspace(static_cast<uint8_t>(t[i])); };
    for (size_t at = t.find('<'); at != std::string::npos; at = t.find('<', at + 1)) {
        size_t i = at + 1;
        while (space(i)) ++i;
        static const char kWord[] = "region";
        size_t k = 0;
        while (k < 6 && i + k < t.size() &&
               std::tolower(static_cast<uint8_t>(t[i + k])) == kWord[k])
            ++k;
        if (k < 6) continue;
        i += 6;
        const size_t before_number = i;
        while (space(i)) ++i;
        int id = 0;
        size_t digits = 0;
        while (i < t.size() && std::isdigit(static_cast<uint8_t>(t[i])) && digits < 9) {
            id = id * 10 + (t[i] - '0');
            ++i;
            ++digits;
        }
        if (digits > 0 && i - before_number == digits) continue;  // "<region1>": no space
        while (space(i)) ++i;
        if (i >= t.size() || t[i] != '>') continue;
        refs.push_back({at, i + 1, digits ? id : 0});
        at = i;
    }
    return refs;
}

}  // namespace

std::vector<int> region_reference_ids(const std::string& text) {
    std::vector<int> ids;
    for (const Reference& r : find_references(text))
        if (r.id && std::find(ids.begin(), ids.end(), r.id) == ids.end()) ids.push_back(r.id);
    return ids;
}

std::string encode_region_references(const std::string& text,
                                     const std::vector<RegionInput>& regions, ImageSize size,
                                     const RegionFormat& format, RegionMode mode) {
    std::string out;
    size_t pos = 0, next_plain = 0;
    for (const Reference& ref : find_references(text)) {
        const RegionInput* region = nullptr;
        if (ref.id) {
            for (const RegionInput& r : regions)
                if (r.id == ref.id) region = &r;
            if (!region) throw Error("there is no region " + std::to_string(ref.id));
        } else {
            if (next_plain >= regions.size())
                throw Error("the question has more <region> references than regions");
            region = &regions[next_plain++];
        }
        out.append(text, pos, ref.begin - pos);
        out += mode == RegionMode::VisualPrompt ? "region " + std::to_string(region->id)
                                                : format.encode(region->box.normalized(), size);
        pos = ref.end;
    }
    out.append(text, pos, std::string::npos);
    return out;
}

namespace {

class LocalBackend : public ChatBackend {
public:
    explicit LocalBackend(std::shared_ptr<Model> model)
        : model_(std::move(model)), session_(model_) {}

    BackendInfo info() const override {
        BackendInfo i;
        i.name = "local: " + model_->info().dir;
        i.region_format = model_->region_format().name();
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
                                        model_->region_format(), request.region_mode);
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

    std::string prepare(const ChatRequest& request, std::vector<cv::Mat>* images) const {
        *images = request.images;
        if (request.region_mode == RegionMode::VisualPrompt && !request.regions.empty()) {
            if (images->empty()) throw Error("visual prompts need an image");
            std::vector<RegionInput> used;
            for (int id : region_reference_ids(request.text))
                for (const RegionInput& r : request.regions)
                    if (r.id == id) used.push_back(r);
            if (!used.empty()) (*images)[0] = draw_visual_prompts(to_bgr8((*images)[0]), used);
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
