// Moving tensors between safetensors views and torch modules (load and save by name).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "regionchat/safetensors.h"

namespace rc {

/// torch dtype for a safetensors dtype (throws rc::Error for unsupported ones).
torch::Dtype to_torch_dtype(DType t);
/// safetensors dtype for a torch dtype.
DType from_torch_dtype(torch::Dtype t);

/// Copies a mapped tensor into `dst` (same shape; dtype and device converted by copy_).
void copy_view_into(const TensorView& src, torch::Tensor& dst);

/// Progress of a load: called after each tensor; return false to cancel.
using TensorProgress = std::function<bool(size_t done, size_t total, uint64_t bytes_done)>;

struct LoadStateReport {
    size_t tensors_loaded = 0;
    uint64_t bytes_loaded = 0;
    std::vector<std::string> unused;  ///< archive tensors no parameter asked for
};

/// Fills every parameter of `module` from `archive`. `candidates(name)` lists the archive
/// keys to try for a parameter name, in order. Throws rc::Error naming the tensor when one
/// is missing or has the wrong shape, or "loading cancelled" when progress returns false.
LoadStateReport load_state(
    torch::nn::Module& module, const SafetensorsArchive& archive,
    const std::function<std::vector<std::string>(const std::string&)>& candidates,
    const TensorProgress& progress = {});

/// While alive, the network constructors on this thread move each big part (an encoder or
/// decoder layer, an embedding table) to `device` in `dtype` as soon as it is built
/// (place_built), so a model bound for a GPU is never whole on the host: the host holds one
/// layer at a time, and the weights then go from the memory map straight to the GPU.
class BuildPlacement {
public:
    BuildPlacement(torch::Device device, torch::Dtype dtype);
    ~BuildPlacement();
    BuildPlacement(const BuildPlacement&) = delete;
    BuildPlacement& operator=(const BuildPlacement&) = delete;

private:
    const BuildPlacement* outer_;
    torch::Device device_;
    torch::Dtype dtype_;
    friend void place_built(torch::nn::Module& module);
};

/// Moves a freshly built part to the current BuildPlacement's device and dtype (no-op
/// without one).
void place_built(torch::nn::Module& module);

/// A network built with its parameters created in `dtype` from the start: building it in fp32
/// and converting would hold twice the 16-bit weights on the host. The default dtype is
/// process-wide, so it is restored at once (models are loaded on one worker thread).
template <class Net, class Config>
Net build_in_dtype(const Config& config, torch::Dtype dtype) {
    struct Restore {
        caffe2::TypeMeta old = torch::get_default_dtype();
        ~Restore() { torch::set_default_dtype(old); }
    } restore;
    try {
        torch::set_default_dtype(caffe2::TypeMeta::fromScalarType(dtype));
        return Net(config);
    } catch (const c10::Error&) {  // an initializer without a kernel for this dtype here
        torch::set_default_dtype(restore.old);
        return Net(config);
    }
}

/// Writes every parameter of `module` (named as registered) into a safetensors file,
/// converted to `dtype` (F32, F16 or BF16).
void save_state(const torch::nn::Module& module, const std::string& path, DType dtype = DType::F32,
                const std::map<std::string, std::string>& metadata = {});

}  // namespace rc
