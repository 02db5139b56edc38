// Pink's adapter (pink/model/adapter.py AdapterLayer): y = x + B(A(x)), A Linear(d, dim) and B
// Linear(dim, d) with biases, SiLU between them when adapter_non_linear. Module names equal
// Pink's keys (tune_adapter_a, tune_adapter_b); dropout and `scale` play no part in inference.
// As in Pink, the adapter computes in its own weights' dtype (the loader keeps them fp32 when
// the rest of the model is 16-bit) and returns the input's dtype.
#pragma once

#include <torch/torch.h>

#include "model/layers.h"
#include "regionchat/config.h"

namespace rc {

struct AdapterImpl : torch::nn::Module {
    AdapterImpl(int64_t d, const AdapterConfig& c) : silu(c.silu) {
        tune_adapter_a = register_module("tune_adapter_a", Linear(d, c.dim));
        tune_adapter_b = register_module("tune_adapter_b", Linear(c.dim, d));
    }
    torch::Tensor forward(const torch::Tensor& x) {
        auto h = tune_adapter_a(x.to(tune_adapter_a->weight.scalar_type()));
        if (silu) h = torch::silu(h);
        return x + tune_adapter_b(h).to(x.scalar_type());
    }
    Linear tune_adapter_a{nullptr}, tune_adapter_b{nullptr};
    bool silu;
};
TORCH_MODULE(Adapter);

/// Registers `adapter_attn` / `adapter_mlp` on `layer` as `c` asks (none when c.dim is 0). As
/// in Pink (LlamaAdapterDecoderLayer), only the attention adapter takes c.silu; the MLP
/// adapter is built without non_linear.
inline void register_adapters(torch::nn::Module& layer, int64_t d, const AdapterConfig& c,
                              Adapter* attn, Adapter* mlp) {
    if (c.dim <= 0) return;
    if (c.attn) *attn = layer.register_module("adapter_attn", Adapter(d, c));
    AdapterConfig linear = c;
    linear.silu = false;
    if (c.mlp) *mlp = layer.register_module("adapter_mlp", Adapter(d, linear));
}

}  // namespace rc
