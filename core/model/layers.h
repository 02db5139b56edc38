// Linear and Embedding layers whose random initialisation can be skipped.
//
// LibTorch's nn::Linear and nn::Embedding fill their weights from the random generator in
// their constructors. A checkpoint loader overwrites every one of those numbers right
// after, and drawing them was half of a load: a 1.1 B-parameter model in bf16 loaded in
// 17.4 s with them and 9.1 s without on the 2-core CPU (README). These layers draw exactly
// what LibTorch's draw, in the same order (so a model built for training from a seed is
// unchanged), unless a SkipInit is alive on the thread: then their parameters are
// allocated and left uninitialised. Parameter names ("weight", "bias") equal LibTorch's and
// Hugging Face's.
#pragma once

#include <cmath>
#include <vector>

#include <torch/torch.h>

namespace rc {

/// While alive, sets a flag of this thread (Tag names it); the flag is as before when it ends,
/// so scopes nest. The switches below are these.
template <typename Tag>
class ThreadFlag {
public:
    ThreadFlag() : outer_(flag()) { flag() = true; }
    ~ThreadFlag() { flag() = outer_; }
    ThreadFlag(const ThreadFlag&) = delete;
    ThreadFlag& operator=(const ThreadFlag&) = delete;
    /// True while a scope of this Tag is alive on this thread.
    static bool on() { return flag(); }

private:
    static bool& flag() {
        static thread_local bool f = false;
        return f;
    }
    bool outer_;
};

/// While alive, the Linear and Embedding layers built on this thread skip their random
/// initialisation. Only for networks whose every parameter is loaded next (load_state
/// throws when one is missing, so nothing uninitialised is ever used).
using SkipInit = ThreadFlag<struct SkipInitTag>;

/// True while a SkipInit is alive on this thread.
inline bool init_skipped() { return SkipInit::on(); }

/// While alive, the LLaMA language models built on this thread mark their linear layers
/// int8_after_load (`--dtype int8`): load_state then quantises each one as soon as it is
/// filled, so the float weights are never all in memory at once.
using Int8AfterLoad = ThreadFlag<struct Int8AfterLoadTag>;

/// True while an Int8AfterLoad is alive on this thread.
inline bool int8_after_load() { return Int8AfterLoad::on(); }

/// y = x W^T + b, W [out, in]; initialised as torch::nn::Linear (Kaiming uniform, a = sqrt 5).
struct LinearImpl : torch::nn::Module {
    LinearImpl(int64_t in_features, int64_t out_features, bool with_bias = true) {
        weight = register_parameter("weight", torch::empty({out_features, in_features}));
        if (with_bias) bias = register_parameter("bias", torch::empty({out_features}));
        if (init_skipped()) return;
        torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
        if (bias.defined()) {
            const double bound = 1.0 / std::sqrt(double(in_features));
            torch::nn::init::uniform_(bias, -bound, bound);
        }
    }
    torch::Tensor forward(const torch::Tensor& x) {
        if (scales.defined()) return linear_int8(x);
        if (kernel_takes(x)) return linear_rows(x);
        if (widened_takes(x)) return linear_widened(x);
        if (x.scalar_type() != weight.scalar_type()) return linear_cast(x);
        return torch::linear(x, weight, bias);
    }
    /// Keeps the weight in int8 from now on, with one fp32 scale per output row (max |w| /
    /// 127, buffer "scales"); the float weight is freed. CPU only; the layer then takes fp32
    /// input.
    void quantize_int8();
    /// Holds these tensors from now on, as its registered "weight", "bias" and "scales" too
    /// (the ones it held before are released). `b` and `s` may be undefined.
    void set_tensors(torch::Tensor w, torch::Tensor b, torch::Tensor s);
    torch::Tensor weight, bias;
    torch::Tensor scales;  ///< defined once quantize_int8() ran
    bool int8_after_load = false;  ///< load_state runs quantize_int8() once it filled the layer

private:
    torch::Tensor linear_int8(const torch::Tensor& x);
    torch::Tensor linear_rows(const torch::Tensor& x);
    /// x in another dtype than the weight (fp32 activations of a bf16 model where the kernel
    /// does not take the product): x in the weight's dtype, the result back in x's.
    torch::Tensor linear_cast(const torch::Tensor& x);
    /// x's rows where a kernel may take the product (on the CPU, no autograd, a dense 2-D
    /// weight of x's width), else -1.
    int64_t kernel_rows(const torch::Tensor& x) const;
    /// Whether RegionChat's kernel computes this product of float weights (see layers.cpp).
    bool kernel_takes(const torch::Tensor& x) const;
    /// bf16 weights times many rows of x on a CPU without the kernel's tiles (AVX2): blocks of
    /// the weight widened to fp32 for a BLAS product, x rounded to bf16 as the kernel does.
    bool widened_takes(const torch::Tensor& x) const;
    torch::Tensor linear_widened(const torch::Tensor& x);
};
TORCH_MODULE(Linear);

/// One layer computing `parts` side by side, its output their outputs concatenated: a fused
/// q/k/v or gate/up projection, one product (one weight pass, one thread fork) instead of
/// several. The parts then hold views of the fused weights (their names, values and the memory
/// they take unchanged). Null when the parts differ in input size, dtype, device, bias or int8.
Linear fuse_linears(const std::vector<LinearImpl*>& parts);

/// A lookup table [count, dim]; initialised as torch::nn::Embedding (standard normal).
struct EmbeddingImpl : torch::nn::Module {
    EmbeddingImpl(int64_t count, int64_t dim) {
        weight = register_parameter("weight", torch::empty({count, dim}));
        if (!init_skipped()) torch::nn::init::normal_(weight);
    }
    torch::Tensor forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }
    torch::Tensor weight;
};
TORCH_MODULE(Embedding);

}  // namespace rc
