// The LLaVA family: Hugging Face `llava` folders (llava-hf, the embedded model) and the original
// LLaVA-1.5 / DualFocus layout (LLaMA at the top, mm_* keys, a separate CLIP folder).
#include "model/llava/llava_family.h"

#include "io/config_reader.h"

#include <fstream>

#include "model/layers.h"
#include "model/llava/llava_config.h"
#include "regionchat/error.h"

namespace rc {

namespace fs = std::filesystem;

int64_t count_parameters(const ModelConfig& c) {
    const int64_t D = c.vision.hidden_size, I = c.vision.intermediate_size;
    const int64_t P = c.vision.patch_size, C = c.vision.num_channels;
    const int64_t side = c.vision.image_size / P;
    int64_t n = D + D * C * P * P + (side * side + 1) * D + 4 * D;  // embeddings, two norms
    n +=
        int64_t(c.vision.num_hidden_layers) * (4 * (D * D + D) + 4 * D + (D * I + I) + (I * D + D));
    const int64_t H = c.text.hidden_size, TI = c.text.intermediate_size, V = c.text.vocab_size;
    const int64_t kv = int64_t(c.text.num_key_value_heads) * (H / c.text.num_attention_heads);
    n += D * H + H;
    if (c.projector_type != "linear") n += H * H + H;
    n += V * H + H;
    n += int64_t(c.text.num_hidden_layers) * (2 * H * H + 2 * H * kv + 3 * H * TI + 2 * H);
    if (!c.text.tie_word_embeddings) n += V * H;
    // Adapters (Pink): d*r + r + r*d + d each, before attention and/or before the MLP.
    auto adapters = [](const AdapterConfig& a, int64_t d) -> int64_t {
        if (a.dim <= 0) return 0;
        return (2 * d * a.dim + a.dim + d) * ((a.attn ? 1 : 0) + (a.mlp ? 1 : 0));
    };
    n += int64_t(c.vision.adapter_layers) * adapters(c.vision.adapter, D);
    n += int64_t(c.text.num_hidden_layers) * adapters(c.text.adapter, H);
    return n;
}

PreprocessOptions llava_preprocess(const ModelConfig& c) {
    PreprocessOptions p;
    p.size = c.vision.image_size;
    p.fit = c.image_aspect == "pad"    ? ImageFit::Pad
            : c.image_aspect == "crop" ? ImageFit::CenterCrop
                                       : ImageFit::Stretch;
    p.bicubic_antialias = c.image_filter == "bicubic";
    p.mean = c.image_mean;
    p.std = c.image_std;
    return p;
}


LlavaNetwork::LlavaNetwork(Llava net, PreprocessOptions preprocess, torch::Device device,
                           torch::Dtype dtype)
    : LlamaBackedNetwork(net.ptr(), net->language_model, device, dtype),
      net_(std::move(net)),
      preprocess_(preprocess) {}

torch::Tensor LlavaNetwork::encode_image(const cv::Mat& bgr) {
    torch::NoGradGuard no_grad;
    auto pixels = preprocess_image(bgr, preprocess_).unsqueeze(0).to(device_, dtype_);
    return net_->encode_images(pixels).squeeze(0);
}

void check_parameter_count(const SafetensorsArchive& archive, const ModelConfig& config,
                           const fs::path& dir) {
    const int64_t expected = count_parameters(config);
    int64_t stored = 0;
    for (const auto& name : archive.names()) stored += archive.find(name)->numel();
    if (expected > stored)
        throw Error("config.json describes " + std::to_string(expected) +
                    " parameters but the checkpoint in '" + dir.string() + "' holds only " +
                    std::to_string(stored));
}

FamilyPlan llava_plan(const ModelConfig& c, std::string layout, std::string description) {
    FamilyPlan plan;
    plan.layout = std::move(layout);
    plan.layout_description = std::move(description);
    plan.parameters = count_parameters(c);
    plan.int8_parameters = llama_linear_parameters(c.text);
    plan.warnings = c.warnings;
    const auto& t = c.text;
    plan.kv_elements = kv_cache_elements(t, t.max_position_embeddings);
    // The fp32 logits and attention scores of a full-context prefill.
    plan.working_elements =
        uint64_t(t.max_position_embeddings) *
        (uint64_t(t.vocab_size) + uint64_t(t.max_position_embeddings) * t.num_attention_heads);
    return plan;
}

fs::path find_tokenizer(const fs::path& dir, const std::string& fallback_dir) {
    std::error_code ec;
    if (fs::exists(dir / "tokenizer.model", ec)) return dir / "tokenizer.model";
    if (!fallback_dir.empty() && fs::exists(fs::path(fallback_dir) / "tokenizer.model", ec))
        return fs::path(fallback_dir) / "tokenizer.model";
    throw Error("model folder '" + dir.string() + "' has no tokenizer.model");
}

std::unique_ptr<LlavaNetwork> load_llava_network(
    const ModelConfig& config, const SafetensorsArchive& archive,
    const std::function<std::vector<std::string>(const std::string&)>& candidates,
    const LoadContext& ctx, const std::string& fp32_modules, uint64_t* bytes_loaded,
    std::vector<std::string>* warnings) {
    Llava net{nullptr};
    {
        torch::NoGradGuard no_grad;
        BuildPlacement place(ctx.device, ctx.dtype);  // layer by layer onto the device
        SkipInit skip;  // no random numbers: load_state overwrites every parameter
        net = build_in_dtype<Llava>(config, ctx.dtype);
        net->to(ctx.device, ctx.dtype);
        if (ctx.dtype != torch::kFloat32 && !fp32_modules.empty())
            for (const auto& item : net->named_modules())
                if (item.key().find(fp32_modules) != std::string::npos)
                    item.value()->to(torch::kFloat32);
        net->eval();
    }
    const uint64_t bytes_total = archive.total_bytes();
    auto report =
        load_state(*net, archive, candidates, [&](size_t done, size_t total, uint64_t bytes) {
            return ctx.progress ? ctx.progress(done, total, bytes, bytes_total) : true;
        });
    for (const auto& u : report.unused)
        if (u.find("position_ids") == std::string::npos &&
            u.find("rotary_emb.inv_freq") == std::string::npos)
            warnings->push_back("checkpoint tensor '" + u + "' is not used");
    *bytes_loaded = report.bytes_loaded;
    return std::make_unique<LlavaNetwork>(net, llava_preprocess(config), ctx.device, ctx.dtype);
}

void load_llava_text_side(const ModelConfig& config, const fs::path& tokenizer, FamilyModel* out) {
    if (!out->tokenizer) out->tokenizer = Tokenizer::load(tokenizer.string());
    out->tokenizer->set_legacy(cfg::tokenizer_legacy(tokenizer.parent_path()));
    if (out->tokenizer->vocab_size() > config.text.vocab_size)
        throw Error(tokenizer.string() + " has " + std::to_string(out->tokenizer->vocab_size()) +
                    " tokens but the model embeds only " + std::to_string(config.text.vocab_size));
    out->chat_template = make_chat_template(config.chat_template);
    if (!out->chat_template) throw Error("unknown chat template '" + config.chat_template + "'");
    out->region_format = make_region_format(config.region_format, config.image_aspect == "pad");
    if (!out->region_format) throw Error("unknown region format '" + config.region_format + "'");
}

namespace {

class LlavaFamily : public ModelFamily {
public:
    Family id() const override { return Family::Llava; }

    int recognise(const FolderProbe& probe) const override {
        if (is_llava_original_config(probe.config)) return 50;
        const auto t = probe.config.find("model_type");
        if (t == probe.config.end()) return 10;  // llava-hf configs may omit it
        return *t == "llava" ? 100 : 0;
    }

    ModelConfig read_config(const FolderProbe& probe) const override {
        return read_llava_config(probe.config, probe.config_file.string());
    }

    FamilyPlan plan(const FolderProbe& probe) const override {
        const ModelConfig c = read_config(probe);
        find_tokenizer(probe.dir);
        check_parameter_count(*open_weights(probe.dir, c), c, probe.dir);
        return llava_plan(c, c.layout, description(c));
    }

    FamilyModel load(const FolderProbe& probe, const LoadContext& ctx) const override {
        FamilyModel m;
        m.config = read_config(probe);
        m.layout = m.config.layout;
        m.layout_description = description(m.config);
        m.warnings = m.config.warnings;
        load_llava_text_side(m.config, find_tokenizer(probe.dir), &m);
        auto archive = open_weights(probe.dir, m.config);
        check_parameter_count(*archive, m.config, probe.dir);
        m.network = load_llava_network(m.config, *archive, llava_key_candidates, ctx, {},
                                       &m.bytes_loaded, &m.warnings);
        return m;
    }

private:
    static std::string description(const ModelConfig& c) {
        return c.layout == kLayoutOriginal ? "original LLaVA (mm_vision_tower)"
                                           : "Hugging Face llava (safetensors)";
    }
    // The checkpoint, plus for the original layout the CLIP tower's own folder.
    static std::unique_ptr<SafetensorsArchive> open_weights(const fs::path& dir,
                                                            const ModelConfig& c) {
        auto archive = SafetensorsArchive::open(dir.string());
        if (c.layout == kLayoutOriginal)
            archive->merge(SafetensorsArchive::open(c.vision_tower_dir), "vision_model.",
                           "vision_tower.");
        return archive;
    }
};

}  // namespace

const ModelFamily& llava_family() {
    static const LlavaFamily family;
    return family;
}

}  // namespace rc
