#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/model_impl.h"
#include "model/layers.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"

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
    // Pink's adapters: d*r + r + r*d + d each, before attention and/or before the MLP.
    auto adapters = [](const AdapterConfig& a, int64_t d) -> int64_t {
        if (a.dim <= 0) return 0;
        return (2 * d * a.dim + a.dim + d) * ((a.attn ? 1 : 0) + (a.mlp ? 1 : 0));
    };
    n += int64_t(c.vision.adapter_layers) * adapters(c.vision.adapter, D);
    n += int64_t(c.text.num_hidden_layers) * adapters(c.text.adapter, H);
    return n;
}

torch::Device resolve_device(const std::string& name) {
    if (name.empty() || name == "auto")
        return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                           : torch::Device(torch::kCPU);
    if (name == "cpu") return torch::Device(torch::kCPU);
    if (name.rfind("cuda", 0) == 0) {
        if (!torch::cuda::is_available())
            throw Error("device '" + name +
                        "' asked for, but this LibTorch build has no CUDA or "
                        "no GPU is visible; use --device cpu");
        int index = 0;
        if (name.size() > 5 && name[4] == ':') {
            try {
                index = std::stoi(name.substr(5));
            } catch (...) {
                throw Error("bad device '" + name + "'");
            }
        }
        if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
            throw Error("no CUDA device " + std::to_string(index));
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw Error("unknown device '" + name + "' (use auto, cpu, cuda or cuda:N)");
}

torch::Dtype resolve_dtype(const std::string& name, const torch::Device& device) {
    if (name.empty() || name == "auto") return device.is_cuda() ? torch::kFloat16 : torch::kFloat32;
    if (name == "fp32" || name == "float32") return torch::kFloat32;
    if (name == "fp16" || name == "float16") {
        if (!device.is_cuda())
            throw Error("fp16 runs on CUDA only (LibTorch's CPU kernels lack half-precision "
                        "convolution); use bf16 or fp32 on the CPU");
        return torch::kFloat16;
    }
    if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
    throw Error("unknown dtype '" + name + "' (use auto, fp32, fp16 or bf16)");
}

std::string dtype_label(torch::Dtype t) {
    if (t == torch::kFloat16) return "fp16";
    if (t == torch::kBFloat16) return "bf16";
    return "fp32";
}

torch::Tensor Model::Impl::encode_image(const cv::Mat& bgr) {
    torch::NoGradGuard no_grad;
    auto pixels = preprocess_image(bgr, preprocess).unsqueeze(0).to(device, dtype);
    return net->encode_images(pixels).squeeze(0);
}

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() = default;

const ModelInfo& Model::info() const {
    return impl_->info;
}
const ModelConfig& Model::config() const {
    return impl_->config;
}
const Tokenizer& Model::tokenizer() const {
    return *impl_->tokenizer;
}
const ChatTemplate& Model::chat_template() const {
    return *impl_->chat_template;
}
const RegionFormat& Model::region_format() const {
    return *impl_->region_format;
}

namespace {

void check_model_folder(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw Error("model folder '" + dir.string() + "' does not exist");
    if (!fs::exists(dir / "config.json", ec))
        throw Error("'" + dir.string() + "' is not a model folder: it has no config.json");
}

// tokenizer.model of the folder; Pink may leave it in the LLaMA-2 folder it builds on.
fs::path tokenizer_path(const fs::path& dir, const ModelConfig& config) {
    std::error_code ec;
    if (fs::exists(dir / "tokenizer.model", ec)) return dir / "tokenizer.model";
    if (!config.llama_dir.empty() && fs::exists(fs::path(config.llama_dir) / "tokenizer.model", ec))
        return fs::path(config.llama_dir) / "tokenizer.model";
    throw Error("model folder '" + dir.string() + "' has no tokenizer.model");
}

// The checkpoint (plus, for the original LLaVA layout, the CLIP tower's own folder; for Pink,
// saved_parameters.pth over the LLaMA-2 weights and the CLIP folder), checked against the
// config before anything is built from the config.
std::unique_ptr<SafetensorsArchive> open_weights(const fs::path& dir, const ModelConfig& config) {
    std::unique_ptr<SafetensorsArchive> archive;
    if (config.layout == "pink") {
        const fs::path saved = dir / "saved_parameters.pth";
        std::error_code ec;
        if (!fs::is_regular_file(saved, ec))
            throw Error("Pink folder '" + dir.string() +
                        "' has no saved_parameters.pth (its adapters, projector and embeddings)");
        archive = SafetensorsArchive::open(config.llama_dir);
        archive->overlay(SafetensorsArchive::open(saved.string()));
    } else {
        archive = SafetensorsArchive::open(dir.string());
    }
    if (config.layout == "llava-original" || config.layout == "pink")
        archive->merge(SafetensorsArchive::open(config.vision_tower_dir), "vision_model.",
                       "vision_tower.");
    const int64_t expected = count_parameters(config);
    int64_t stored = 0;
    for (const auto& name : archive->names()) stored += archive->find(name)->numel();
    if (expected > stored)
        throw Error("config.json describes " + std::to_string(expected) +
                    " parameters but the checkpoint in '" + dir.string() + "' holds only " +
                    std::to_string(stored));
    return archive;
}

// Free memory on `device` in bytes, 0 when it cannot be told: MemAvailable for the host;
// for CUDA, cudaMemGetInfo looked up in the CUDA runtime LibTorch has loaded (no CUDA
// headers needed, and nothing to find in a CPU-only build).
uint64_t free_memory(const torch::Device& device) {
    if (device.is_cuda()) {
        using MemGetInfo = int (*)(size_t*, size_t*);
        using SetDevice = int (*)(int);
        auto get = reinterpret_cast<MemGetInfo>(dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
        auto set = reinterpret_cast<SetDevice>(dlsym(RTLD_DEFAULT, "cudaSetDevice"));
        size_t free_b = 0, total_b = 0;
        if (!get || (set && set(device.index() < 0 ? 0 : device.index()) != 0) ||
            get(&free_b, &total_b) != 0)
            return 0;
        return free_b;
    }
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return 0;
}

std::string gib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1ull << 30));
    return buf;
}

// Pink's tokens added to LLaMA-2's tokenizer (pink/model/pink.py: initialize_vision_tokenizer,
// add_mark_tokens), from the folder's added_tokens.json (what save_pretrained writes) or, when
// that is absent, in Pink's order after the SentencePiece pieces.
void add_pink_tokens(const fs::path& dir, const ModelConfig& config, Tokenizer& tokenizer,
                     std::vector<std::string>* warnings) {
    std::vector<std::pair<std::string, int>> tokens;
    const fs::path file = dir / "added_tokens.json";
    std::error_code ec;
    if (fs::exists(file, ec)) {
        if (fs::file_size(file, ec) > (1u << 20))
            throw Error(file.string() + ": too large for a list of added tokens");
        std::ifstream in(file);
        nlohmann::json j;
        try {
            in >> j;
        } catch (const nlohmann::json::exception&) {
            throw Error(file.string() + ": invalid JSON");
        }
        if (!j.is_object()) throw Error(file.string() + ": must map token text to ids");
        for (const auto& [text, id] : j.items()) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                id.get<int64_t>() >= config.text.vocab_size)
                throw Error(file.string() + ": '" + text + "' has id " + id.dump() +
                            ", outside the model's " + std::to_string(config.text.vocab_size) +
                            " embeddings");
            tokens.emplace_back(text, static_cast<int>(id.get<int64_t>()));
        }
    } else {
        static const char* const kPink[] = {"<im_patch>", "<des>", "</des>", "<loc>", "</loc>",
                                            "<rel>",      "</rel>", "<cls>", "</cls>", "<qes>",
                                            "</qes>",     "<opt>", "</opt>"};
        int id = tokenizer.vocab_size();
        for (const char* t : kPink) tokens.emplace_back(t, id++);
        if (id > config.text.vocab_size)
            throw Error(dir.string() + ": no added_tokens.json, and Pink's 13 tokens after the " +
                        std::to_string(tokenizer.vocab_size()) + " of tokenizer.model exceed " +
                        "vocab_size " + std::to_string(config.text.vocab_size));
        warnings->push_back(dir.string() + " has no added_tokens.json: Pink's tokens were " +
                            "numbered from " + std::to_string(tokenizer.vocab_size()) +
                            " in Pink's order");
    }
    tokenizer.add_tokens(tokens);
}

// The network with its parameters created in `dtype` from the start: building it in fp32
// and converting would hold twice the 16-bit weights on the host. The default dtype is
// process-wide, so it is restored at once (models are loaded on one worker thread).
Llava build_in_dtype(const ModelConfig& config, torch::Dtype dtype) {
    struct Restore {
        caffe2::TypeMeta old = torch::get_default_dtype();
        ~Restore() { torch::set_default_dtype(old); }
    } restore;
    try {
        torch::set_default_dtype(caffe2::TypeMeta::fromScalarType(dtype));
        return Llava(config);
    } catch (const c10::Error&) {  // an initializer without a kernel for this dtype here
        torch::set_default_dtype(restore.old);
        return Llava(config);
    }
}

}  // namespace

void ModelPlan::set_free(uint64_t bytes) {
    bytes_free = bytes;
    fits = bytes_free == 0 || bytes_needed <= bytes_free;
    message = fits ? std::string()
                   : "the model needs " + gib(bytes_needed) + " on " + device + " but only " +
                         gib(bytes_free) + " is free; try another device" +
                         (dtype == "fp32" ? " or a 16-bit dtype" : "");
}

ModelPlan plan_model(const LoadParams& params) {
    const fs::path dir(params.model_dir);
    check_model_folder(dir);
    const ModelConfig config = load_model_config(dir.string());
    tokenizer_path(dir, config);
    open_weights(dir, config);  // headers only: the files are memory-mapped, not read
    const torch::Device device = resolve_device(params.device);
    const torch::Dtype dtype = resolve_dtype(params.dtype, device);
    const uint64_t elem = dtype == torch::kFloat32 ? 4 : 2;
    ModelPlan plan;
    plan.dir = dir.string();
    plan.layout = config.layout;
    plan.device = device.str();
    plan.dtype = dtype_label(dtype);
    plan.parameters = count_parameters(config);
    plan.warnings = config.warnings;
    plan.weight_bytes = uint64_t(plan.parameters) * elem;
    const auto& t = config.text;
    const uint64_t kv = 2ull * t.num_hidden_layers * uint64_t(t.max_position_embeddings) *
                        t.num_key_value_heads * (t.hidden_size / t.num_attention_heads) * elem;
    // Working memory: the fp32 logits and attention scores of a full-context prefill, and a
    // margin for the allocator.
    const uint64_t work = 4ull * t.max_position_embeddings *
                              (uint64_t(t.vocab_size) + t.max_position_embeddings *
                                                            uint64_t(t.num_attention_heads)) +
                          std::max<uint64_t>(64ull << 20, plan.weight_bytes / 20);
    plan.bytes_needed = plan.weight_bytes + kv + work;
    plan.set_free(free_memory(device));
    return plan;
}

std::shared_ptr<Model> Model::load(const LoadParams& params) {
    const auto t0 = std::chrono::steady_clock::now();
    const fs::path dir(params.model_dir);
    check_model_folder(dir);

    std::shared_ptr<Model> model(new Model());
    Impl& m = *model->impl_;
    m.config = load_model_config(dir.string());
    m.info.dir = dir.string();
    m.info.layout = m.config.layout;
    m.info.warnings = m.config.warnings;

    const fs::path tok_path = tokenizer_path(dir, m.config);
    m.tokenizer = Tokenizer::load(tok_path.string());
    if (m.config.layout == "pink") add_pink_tokens(dir, m.config, *m.tokenizer, &m.info.warnings);
    if (m.tokenizer->vocab_size() > m.config.text.vocab_size)
        throw Error(tok_path.string() + " has " +
                    std::to_string(m.tokenizer->vocab_size()) +
                    " tokens but the model embeds only " +
                    std::to_string(m.config.text.vocab_size));
    m.chat_template = make_chat_template(m.config.chat_template);
    if (!m.chat_template) throw Error("unknown chat template '" + m.config.chat_template + "'");
    m.preprocess.size = m.config.vision.image_size;
    m.preprocess.pad_to_square = m.config.image_aspect == "pad";
    m.preprocess.bicubic_antialias = m.config.image_filter == "bicubic";
    m.region_format = make_region_format(m.config.region_format, m.preprocess.pad_to_square);
    if (!m.region_format) throw Error("unknown region format '" + m.config.region_format + "'");

    auto archive = open_weights(dir, m.config);

    if (params.threads > 0) torch::set_num_threads(params.threads);
    m.device = resolve_device(params.device);
    m.dtype = resolve_dtype(params.dtype, m.device);
    {
        torch::NoGradGuard no_grad;
        BuildPlacement place(m.device, m.dtype);  // layer by layer onto the device
        SkipInit skip;  // no random numbers: load_state overwrites every parameter
        m.net = build_in_dtype(m.config, m.dtype);
        m.net->to(m.device, m.dtype);
        // Pink keeps its adapters in fp32 under a 16-bit model (demo.py halves the rest).
        if (m.dtype != torch::kFloat32)
            for (const auto& item : m.net->named_modules())
                if (item.key().find("adapter_") != std::string::npos)
                    item.value()->to(torch::kFloat32);
        m.net->eval();
    }
    LoadProgress lp;
    lp.bytes_total = archive->total_bytes();
    auto report = load_state(*m.net, *archive,
                             m.config.layout == "pink" ? pink_key_candidates : llava_key_candidates,
                             [&](size_t done, size_t total, uint64_t bytes) {
                                 lp.tensors_done = done;
                                 lp.tensors_total = total;
                                 lp.bytes_done = bytes;
                                 return params.progress ? params.progress(lp) : true;
                             });
    for (const auto& u : report.unused)
        if (u.find("position_ids") == std::string::npos &&
            u.find("rotary_emb.inv_freq") == std::string::npos)
            m.info.warnings.push_back("checkpoint tensor '" + u + "' is not used");
    m.info.parameters = 0;
    for (const auto& p : m.net->parameters()) m.info.parameters += p.numel();
    m.info.weight_bytes = report.bytes_loaded;
    m.info.device = m.device.str();
    m.info.dtype = dtype_label(m.dtype);
    m.info.load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return model;
}

}  // namespace rc
