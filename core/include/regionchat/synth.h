// Seeded synthetic scenes (coloured shapes on light backgrounds) and the question/answer
// tasks the embedded model is trained and evaluated on. OpenCV only.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "regionchat/region_format.h"

namespace rc::synth {

enum class Shape { Circle, Square, Triangle, Star };
enum class Colour { Red, Green, Blue, Yellow, Purple, Orange };

constexpr int kShapeCount = 4;
constexpr int kColourCount = 6;

const char* shape_name(Shape s);    ///< "circle", "square", "triangle", "star"
const char* colour_name(Colour c);  ///< "red", "green", ...
/// Nominal RGB of a colour (before jitter).
cv::Vec3b colour_rgb(Colour c);

struct SceneObject {
    Shape shape = Shape::Circle;
    Colour colour = Colour::Red;
    Box box;  ///< tight box of the visible shape, pixels
};

/// Which drawing code renders the scene: the training renderer or an independent one used
/// only for evaluation (different primitives, anti-aliasing and background styles).
enum class Renderer { Train, Alternate };

struct SceneOptions {
    int min_side = 160;
    int max_side = 640;
    int min_objects = 1;
    int max_objects = 6;
    double min_size_fraction = 0.10;  ///< object extent vs the image's short side
    double max_size_fraction = 0.35;
    bool augment = true;  ///< blur, JPEG re-encode, colour noise, AA on/off
    Renderer renderer = Renderer::Train;
};

struct Scene {
    cv::Mat image;  ///< BGR, CV_8UC3
    std::vector<SceneObject> objects;
    uint64_t seed = 0;
};

/// Generates the scene for `seed`; the same seed always gives the same scene.
Scene generate_scene(uint64_t seed, const SceneOptions& options = {});
/// The scene image's width and height.
ImageSize scene_size(const Scene& scene);

/// Task kinds, named as in the model card.
enum class Task {
    RegionDescription,  ///< "What is in the region <region>?" -> "a red circle"
    RegionColour,       ///< "What color is the object in <region>?" -> "red"
    RegionShape,        ///< "What shape is the object in <region>?" -> "circle"
    Grounding,          ///< "Where is the red circle?" -> box
    Existence,          ///< "Is there a red circle in the image?" -> "Yes"/"No"
    Counting,           ///< "How many circles are there?" -> "2"
    DualFocusBox,       ///< box pass -> box of the object the question is about
    DualFocusMicro,     ///< micro pass with the crop -> answer
};
const char* task_name(Task t);

/// One conversation turn. `question` has "<region>" placeholders already filled in the
/// DualFocus format and no "<image>" marker (the engine adds one per attached image).
struct Turn {
    Task task = Task::RegionDescription;
    std::string question;
    std::string answer;  ///< exact expected text (a box answer is in the DualFocus format)
    int image = -1;      ///< image the user message carries: -1 none, 0 scene, 1 crop
    bool answer_is_box = false;
    Box answer_box;  ///< pixels of the scene, when answer_is_box
};

/// A training/eval conversation on one scene: the first turn carries the scene image;
/// later turns ask about other regions (multi-turn) or are the DualFocus micro pass, whose
/// turn carries `crop` (made by dual_focus_crop from the box-pass answer).
struct Sample {
    std::vector<Turn> turns;
    cv::Mat crop;  ///< BGR; empty unless a turn has image == 1
};

/// Makes samples for a scene: each task that applies, with turns formatted exactly as the
/// model card lists. Deterministic in `seed`.
std::vector<Sample> make_samples(const Scene& scene, uint64_t seed);

/// MME-style existence questions for a scene with objects: one whose answer is "Yes" and one
/// whose answer is "No" (an absent colour-shape pair, most often sharing a colour or shape
/// with a present object), both ending in " Please answer yes or no.". Deterministic.
std::pair<std::string, std::string> existence_pair(const Scene& scene, uint64_t seed);

/// The suffix MME puts after its yes/no questions.
extern const char kYesNoSuffix[];

/// A box (pixels of an image of `size`) in the DualFocus text format, e.g.
/// "[0.12, 0.40, 0.55, 0.93]" (what "<region>" is replaced by and box answers look like).
std::string box_text(const Box& box, ImageSize size);

}  // namespace rc::synth
