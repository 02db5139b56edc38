// The runtime's public API (torch-free, so ui/ headers may include it): load a model, hold
// a conversation about images with streaming, cancellation and KV-cache reuse across turns.
//
//   auto model = rc::Model::load({"/path/to/model"});
//   rc::Session session(model);
//   rc::GenerateParams gp; gp.on_token = [](const std::string& piece) { std::cout << piece; };
//   rc::Reply r = session.ask("What is in the region [0.10, 0.20, 0.50, 0.60]?", {image}, gp);
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "regionchat/chat_template.h"
#include "regionchat/config.h"
#include "regionchat/beam_search.h"
#include "regionchat/region_format.h"
#include "regionchat/sampler.h"

namespace rc {

class Tokenizer;

struct LoadProgress {
    size_t tensors_done = 0;
    size_t tensors_total = 0;
    uint64_t bytes_done = 0;
    uint64_t bytes_total = 0;
};

/// Where a model runs.
enum class DeviceKind { Auto, Cpu, Cuda };

/// A device: Auto (CUDA when available), Cpu, or Cuda with an index. Built from text
/// ("auto", "cpu", "cuda", "cuda:1") for command lines and settings.
struct Device {
    DeviceKind kind = DeviceKind::Auto;
    int index = 0;  ///< Cuda only

    Device() = default;
    Device(DeviceKind k, int i = 0) : kind(k), index(i) {}
    /// Parses "auto", "cpu", "cuda", "cuda:N"; throws rc::Error for anything else.
    Device(const std::string& text);
    Device(const char* text) : Device(std::string(text)) {}
    bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
    bool operator!=(const Device& o) const { return !(*this == o); }
};
/// "auto", "cpu", "cuda:N".
std::string to_string(const Device& d);

/// Precision of the weights and activations. Int8: the language model's linear layers keep
/// int8 weights with a scale per output row, everything else (and every activation) is fp32;
/// CPU only.
enum class Precision { Auto, F32, F16, BF16, Int8 };
/// Parses "auto", "fp32"/"float32", "fp16"/"float16", "bf16"/"bfloat16", "int8"; throws
/// rc::Error.
Precision parse_precision(const std::string& text);
/// "auto", "fp32", "fp16", "bf16", "int8".
std::string to_string(Precision p);

/// The model families the runtime knows (core/model/<family>/, one registry line each).
enum class Family { Llava, Pink, ParGo, RegionVlm, CoLva };
/// The family's short name ("llava", "pink", "pargo", "regionvlm", "colva").
std::string to_string(Family f);

/// Why generation stopped.
enum class StopReason { Eos, Length, Abort };
/// "eos", "length", "abort".
std::string to_string(StopReason r);

struct LoadParams {
    std::string model_dir;  ///< folder with config.json, weights, tokenizer
    Device device;          ///< Auto: CUDA when available
    Precision dtype = Precision::Auto;  ///< Auto: fp16 on CUDA, fp32 on CPU
    int threads = 0;  ///< CPU threads for LibTorch; 0 keeps its default
    /// Called after each tensor; return false to cancel (load() then throws "loading cancelled").
    std::function<bool(const LoadProgress&)> progress;
};

struct ModelInfo {
    std::string dir;
    Family family = Family::Llava;
    std::string layout;              ///< the family's layout id ("hf-llava", ...), for logs and tests
    std::string layout_description;  ///< readable, for the model manager
    Device device;                   ///< resolved: Cpu or Cuda:N
    Precision dtype = Precision::F32;  ///< resolved
    int64_t parameters = 0;
    uint64_t weight_bytes = 0;         ///< what the weights take in memory
    uint64_t decode_weight_bytes = 0;  ///< what one decode step reads of them (bandwidth bound)
    double load_ms = 0;
    std::vector<std::string> warnings;  ///< config keys ignored, unused tensors
    /// False for a family that reads no coordinates in text (ParGo): its region questions are
    /// asked with the regions drawn on the image (RegionMode::VisualPrompt) whatever mode the
    /// request asks for.
    bool reads_region_text = true;
    /// True for a family that reads each region as points inside it (RegionVLM's Q-Former
    /// text "[12 34] [56 7] ..."): `<region N>` becomes `<points N>...</points>` for it
    /// (point_prompt.h), from the region's mask, box, clicks or scribble.
    bool reads_region_points = false;
    /// True for a family that reads each region as one embedding row computed from its mask
    /// over the un-annotated image (CoLVA's object tokens at <VPT_CONTEXT>): `<region N>`
    /// becomes a "<region_token>" marker for it and the images are shown with the regions
    /// drawn (RegionMode::Tokens).
    bool reads_region_tokens = false;
    /// True when the family's prompt asks for a one-word answer itself (ParGo's template's
    /// "Answer the question using a single word(Yes or No)"): MME questions then drop their
    /// own "Please answer yes or no.", as the family's published data does.
    bool template_asks_yes_no = false;
    /// The family's clean-up of a benchmark answer (ParGo's eval script): keep what follows the
    /// last `answer_after` ("[/INST]"), then cut at the first `answer_before` ("###"), then trim.
    /// Empty: not applied.
    std::string answer_after, answer_before;
    /// The decoding the family's papers publish, used when a request leaves it to the model
    /// (GenerateParams::beams.num_beams 0): 1 = greedy.
    int default_beams = 1;
    double default_length_penalty = 1.0;
};

/// What loading a model folder would take, worked out from config.json and the weight
/// files' headers without loading anything (the app's model manager shows it).
struct ModelPlan {
    std::string dir;
    Family family = Family::Llava;
    std::string layout;
    std::string layout_description;
    Device device;                     ///< resolved
    Precision dtype = Precision::F32;  ///< resolved
    int64_t parameters = 0;
    uint64_t weight_bytes = 0;  ///< parameters in `dtype`
    uint64_t bytes_needed = 0;  ///< weights + KV cache for the whole context + working memory
    uint64_t bytes_free = 0;    ///< free memory on the device; 0 = unknown
    bool fits = true;           ///< false only when bytes_free is known and too small
    std::string message;        ///< why it does not fit (empty when it fits)
    std::vector<std::string> warnings;

    /// Sets bytes_free and recomputes fits and message.
    void set_free(uint64_t bytes);
};

/// Plans loading `params.model_dir` on `params.device` in `params.dtype`. Throws rc::Error
/// naming the file at fault when the folder is not a loadable model.
ModelPlan plan_model(const LoadParams& params);

/// A loaded model of any family: weights on a device plus tokenizer, chat template and
/// region format.
/// Immutable after load; share it between sessions of one thread at a time.
class Model {
public:
    /// Loads a model folder. Throws rc::Error with a message naming the file at fault.
    static std::shared_ptr<Model> load(const LoadParams& params);
    ~Model();

    const ModelInfo& info() const;
    /// The LLaVA-architecture config (families llava and pink).
    const ModelConfig& config() const;
    const Tokenizer& tokenizer() const;
    const ChatTemplate& chat_template() const;
    const RegionFormat& region_format() const;

    struct Impl;

private:
    friend struct ModelAccess;  // the engine's own files (engine/model_impl.h)
    Model();
    std::unique_ptr<Impl> impl_;
};

struct GenerateParams {
    int max_new_tokens = 128;
    /// The end-of-sequence token is not taken before this many new tokens (greedy and
    /// sampling; benchmarks use it for a fixed length, as transformers' min_new_tokens).
    int min_new_tokens = 0;
    SamplerParams sampling;  ///< temperature 0: greedy (the published DualFocus setting)
    /// Beam search when beams.num_beams > 1 (ParGo's and RegionVLM's published setting); its
    /// max_new_tokens is this struct's. Beam search holds one decoder state per beam. The
    /// answer is known only at the end: on_token gets it whole then, and on_beam_step reports
    /// each step (steps done, the most allowed, the best beam's text so far).
    /// num_beams 0: the model's published setting (ModelInfo::default_beams and
    /// default_length_penalty: greedy for most families, 5 beams for RegionVLM).
    BeamParams beams{0};
    std::function<void(int step, int max_steps, const std::string& best_so_far)> on_beam_step;
    /// Called with each new piece of answer text (whole UTF-8 characters only).
    std::function<void(const std::string& piece)> on_token;
    /// Polled before every token (and between prefill chunks); true stops generation.
    std::function<bool()> should_abort;
};

struct Timings {
    double image_encode_ms = 0;  ///< vision tower + projector for images not cached
    double prefill_ms = 0;       ///< the prompt tokens not already in the KV cache
    double first_token_ms = 0;   ///< from ask() until the first answer token
    double total_ms = 0;
    int prompt_tokens = 0;  ///< length of the whole conversation prompt
    int reused_tokens = 0;  ///< of those, kept from the KV cache
    int generated_tokens = 0;
    double tokens_per_s = 0;  ///< decode rate after the first token
};

struct Reply {
    std::string text;
    std::vector<ParsedBox> boxes;  ///< boxes in the answer (pixels of the first image)
    StopReason stop_reason = StopReason::Length;
    Timings timings;
};

/// One region read as one embedding row (ModelInfo::reads_region_tokens): its mask over the
/// image it was marked on, without drawings. The k-th "<region_token>" marker of a question
/// takes the k-th.
struct RegionToken {
    cv::Mat image;  ///< 8-bit BGR (or gray/BGRA), the original image
    cv::Mat mask;   ///< 8-bit, the image's size, non-zero inside
};

/// One conversation. Each ask() renders the whole conversation with the chat template,
/// reuses the KV cache up to the first token that differs, and reuses cached image features.
class Session {
public:
    explicit Session(std::shared_ptr<Model> model);
    ~Session();

    /// Asks a question. `images` are attached to this message: the text's "<image>" markers
    /// take them in order; with no markers, "<image>\n" is put in front once per image.
    /// `regions` fill the text's "<region_token>" markers in order (models that read region
    /// tokens; rc::Error for others or when the counts differ).
    /// Throws rc::Error for a bad image or a conversation longer than the model's context.
    Reply ask(const std::string& text, const std::vector<cv::Mat>& images,
              const GenerateParams& params = {}, const std::vector<RegionToken>& regions = {});
    /// Mean negative log-likelihood per token of `answer` as the assistant's reply to `text`
    /// (with `images`), after the conversation so far. Does not change the conversation.
    double answer_nll(const std::string& text, const std::vector<cv::Mat>& images,
                      const std::string& answer, const std::vector<RegionToken>& regions = {});
    /// Mean NLL of `human` as ONE user turn (it may itself hold rendered turns: "... ASSISTANT:
    /// x</s>USER: ...") followed by `answer`, labelled as LLaVA's supervised preprocess
    /// (train.py preprocess_v1) labels it: the conversation is split at "</s>" into rounds and
    /// each round at " ASSISTANT: ", everything after the separator is labelled (every reply
    /// inside `human` too, each with its "</s>"); tokens as tokenizer_image_token makes them
    /// ("</s>" in the text is the EOS token). `images` fill the "<image>" markers in order.
    /// DualFocus' reference scoring; for templates with a "USER: ... ASSISTANT:" layout
    /// (vicuna_v1). Independent of the conversation so far; the KV cache keeps what it shares.
    double one_turn_nll(const std::string& human, const std::vector<cv::Mat>& images,
                        const std::string& answer);
    /// The token ids one_turn_nll scores (-200 where an image goes, as LLaVA writes them) and
    /// which of them are labelled. Throws rc::Error when the text does not split into rounds
    /// the way LLaVA's preprocess expects (it would mask everything).
    struct LabelledTokens {
        std::vector<int64_t> ids;
        std::vector<uint8_t> labelled;
    };
    LabelledTokens label_one_turn(const std::string& human, const std::string& answer) const;
    /// Appends a finished exchange without generating: `text` (with `images`, as ask() takes
    /// them) and `answer` as the assistant's reply, e.g. a history another run wrote. Nothing
    /// is computed until the next ask(). Throws rc::Error for a bad image.
    void add_exchange(const std::string& text, const std::vector<cv::Mat>& images,
                      const std::string& answer, const std::vector<RegionToken>& regions = {});
    /// Forgets the conversation (keeps cached image features).
    void reset();
    /// Forgets the KV cache but not the conversation: the next call recomputes the prompt.
    void drop_cache();
    /// Keeps the first `message_count` messages (and their images); the KV cache keeps the
    /// shared prefix, so going back a turn costs nothing to recompute.
    void truncate(size_t message_count);

    const std::vector<ChatMessage>& messages() const;
    /// Size of the first image in the conversation (for region formats); {0,0} if none.
    ImageSize first_image_size() const;
    /// Positions currently held in the KV cache.
    int64_t cached_tokens() const;
    /// The token at each position the KV cache holds, -1 where an image's rows stand: after
    /// ask(), the prompt (its first Reply::timings.prompt_tokens) and the answer tokens fed
    /// back (all but the last). For checking a prompt token for token against other code.
    std::vector<int64_t> cached_ids() const;
    Model& model();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Sets LibTorch's CPU thread count (n > 0).
void set_cpu_threads(int n);

/// The LibTorch the program runs on, for --version: "LibTorch 1.13.1, CPU (1 thread)" (its
/// intra-op threads; the BLAS under it keeps threads of its own), or
/// with ", CUDA: 1 device" / ", CUDA built in, no device".
std::string runtime_description();

/// Copy bandwidth of `device` in GB/s (bytes read + written per second), median of 5 copies
/// of a 1 GiB (CUDA) or 256 MiB (CPU) buffer: the bound a memory-bound decode step is held to.
double copy_bandwidth_gbs(const Device& device);

/// Length of the longest prefix of `s` that ends on a whole UTF-8 character.
size_t utf8_complete_prefix(const std::string& s);

}  // namespace rc
