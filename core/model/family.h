// The model-family registry (in the spirit of llama.cpp's llm_arch table). Each family lives
// in core/model/<family>/ and registers one entry in registry.cpp; the entry recognises its
// folder, parses its config, builds its network, maps checkpoint keys and picks its
// tokenizer, chat template, region format and image preprocessing. Nothing outside a
// family's folder and its registry line names the family.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/layers.h"
#include "model/names.h"
#include "model/tensor_io.h"
#include "model/network.h"
#include "regionchat/chat_template.h"
#include "regionchat/config.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/region_format.h"
#include "regionchat/tokenizer.h"

namespace rc {

/// A model folder as the registry first sees it: its config.json parsed (no weights read).
struct FolderProbe {
    std::filesystem::path dir;
    std::filesystem::path config_file;
    nlohmann::json config;  ///< an object (the registry refuses anything else)
};

/// What a family's plan tells the engine, from the config and weight headers only.
struct FamilyPlan {
    std::string layout, layout_description;
    int64_t parameters = 0;
    /// KV-cache elements of the whole context (2 x layers x positions x kv heads x head size).
    uint64_t kv_elements = 0;
    /// Largest fp32 working tensors of a full-context prefill, in elements.
    uint64_t working_elements = 0;
    /// Parameters kept in int8 at `--dtype int8` (0: the family has no int8 weights).
    int64_t int8_parameters = 0;
    std::vector<std::string> warnings;
};

struct LoadContext {
    torch::Device device{torch::kCPU};
    torch::Dtype dtype = torch::kFloat32;
    /// After each tensor: (done, total, bytes done, bytes total); false cancels.
    std::function<bool(size_t, size_t, uint64_t, uint64_t)> progress;
};

/// Everything a loaded model is made of.
struct FamilyModel {
    ModelConfig config;  ///< LLaVA-architecture families; others keep theirs in the network
    std::string layout, layout_description;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<ChatTemplate> chat_template;
    std::unique_ptr<RegionFormat> region_format;
    std::unique_ptr<Network> network;
    uint64_t bytes_loaded = 0;
    std::vector<std::string> warnings;
    /// Beam search's length_offset when a request leaves it to the model (BeamParams -1): 1 for
    /// ParGo, whose reference counts the BOS transformers starts input_ids with.
    int beam_length_offset = 0;
    /// ModelInfo::reads_region_text and ::template_asks_yes_no.
    bool reads_region_text = true;
    bool reads_region_points = false;  ///< ModelInfo::reads_region_points
    bool reads_region_tokens = false;  ///< ModelInfo::reads_region_tokens
    bool template_asks_yes_no = false;
    std::string answer_after, answer_before;  ///< ModelInfo's
    int default_beams = 1;                    ///< ModelInfo's
    double default_length_penalty = 1.0;      ///< ModelInfo's
};

class ModelFamily {
public:
    virtual ~ModelFamily() = default;
    virtual Family id() const = 0;
    /// How surely `probe` is this family's folder: 0 = not ours; the highest score wins.
    virtual int recognise(const FolderProbe& probe) const = 0;
    /// Reads the config (and the folders it names) into the LLaVA-architecture config;
    /// rc::Error naming the key at fault.
    virtual ModelConfig read_config(const FolderProbe& probe) const = 0;
    /// Checks the folder against its config and weight headers and sizes it; loads nothing.
    virtual FamilyPlan plan(const FolderProbe& probe) const = 0;
    /// Loads the model.
    virtual FamilyModel load(const FolderProbe& probe, const LoadContext& ctx) const = 0;
    /// Region formats and chat templates this family brings, by name (nullptr: not one).
    virtual std::unique_ptr<RegionFormat> region_format(const std::string& name,
                                                        bool pad_to_square) const {
        return nullptr;
    }
    virtual std::unique_ptr<ChatTemplate> chat_template(const std::string& name,
                                                        const std::string& system) const {
        return nullptr;
    }
    /// Names of those, for config validation and messages.
    virtual std::vector<std::string> region_format_names() const { return {}; }
    virtual std::vector<std::string> chat_template_names() const { return {}; }
};

/// Builds a family's network with its parameters uninitialised in ctx.dtype (SkipInit), fills
/// each parameter by name with `fill` (which throws naming what is missing), reports progress
/// (`bytes_done()` of `total_bytes`; rc::Error "loading cancelled" when it says stop) and moves
/// the network to the device. The load loop every family shares. Module by module, as
/// load_state: a linear layer marked int8_after_load (`--dtype int8`, CPU) is quantised as soon
/// as its own parameters are in, so the float copy of the language model never exists whole.
template <class Net, class Config, class Fill, class BytesDone>
Net build_and_fill(const Config& config, const LoadContext& ctx, uint64_t total_bytes, Fill fill,
                   BytesDone bytes_done) {
    Net net{nullptr};
    torch::NoGradGuard no_grad;
    {
        SkipInit skip;
        net = build_in_dtype<Net>(config, ctx.dtype);
        net->eval();
    }
    const size_t total = net->named_parameters().size();
    size_t done = 0;
    bool quantised = false;
    for (const auto& sub : net->named_modules("", /*include_self=*/true)) {
        for (auto& item : sub.value()->named_parameters(/*recurse=*/false)) {
            fill(sub.key().empty() ? item.key() : sub.key() + "." + item.key(), item.value());
            ++done;
            if (ctx.progress && !ctx.progress(done, total, bytes_done(), total_bytes))
                throw Error("loading cancelled");
        }
        if (auto* lin = sub.value()->template as<LinearImpl>(); lin && lin->int8_after_load) {
            lin->quantize_int8();
            quantised = true;
        }
    }
    // Built in ctx.dtype already; int8 layers (CPU only) must not be cast back to floats.
    if (!quantised) net->to(ctx.device, ctx.dtype);
    return net;
}

/// Every registered family, in registry order.
const std::vector<const ModelFamily*>& model_families();
/// The family of a folder; rc::Error saying what was looked at when none recognises it.
const ModelFamily& family_for(const FolderProbe& probe);
/// Reads `<dir>/config.json` (or a .json path) into a probe; rc::Error for a missing, huge
/// or malformed file.
FolderProbe probe_folder(const std::string& dir_or_file);

// Families (each defined in its folder).
const ModelFamily& llava_family();
const ModelFamily& pink_family();
const ModelFamily& pargo_family();
const ModelFamily& regionvlm_family();
const ModelFamily& colva_family();

}  // namespace rc
