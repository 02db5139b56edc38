#include "model/projector.h"

#include "regionchat/error.h"

namespace rc {

ProjectorImpl::ProjectorImpl(const ModelConfig& c) : mlp(c.projector_type != "linear") {
    if (c.projector_type != "linear" && c.projector_type != "mlp2x_gelu")
        throw Error("unknown projector type '" + c.projector_type + "'");
    const int64_t vin = c.vision.hidden_size, d = c.text.hidden_size;
    linear_1 = register_module("linear_1", Linear(vin, d));
    if (mlp) linear_2 = register_module("linear_2", Linear(d, d));
}

torch::Tensor ProjectorImpl::forward(const torch::Tensor& x) {
    auto h = linear_1(x);
    return mlp ? linear_2(torch::gelu(h)) : h;
}

}  // namespace rc
