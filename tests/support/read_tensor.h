// One tensor of a safetensors archive (a reference fixture, a checkpoint) as a torch tensor.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/tensor_io.h"
#include "regionchat/safetensors.h"

namespace rc::testing {

/// The tensor `name` converted to `dtype`; undefined when the archive has no such tensor.
inline torch::Tensor read_tensor(const SafetensorsArchive& archive, const std::string& name,
                                 torch::Dtype dtype = torch::kFloat32) {
    const TensorView* v = archive.find(name);
    if (!v) return {};
    auto t = torch::empty(std::vector<int64_t>(v->shape.begin(), v->shape.end()),
                          torch::TensorOptions().dtype(dtype));
    copy_view_into(*v, t);
    return t;
}

}  // namespace rc::testing
