// The LLaVA family's network behind rc::Network, and the loading steps the families built on
// LLaVA-1.5 (Pink) share.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/family.h"
#include "model/llava/llava.h"
#include "model/tensor_io.h"
#include "regionchat/preprocess.h"
#include "regionchat/safetensors.h"

namespace rc {

/// Parameters a config describes, computed without building the network (so a hostile
/// config cannot make us allocate before the checkpoint is checked against it).
int64_t count_parameters(const ModelConfig& c);

/// LLaVA-1.5's image preprocessing for a config (pad or stretch, filter, size).
PreprocessOptions llava_preprocess(const ModelConfig& c);

/// A Llava module as an rc::Network: one image -> image_tokens() rows, LLaMA with a KV cache.
class LlavaNetwork : public LlamaBackedNetwork {
public:
    LlavaNetwork(Llava net, PreprocessOptions preprocess, torch::Device device,
                 torch::Dtype dtype);
    torch::Tensor encode_image(const cv::Mat& bgr) override;

    Llava& module() { return net_; }
    const PreprocessOptions& preprocess() const { return preprocess_; }

private:
    Llava net_;
    PreprocessOptions preprocess_;
};

/// Checks that the archive holds at least the parameters the config describes.
void check_parameter_count(const SafetensorsArchive& archive, const ModelConfig& config,
                           const std::filesystem::path& dir);

/// The FamilyPlan of a LLaVA-architecture config.
FamilyPlan llava_plan(const ModelConfig& c, std::string layout, std::string description);

/// tokenizer.model of the folder, else of `fallback_dir` (Pink's LLaMA-2 folder).
std::filesystem::path find_tokenizer(const std::filesystem::path& dir,
                                     const std::string& fallback_dir = {});

/// Builds the network in ctx.dtype on ctx.device without random initial values and fills it
/// from `archive` (names through `candidates`). `fp32_modules`: modules whose name contains
/// this text stay fp32 under a 16-bit dtype (Pink's adapters). Unused checkpoint tensors
/// become warnings.
std::unique_ptr<LlavaNetwork> load_llava_network(
    const ModelConfig& config, const SafetensorsArchive& archive,
    const std::function<std::vector<std::string>(const std::string&)>& candidates,
    const LoadContext& ctx, const std::string& fp32_modules, uint64_t* bytes_loaded,
    std::vector<std::string>* warnings);

/// The tokenizer, template and format of a LLaVA-architecture config (checked against it).
void load_llava_text_side(const ModelConfig& config, const std::filesystem::path& tokenizer,
                          FamilyModel* out);

}  // namespace rc
