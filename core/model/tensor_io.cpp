#include "model/tensor_io.h"

#include <sstream>

#include "model/huge_pages.h"
#include "model/layers.h"
#include "regionchat/error.h"

namespace rc {

namespace {
thread_local const BuildPlacement* g_placement = nullptr;
}  // namespace

BuildPlacement::BuildPlacement(torch::Device device, torch::Dtype dtype)
    : outer_(g_placement), device_(device), dtype_(dtype) {
    g_placement = this;
}

BuildPlacement::~BuildPlacement() { g_placement = outer_; }

void place_built(torch::nn::Module& module) {
    if (g_placement) module.to(g_placement->device_, g_placement->dtype_);
}


namespace {

std::string shape_string(c10::IntArrayRef shape) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << "]";
    return s.str();
}

}  // namespace

torch::Dtype to_torch_dtype(DType t) {
    switch (t) {
        case DType::F32:
            return torch::kFloat32;
        case DType::F16:
            return torch::kFloat16;
        case DType::BF16:
            return torch::kBFloat16;
        case DType::F64:
            return torch::kFloat64;
        case DType::I64:
            return torch::kInt64;
        case DType::I32:
            return torch::kInt32;
        case DType::I16:
            return torch::kInt16;
        case DType::I8:
            return torch::kInt8;
        case DType::U8:
            return torch::kUInt8;
        case DType::Bool:
            return torch::kBool;
    }
    throw Error("unsupported tensor dtype");
}

DType from_torch_dtype(torch::Dtype t) {
    switch (t) {
        case torch::kFloat32:
            return DType::F32;
        case torch::kFloat16:
            return DType::F16;
        case torch::kBFloat16:
            return DType::BF16;
        case torch::kFloat64:
            return DType::F64;
        case torch::kInt64:
            return DType::I64;
        case torch::kInt32:
            return DType::I32;
        case torch::kInt16:
            return DType::I16;
        case torch::kInt8:
            return DType::I8;
        case torch::kUInt8:
            return DType::U8;
        case torch::kBool:
            return DType::Bool;
        default:
            break;
    }
    throw Error("tensor dtype has no safetensors equivalent");
}

void copy_view_into(const TensorView& src, torch::Tensor& dst) {
    // from_blob does not own the mapped bytes; copy_ makes the owned copy (and converts dtype
    // and device) before the mapping can go away.
    const auto options = torch::TensorOptions().dtype(to_torch_dtype(src.dtype));
    auto view =
        src.strides.empty()
            ? torch::from_blob(const_cast<uint8_t*>(src.data), src.shape, options)
            : torch::from_blob(const_cast<uint8_t*>(src.data), src.shape, src.strides, options);
    torch::NoGradGuard no_grad;
    dst.copy_(view);
}

LoadStateReport load_state(
    torch::nn::Module& module, const SafetensorsArchive& archive,
    const std::function<std::vector<std::string>(const std::string&)>& candidates,
    const TensorProgress& progress) {
    LoadStateReport report;
    const size_t total = module.named_parameters(/*recurse=*/true).size();
    std::set<std::string> used;
    size_t done = 0;
    // Module by module, in named_parameters' order: a layer marked int8_after_load is
    // quantised as soon as its own parameters are in (its float weight freed before the next).
    const auto load_own = [&](torch::nn::Module& sub, const std::string& prefix) {
        for (const auto& item : sub.named_parameters(/*recurse=*/false)) {
            const std::string name = prefix.empty() ? item.key() : prefix + "." + item.key();
            torch::Tensor param = item.value();
            const TensorView* view = nullptr;
            std::string found;
            for (const auto& key : candidates(name)) {
                view = archive.find(key);
                if (view) {
                    found = key;
                    break;
                }
            }
            if (!view) {
                throw Error("checkpoint has no tensor '" + name + "' (expected shape " +
                            shape_string(param.sizes()) + ")");
            }
            if (c10::IntArrayRef(view->shape) != param.sizes()) {
                throw Error(view->file + ": tensor '" + view->name + "' has shape " +
                            shape_string(view->shape) + ", the model expects " +
                            shape_string(param.sizes()));
            }
            if (view->dtype != DType::F32 && view->dtype != DType::F16 &&
                view->dtype != DType::BF16 && view->dtype != DType::F64) {
                throw Error(view->file + ": tensor '" + view->name + "' has dtype " +
                            dtype_name(view->dtype) + ", expected a floating-point type");
            }
            advise_huge_pages(param);  // before the copy first writes it
            copy_view_into(*view, param);
            archive.release(*view);  // peak host memory: the copy, not the copy plus the file
            used.insert(found);
            report.tensors_loaded++;
            report.bytes_loaded += view->nbytes;
            ++done;
            if (progress && !progress(done, total, report.bytes_loaded)) {
                throw Error("loading cancelled");
            }
        }
        if (auto* lin = sub.as<LinearImpl>(); lin && lin->int8_after_load) lin->quantize_int8();
    };
    load_own(module, "");
    for (const auto& sub : module.named_modules("", /*include_self=*/false))
        load_own(*sub.value(), sub.key());
    for (const auto& n : archive.names())
        if (!used.count(n)) report.unused.push_back(n);
    return report;
}

void save_state(const torch::nn::Module& module, const std::string& path, DType dtype,
                const std::map<std::string, std::string>& metadata) {
    std::vector<torch::Tensor> keep;  // owns the converted copies while writing
    std::vector<TensorToWrite> out;
    for (const auto& item : module.named_parameters(true)) {
        auto t = item.value().detach().to(torch::kCPU, to_torch_dtype(dtype)).contiguous();
        keep.push_back(t);
        TensorToWrite w;
        w.name = item.key();
        w.dtype = dtype;
        w.shape.assign(t.sizes().begin(), t.sizes().end());
        w.data = t.data_ptr();
        w.nbytes = static_cast<size_t>(t.numel()) * t.element_size();
        out.push_back(std::move(w));
    }
    write_safetensors(path, out, metadata);
}

}  // namespace rc
