// The chat-backend seam: "a thing that answers questions about images and regions". The
// local LibTorch engine is one implementation (make_local_backend); a remote
// OpenAI-compatible server is another. Callers pass regions as data and text with
// `<region N>` markers; the backend writes them in its model's region format (or draws them
// on the image as visual prompts), so no caller knows any model's format.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "regionchat/engine.h"
#include "regionchat/geometry.h"

namespace rc {

/// A region the user marked on one of a request's images (the first unless `image` says
/// otherwise), in its pixels.
struct RegionInput {
    int id = 0;                 ///< the N of `<region N>`
    /// Index into ChatRequest::images of the image it is marked on. Only models that read
    /// region tokens (CoLVA) and visual prompts use regions on other images than the first.
    int image = 0;
    Box box;                    ///< always set (a mask's or the points' bounding box)
    std::vector<Point> points;  ///< clicked points, in order (may be empty)
    /// True when `points` is a free-hand stroke (the scribble tool) rather than clicks: a
    /// model that reads point prompts resamples it along the stroke (point_prompt.h).
    bool scribble = false;
    cv::Mat mask;               ///< 8-bit, the image's size, non-zero inside (may be empty)
    /// Colour for visual prompts (BGR, 0-255); negative: a colour chosen by id.
    int colour_b = -1, colour_g = -1, colour_r = -1;
};

/// How regions reach the model.
enum class RegionMode {
    Text,          ///< each `<region N>` becomes the box in the model's region format
    VisualPrompt,  ///< regions drawn on the image (MMVM style), referred to as "region N"
    Points,        ///< each `<region N>` becomes `<points N>[x y] ...</points>` (point_prompt.h)
    /// Each `<region N>` becomes one embedding row computed from region N's mask (its box when
    /// it has none) over its un-annotated image (CoLVA's object tokens); the images are shown
    /// to the model with the referenced regions drawn (or as `shown_images` give them).
    Tokens,
};

struct ChatRequest {
    std::string text;             ///< the question; `<region N>` markers, optional `<image>`
    std::vector<cv::Mat> images;  ///< the first one is the image regions are marked on
    std::vector<RegionInput> regions;
    RegionMode region_mode = RegionMode::Text;
    /// Seed of the points sampled inside masks and boxes for models that read regions as
    /// point prompts (RegionVLM); the same seed gives the same points, hence the same answer.
    uint32_t point_seed = 0;
    /// The images as the model's eyes see them when they are not `images` with the regions
    /// drawn: a benchmark's own drawn frames (MMVM's FRAME00.jpg beside FRAME00_ORI.jpg). Empty:
    /// drawn here (RegionMode::VisualPrompt, Tokens). One per image when set.
    std::vector<cv::Mat> shown_images;
};

/// What a backend can do; the app enables features by it.
struct BackendCapabilities {
    bool vision = true;
    bool region_boxes = true;   ///< `<region N>` with a box
    bool region_points = false; ///< points are used as such (not only their bounding box)
    bool region_masks = false;  ///< masks are used as such (not only their bounding box)
    bool region_point_prompts = false;  ///< regions reach the model as sampled points (seeded)
    bool region_tokens = false;  ///< regions reach the model as rows of their masks (CoLVA)
    bool multi_image_regions = false;  ///< regions may be marked on any image of a request
    bool grounding = true;      ///< answers may contain boxes (parse_boxes finds them)
    bool answer_scoring = true; ///< score() works (DualFocus' perplexity choice)
    bool streaming = true;
};

struct BackendInfo {
    std::string name;         ///< "local: shapes-tiny", "http://host:8000 (model)"
    std::string region_format;  ///< the format regions are written in ("dualfocus", ...)
    BackendCapabilities capabilities;
};

class ChatBackend {
public:
    virtual ~ChatBackend() = default;
    virtual BackendInfo info() const = 0;
    /// A backend of the same model with an empty conversation (DualFocus' fresh passes).
    virtual std::unique_ptr<ChatBackend> fresh() const = 0;

    /// Asks one turn of the conversation (streams through params.on_token, stops when
    /// params.should_abort says so). Throws rc::Error for a bad request (unknown region id,
    /// bad image, too long).
    virtual Reply ask(const ChatRequest& request, const GenerateParams& params) = 0;
    /// Mean negative log-likelihood per token of `answer` as the reply to `request` after the
    /// conversation so far; the conversation does not change. Throws rc::Error when
    /// info().capabilities.answer_scoring is false.
    virtual double score(const ChatRequest& request, const std::string& answer) = 0;
    /// DualFocus' reference scoring (Session::one_turn_nll): `human` as one user turn, every
    /// reply in it and `answer` labelled. Throws rc::Error when scoring is not available.
    virtual double score_one_turn(const std::string& human, const std::vector<cv::Mat>& images,
                                  const std::string& answer) = 0;
    /// Appends `request` and `answer` to the conversation as a finished exchange, generating
    /// nothing (a history written elsewhere: DualFocus' MMBench script carries a box turn the
    /// model did not answer). Throws rc::Error for a bad request.
    virtual void add_exchange(const ChatRequest& request, const std::string& answer) = 0;
    /// Keeps the first `message_count` messages.
    virtual void truncate(size_t message_count) = 0;
    /// Forgets the conversation.
    virtual void reset() = 0;
    /// Number of messages in the conversation.
    virtual size_t message_count() const = 0;

    /// Boxes named in an answer, in pixels of an image of `size` (grounding overlays).
    virtual std::vector<ParsedBox> parse_boxes(const std::string& answer, ImageSize size) const = 0;
    /// The text a model reads for `request` (regions written in its format or as "region N");
    /// for logs, tests and the CLI's --json.
    virtual std::string render_question(const ChatRequest& request) const = 0;
};

/// The local LibTorch engine behind the seam: one conversation (rc::Session) on `model`.
std::unique_ptr<ChatBackend> make_local_backend(std::shared_ptr<Model> model);

/// Writes every `<region N>` of `text` for the model: as `format`'s text for region N's box
/// (mode Text) or as "region N" (mode VisualPrompt). Throws rc::Error naming the id when a
/// region is not in `regions`.
/// Mode Points: region N's points (region_prompt_points with seed point_seed + N). Mode
/// Tokens: "<region_token>" (the engine puts region N's row there).
std::string encode_region_references(const std::string& text,
                                     const std::vector<RegionInput>& regions, ImageSize size,
                                     const RegionFormat& format, RegionMode mode,
                                     uint32_t point_seed = 0);

/// The region each `<region N>` (or plain `<region>`) of `text` refers to, one per reference in
/// text order (repeats repeated): what RegionMode::Tokens puts at each marker. rc::Error as
/// encode_region_references.
std::vector<RegionInput> region_references(const std::string& text,
                                           const std::vector<RegionInput>& regions);

/// The ids of the `<region N>` markers in `text`, in order of first appearance.
std::vector<int> region_reference_ids(const std::string& text);

/// The image with `regions` drawn the MMVM way (../shared/docs/FORMATS.md): each one's
/// contour (its mask's, else its box's) in its colour and its number in white on a filled
/// box of that colour. `image` is BGR; returns a new BGR image.
cv::Mat draw_visual_prompts(const cv::Mat& image, const std::vector<RegionInput>& regions);

/// The request's images as the model sees them: in RegionMode::VisualPrompt and Tokens the
/// regions its text refers to are drawn on the images they are marked on
/// (draw_visual_prompts), or `shown_images` when the request brings them; otherwise as given.
std::vector<cv::Mat> images_with_visual_prompts(const ChatRequest& request);

}  // namespace rc
