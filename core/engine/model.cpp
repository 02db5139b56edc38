#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "engine/model_impl.h"
#include "model/layers.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"

namespace rc {

namespace fs = std::filesystem;

Device::Device(const std::string& name) {
    if (name.empty() || name == "auto") {
        kind = DeviceKind::Auto;
    } else if (name == "cpu") {
        kind = DeviceKind::Cpu;
    } else if (name == "cuda") {
        kind = DeviceKind::Cuda;
    } else if (name.rfind("cuda:", 0) == 0) {
        kind = DeviceKind::Cuda;
        try {
            size_t used = 0;
            index = std::stoi(name.substr(5), &used);
            if (used != name.size() - 5 || index < 0) throw std::invalid_argument(name);
        } catch (...) {
            throw Error("bad device '" + name + "'");
        }
    } else {
        throw Error("unknown device '" + name + "' (use auto, cpu, cuda or cuda:N)");
    }
}

std::string to_string(const Device& d) {
    switch (d.kind) {
        case DeviceKind::Auto:
            return "auto";
        case DeviceKind::Cpu:
            return "cpu";
        case DeviceKind::Cuda:
            return "cuda:" + std::to_string(d.index);
    }
    return "auto";
}

Precision parse_precision(const std::string& name) {
    if (name.empty() || name == "auto") return Precision::Auto;
    if (name == "fp32" || name == "float32") return Precision::F32;
    if (name == "fp16" || name == "float16") return Precision::F16;
    if (name == "bf16" || name == "bfloat16") return Precision::BF16;
    if (name == "int8") return Precision::Int8;
    throw Error("unknown dtype '" + name + "' (use auto, fp32, fp16, bf16 or int8)");
}

std::string to_string(Precision p) {
    switch (p) {
        case Precision::Auto:
            return "auto";
        case Precision::F32:
            return "fp32";
        case Precision::F16:
            return "fp16";
        case Precision::BF16:
            return "bf16";
        case Precision::Int8:
            return "int8";
    }
    return "auto";
}

std::string to_string(StopReason r) {
    switch (r) {
        case StopReason::Eos:
            return "eos";
        case StopReason::Length:
            return "length";
        case StopReason::Abort:
            return "abort";
    }
    return "length";
}

torch::Device resolve_device(const Device& d) {
    if (d.kind == DeviceKind::Auto)
        return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                           : torch::Device(torch::kCPU);
    if (d.kind == DeviceKind::Cpu) return torch::Device(torch::kCPU);
    if (!torch::cuda::is_available())
        throw Error("device '" + to_string(d) +
                    "' asked for, but this LibTorch build has no CUDA or "
                    "no GPU is visible; use --device cpu");
    if (d.index < 0 || d.index >= static_cast<int>(torch::cuda::device_count()))
        throw Error("no CUDA device " + std::to_string(d.index));
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d.index));
}

torch::Dtype resolve_dtype(Precision p, const torch::Device& device) {
    switch (p) {
        case Precision::Auto:
            return device.is_cuda() ? torch::kFloat16 : torch::kFloat32;
        case Precision::F32:
            return torch::kFloat32;
        case Precision::F16:
            if (!device.is_cuda())
                throw Error(
                    "fp16 runs on CUDA only (LibTorch's CPU kernels lack half-precision "
                    "convolution); use bf16 or fp32 on the CPU");
            return torch::kFloat16;
        case Precision::BF16:
            return torch::kBFloat16;
        case Precision::Int8:  // fp32 everywhere but the int8 weights (quantised after loading)
            if (device.is_cuda())
                throw Error("int8 runs on the CPU only (its kernel is a CPU one); use fp16 on "
                            "CUDA");
            return torch::kFloat32;
    }
    return torch::kFloat32;
}

Precision precision_of(torch::Dtype t) {
    if (t == torch::kFloat16) return Precision::F16;
    if (t == torch::kBFloat16) return Precision::BF16;
    return Precision::F32;
}

Device device_of(const torch::Device& d) {
    return d.is_cuda() ? Device(DeviceKind::Cuda, d.index() < 0 ? 0 : d.index())
                       : Device(DeviceKind::Cpu);
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

}  // namespace

void ModelPlan::set_free(uint64_t bytes) {
    bytes_free = bytes;
    fits = bytes_free == 0 || bytes_needed <= bytes_free;
    message = fits ? std::string()
                   : "the model needs " + gib(bytes_needed) + " on " + to_string(device) +
                         " but only " + gib(bytes_free) + " is free; try another device" +
                         (dtype == Precision::F32 ? " or a 16-bit dtype" : "");
}

ModelPlan plan_model(const LoadParams& params) {
    const fs::path dir(params.model_dir);
    check_model_folder(dir);
    const FolderProbe probe = probe_folder(dir.string());
    const ModelFamily& family = family_for(probe);
    const FamilyPlan fp = family.plan(probe);  // headers only: the files are memory-mapped
    const torch::Device device = resolve_device(params.device);
    const torch::Dtype dtype = resolve_dtype(params.dtype, device);
    const uint64_t elem = dtype == torch::kFloat32 ? 4 : 2;
    ModelPlan plan;
    plan.dir = dir.string();
    plan.family = family.id();
    plan.layout = fp.layout;
    plan.layout_description = fp.layout_description;
    plan.device = device_of(device);
    plan.dtype = params.dtype == Precision::Int8 ? Precision::Int8 : precision_of(dtype);
    plan.parameters = fp.parameters;
    plan.warnings = fp.warnings;
    plan.weight_bytes = uint64_t(plan.parameters) * elem;
    if (plan.dtype == Precision::Int8) {
        if (fp.int8_parameters <= 0)
            throw Error("int8 weights are for models whose language model is LLaMA-shaped "
                        "(LLaVA, DualFocus, Pink, ParGo, InternVL2, CoLVA); use fp32 or bf16");
        plan.weight_bytes -= uint64_t(fp.int8_parameters) * 3;  // int8 instead of fp32
    }
    // The KV cache of the whole context, the fp32 working tensors of a full prefill, and a
    // margin for the allocator.
    plan.bytes_needed = plan.weight_bytes + fp.kv_elements * elem + 4ull * fp.working_elements +
                        std::max<uint64_t>(64ull << 20, plan.weight_bytes / 20);
    plan.set_free(free_memory(device));
    return plan;
}

std::shared_ptr<Model> Model::load(const LoadParams& params) {
    const auto t0 = std::chrono::steady_clock::now();
    const fs::path dir(params.model_dir);
    check_model_folder(dir);
    const FolderProbe probe = probe_folder(dir.string());
    const ModelFamily& family = family_for(probe);

    if (params.threads > 0) torch::set_num_threads(params.threads);
    LoadContext ctx;
    ctx.device = resolve_device(params.device);
    ctx.dtype = resolve_dtype(params.dtype, ctx.device);
    if (params.progress)
        ctx.progress = [&](size_t done, size_t total, uint64_t bytes, uint64_t bytes_total) {
            LoadProgress lp;
            lp.tensors_done = done;
            lp.tensors_total = total;
            lp.bytes_done = bytes;
            lp.bytes_total = bytes_total;
            return params.progress(lp);
        };
    {
        // Weights that cannot fit in the device's free memory are refused before anything is
        // allocated (a config can claim any size; the OOM killer would end the app instead).
        const FamilyPlan fp = family.plan(probe);
        const uint64_t elem = ctx.dtype == torch::kFloat32 ? 4 : 2;
        uint64_t need = uint64_t(std::max<int64_t>(fp.parameters, 0)) * elem;
        if (params.dtype == Precision::Int8)  // held in int8 once loaded (see Int8AfterLoad)
            need -= std::min(need, uint64_t(std::max<int64_t>(fp.int8_parameters, 0)) * 3);
        const uint64_t free = free_memory(ctx.device);
        if (free > 0 && need > free)
            throw Error(dir.string() + ": its " + std::to_string(fp.parameters) +
                        " parameters need " + gib(need) + " on " + to_string(device_of(ctx.device)) +
                        " but only " + gib(free) + " is free");
    }
    FamilyModel fm = [&] {
        // int8: the LLaMA layers are quantised as the loader fills them (peak host memory
        // about the int8 model, not the fp32 one); then whatever a family's loader filled
        // otherwise.
        std::optional<Int8AfterLoad> int8;
        if (params.dtype == Precision::Int8) int8.emplace();
        return family.load(probe, ctx);
    }();
    if (params.dtype == Precision::Int8) fm.network->quantize_int8();
    fm.network->fuse_projections();

    std::shared_ptr<Model> model(new Model());
    Impl& m = *model->impl_;
    m.config = std::move(fm.config);
    m.tokenizer = std::move(fm.tokenizer);
    m.chat_template = std::move(fm.chat_template);
    m.region_format = std::move(fm.region_format);
    m.network = std::move(fm.network);
    m.beam_length_offset = fm.beam_length_offset;
    m.device = ctx.device;
    m.dtype = ctx.dtype;
    m.info.dir = dir.string();
    m.info.family = family.id();
    m.info.layout = fm.layout;
    m.info.layout_description = fm.layout_description;
    m.info.warnings = std::move(fm.warnings);
    m.info.reads_region_text = fm.reads_region_text;
    m.info.reads_region_points = fm.reads_region_points;
    m.info.reads_region_tokens = fm.reads_region_tokens;
    m.info.default_beams = fm.default_beams;
    m.info.default_length_penalty = fm.default_length_penalty;
    m.info.template_asks_yes_no = fm.template_asks_yes_no;
    m.info.answer_after = fm.answer_after;
    m.info.answer_before = fm.answer_before;
    m.info.parameters = m.network->parameter_count();
    m.info.weight_bytes = m.network->weight_bytes();
    if (m.info.weight_bytes == 0) m.info.weight_bytes = fm.bytes_loaded;
    m.info.decode_weight_bytes = m.network->decode_weight_bytes();
    if (m.info.decode_weight_bytes == 0) m.info.decode_weight_bytes = m.info.weight_bytes;
    m.info.device = device_of(m.device);
    m.info.dtype = params.dtype == Precision::Int8 ? Precision::Int8 : precision_of(m.dtype);
    m.info.load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return model;
}

void set_cpu_threads(int n) {
    if (n > 0) torch::set_num_threads(n);
}

std::string runtime_description() {
    std::string s = std::string("LibTorch ") + TORCH_VERSION + ", CPU (" +
                    std::to_string(torch::get_num_threads()) +
                    (torch::get_num_threads() == 1 ? " thread)" : " threads)");
#ifdef REGIONCHAT_HAS_CUDA
    const int64_t gpus = torch::cuda::device_count();
    s += gpus > 0 ? ", CUDA: " + std::to_string(gpus) + (gpus == 1 ? " device" : " devices")
                  : std::string(", CUDA built in, no device");
#endif
    return s;
}

double copy_bandwidth_gbs(const Device& device) {
    const torch::Device dev = resolve_device(device);
    const int64_t n = (dev.is_cuda() ? 1ll << 30 : 1ll << 28) / 4;
    auto src = torch::ones({n}, torch::TensorOptions().device(dev).dtype(torch::kFloat32));
    auto dst = torch::empty_like(src);
    dst.copy_(src);
    (void)dst[0].item<float>();  // waits for the device
    std::vector<double> gbs;
    for (int i = 0; i < 5; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        dst.copy_(src);
        (void)dst[n - 1].item<float>();
        const double ms = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - t0)
                              .count();
        gbs.push_back(2.0 * n * 4 / (ms * 1e6));
    }
    std::sort(gbs.begin(), gbs.end());
    return gbs[gbs.size() / 2];
}

}  // namespace rc
