// Question/answer samples on synthetic scenes, phrased exactly as the model card lists them.
// Regions are written in the DualFocus format (../shared/docs/FORMATS.md) so training text
// matches what the DualFocus pipeline sends at inference.
#include <array>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "regionchat/dual_focus_crop.h"
#include "regionchat/synth.h"

namespace rc::synth {

namespace {

// Own distributions over mt19937_64 (std:: ones differ between standard libraries).
class Random {
public:
    explicit Random(uint64_t seed) : engine_(seed) {}
    int uniform_int(int lo, int hi) {  // inclusive
        return lo + static_cast<int>(engine_() % static_cast<uint64_t>(hi - lo + 1));
    }
    int index(size_t n) { return uniform_int(0, static_cast<int>(n) - 1); }
    bool chance(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p; }

private:
    std::mt19937_64 engine_;
};

uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

const char kRegion[] = "<region>";

std::string with_region(std::string question, const std::string& region) {
    const size_t at = question.find(kRegion);
    if (at != std::string::npos) question.replace(at, sizeof(kRegion) - 1, region);
    return question;
}

std::string str(const char* s) {
    return std::string(s);
}

std::string pair_text(Colour c, Shape s) {
    return str(colour_name(c)) + " " + shape_name(s);
}

Turn text_turn(Task task, std::string question, std::string answer, int image) {
    Turn t;
    t.task = task;
    t.question = std::move(question);
    t.answer = std::move(answer);
    t.image = image;
    return t;
}

Turn box_turn(Task task, std::string question, const Box& box, ImageSize size, int image) {
    Turn t = text_turn(task, std::move(question), box_text(box, size), image);
    t.answer_is_box = true;
    t.answer_box = box;
    return t;
}

// One of the three region questions about `object`.
Turn region_turn(Task task, const SceneObject& object, ImageSize size, int image) {
    const std::string region = box_text(object.box, size);
    switch (task) {
        case Task::RegionColour:
            return text_turn(task, with_region("What color is the object in <region>?", region),
                             colour_name(object.colour), image);
        case Task::RegionShape:
            return text_turn(task, with_region("What shape is the object in <region>?", region),
                             shape_name(object.shape), image);
        default:
            return text_turn(Task::RegionDescription,
                             with_region("What is in the region <region>?", region),
                             "a " + pair_text(object.colour, object.shape), image);
    }
}

Sample single(Turn turn) {
    Sample s;
    s.turns.push_back(std::move(turn));
    return s;
}

struct Counts {
    std::array<int, kShapeCount> shape{};
    std::array<int, kColourCount> colour{};
    std::array<std::array<int, kShapeCount>, kColourCount> pair{};

    explicit Counts(const std::vector<SceneObject>& objects) {
        for (const auto& o : objects) {
            ++shape[static_cast<int>(o.shape)];
            ++colour[static_cast<int>(o.colour)];
            ++pair[static_cast<int>(o.colour)][static_cast<int>(o.shape)];
        }
    }
    int of(Colour c, Shape s) const { return pair[static_cast<int>(c)][static_cast<int>(s)]; }
};

// "Is there a ... ?" with the answer decided first, so Yes/No stay balanced. "No" pairs
// are absent from the scene; most share a colour or shape with a present object, so the
// model has to bind colour to shape rather than spot either alone.
std::pair<Colour, Shape> existence_subject(const Scene& scene, const Counts& counts, Random& rng,
                                           bool yes) {
    const auto& objects = scene.objects;
    if (yes) {
        const SceneObject& o = objects[rng.index(objects.size())];
        return {o.colour, o.shape};
    }
    std::vector<std::pair<Colour, Shape>> absent, near;
    for (int ci = 0; ci < kColourCount; ++ci)
        for (int si = 0; si < kShapeCount; ++si) {
            if (counts.pair[ci][si] > 0) continue;
            absent.emplace_back(static_cast<Colour>(ci), static_cast<Shape>(si));
            if (counts.colour[ci] > 0 || counts.shape[si] > 0) near.push_back(absent.back());
        }
    const auto& from = (!near.empty() && rng.chance(0.6)) ? near : absent;
    return from[rng.index(from.size())];
}

Sample existence(const Scene& scene, const Counts& counts, Random& rng) {
    const auto& objects = scene.objects;
    const bool yes = !objects.empty() && rng.chance(0.5);
    const auto [c, s] = existence_subject(scene, counts, rng, yes);
    // A third of them in MME's wording, so MME-style sets work with the embedded model.
    const bool mme_style = splitmix(scene.seed ^ 0xE7157E11CEULL) % 3 == 0;
    return single(text_turn(
        Task::Existence,
        "Is there a " + pair_text(c, s) + " in the image?" + (mme_style ? kYesNoSuffix : ""),
        yes ? "Yes" : "No", 0));
}

// "How many ...s?" mostly about a shape in the scene, sometimes any shape (often 0).
Sample counting(const Scene& scene, const Counts& counts, Random& rng) {
    const auto& objects = scene.objects;
    const Shape s = (!objects.empty() && rng.chance(0.7))
                        ? objects[rng.index(objects.size())].shape
                        : static_cast<Shape>(rng.uniform_int(0, kShapeCount - 1));
    return single(text_turn(Task::Counting, "How many " + str(shape_name(s)) + "s are there?",
                            std::to_string(counts.shape[static_cast<int>(s)]), 0));
}

// Box pass then micro pass about one object named without a region: its shape or colour
// must be unique in the scene for the question to have one answer.
bool add_dual_focus(const Scene& scene, const Counts& counts, Random& rng,
                    std::vector<Sample>& out) {
    struct Candidate {
        std::string question, answer;
        Box box;
    };
    std::vector<Candidate> candidates;
    for (const auto& o : scene.objects) {
        if (counts.shape[static_cast<int>(o.shape)] == 1)
            candidates.push_back({"What color is the " + str(shape_name(o.shape)) + "?",
                                  colour_name(o.colour), o.box});
        if (counts.colour[static_cast<int>(o.colour)] == 1)
            candidates.push_back({"What shape is the " + str(colour_name(o.colour)) + " object?",
                                  shape_name(o.shape), o.box});
    }
    if (candidates.empty()) return false;
    const Candidate& c = candidates[rng.index(candidates.size())];
    Sample s;
    s.turns.push_back(box_turn(Task::DualFocusBox, dual_focus_box_prompt(c.question), c.box,
                               scene_size(scene), 0));
    // Half the micro turns end with the short-answer line the pipeline's choice step scores
    // both candidate answers under, so that score prefers the right one.
    const bool scored = splitmix(scene.seed ^ 0xD0A1F0C5ULL) % 2 == 0;
    s.turns.push_back(text_turn(Task::DualFocusMicro,
                                dual_focus_micro_prompt(c.question) +
                                    (scored ? kDualFocusScoreSuffix : ""),
                                c.answer, 1));
    s.crop = dual_focus_crop(scene.image, c.box);
    out.push_back(std::move(s));
    return true;
}

Task random_region_task(Random& rng) {
    constexpr Task kTasks[] = {Task::RegionDescription, Task::RegionColour, Task::RegionShape};
    return kTasks[rng.uniform_int(0, 2)];
}

}  // namespace

const char kYesNoSuffix[] = " Please answer yes or no.";

std::pair<std::string, std::string> existence_pair(const Scene& scene, uint64_t seed) {
    Random rng(splitmix(seed) ^ 0x3E715EULL);
    const Counts counts(scene.objects);
    std::pair<std::string, std::string> out;
    if (scene.objects.empty()) return out;
    auto [yc, ys] = existence_subject(scene, counts, rng, true);
    auto [nc, ns] = existence_subject(scene, counts, rng, false);
    out.first = "Is there a " + pair_text(yc, ys) + " in the image?" + kYesNoSuffix;
    out.second = "Is there a " + pair_text(nc, ns) + " in the image?" + kYesNoSuffix;
    return out;
}

const char* task_name(Task t) {
    switch (t) {
        case Task::RegionDescription:
            return "region_description";
        case Task::RegionColour:
            return "region_colour";
        case Task::RegionShape:
            return "region_shape";
        case Task::Grounding:
            return "grounding";
        case Task::Existence:
            return "existence";
        case Task::Counting:
            return "counting";
        case Task::DualFocusBox:
            return "dual_focus_box";
        case Task::DualFocusMicro:
            return "dual_focus_micro";
    }
    return "";
}

std::string box_text(const Box& box, ImageSize size) {
    static const std::unique_ptr<RegionFormat> format = make_builtin_region_format("dualfocus");
    return format->encode(box, size);
}

std::vector<Sample> make_samples(const Scene& scene, uint64_t seed) {
    Random rng(splitmix(seed) ^ splitmix(scene.seed + 0x5A3D1E5ULL));
    const auto& objects = scene.objects;
    const ImageSize size = scene_size(scene);
    const Counts counts(objects);
    std::vector<Sample> out;

    if (!objects.empty()) {
        for (Task task : {Task::RegionDescription, Task::RegionColour, Task::RegionShape})
            out.push_back(single(region_turn(task, objects[rng.index(objects.size())], size, 0)));

        std::vector<const SceneObject*> unique;
        for (const auto& o : objects)
            if (counts.of(o.colour, o.shape) == 1) unique.push_back(&o);
        if (!unique.empty()) {
            const SceneObject& o = *unique[rng.index(unique.size())];
            out.push_back(single(box_turn(Task::Grounding,
                                          "Where is the " + pair_text(o.colour, o.shape) + "?",
                                          o.box, size, 0)));
        }
    }

    out.push_back(existence(scene, counts, rng));
    out.push_back(counting(scene, counts, rng));
    add_dual_focus(scene, counts, rng, out);

    if (objects.size() >= 2) {  // one conversation about 2-3 different objects
        std::vector<int> order(objects.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
        for (size_t i = order.size() - 1; i > 0; --i)
            std::swap(order[i], order[rng.uniform_int(0, static_cast<int>(i))]);
        const int turns = std::min<int>(static_cast<int>(objects.size()), rng.uniform_int(2, 3));
        Sample s;
        for (int i = 0; i < turns; ++i) {
            const Task task = random_region_task(rng);
            s.turns.push_back(region_turn(task, objects[order[i]], size, i == 0 ? 0 : -1));
        }
        out.push_back(std::move(s));
    }

    // One more of the scene-level tasks, so they are not outnumbered by region questions.
    if (rng.chance(0.5))
        out.push_back(existence(scene, counts, rng));
    else
        out.push_back(counting(scene, counts, rng));
    return out;
}

}  // namespace rc::synth
