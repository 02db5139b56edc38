#include "model/layers.h"

#include "kernels/int8_gemv.h"
#include "regionchat/error.h"

namespace rc {

namespace {
thread_local bool g_skip_init = false;
}  // namespace

SkipInit::SkipInit() : outer_(g_skip_init) {
    g_skip_init = true;
}

SkipInit::~SkipInit() {
    g_skip_init = outer_;
}

bool init_skipped() {
    return g_skip_init;
}

uint64_t LinearImpl::quantize_int8() {
    if (scales.defined()) return 0;
    if (!weight.device().is_cpu()) throw Error("int8 weights run on the CPU only");
    const uint64_t before = weight.numel() * weight.element_size();
    torch::NoGradGuard no_grad;
    const auto w = weight.detach().to(torch::kFloat32).contiguous();
    const int64_t out = w.size(0), in = w.size(1);
    auto q = torch::empty({out, in}, torch::kInt8);
    auto s = torch::empty({out}, torch::kFloat32);
    const float* src = w.data_ptr<float>();
    int8_t* dst = q.data_ptr<int8_t>();
    float* sp = s.data_ptr<float>();
    for (int64_t o = 0; o < out; ++o) sp[o] = kernels::quantize_row_int8(src + o * in, in, dst + o * in);
    // The registered parameter is replaced too, so the float tensor is freed and a walk over
    // parameters() sees what the layer holds.
    parameters_["weight"] = q;
    weight = q;
    if (bias.defined()) {
        bias = bias.detach().to(torch::kFloat32).contiguous();
        parameters_["bias"] = bias;
    }
    scales = register_buffer("scales", s);
    return before;
}

torch::Tensor LinearImpl::linear_int8(const torch::Tensor& x) {
    const int64_t in = weight.size(1), out = weight.size(0);
    if (x.size(-1) != in || !x.device().is_cpu())
        throw Error("int8 linear layer: input of " + std::to_string(x.size(-1)) +
                    " features on " + x.device().str() + "; it takes " + std::to_string(in) +
                    " on the CPU");
    const auto xf = x.to(torch::kFloat32).contiguous();
    const int64_t rows = in > 0 ? xf.numel() / in : 0;
    // A few rows (decoding, beams): the int8 kernel reads each weight once. More (a prefill):
    // the weight in fp32 for one BLAS product, as it would have been without int8.
    if (rows > 8) {
        const auto w = weight.to(torch::kFloat32).mul_(scales.unsqueeze(1));
        return torch::linear(xf, w, bias).to(x.scalar_type());
    }
    auto sizes = xf.sizes().vec();
    sizes.back() = out;
    auto y = torch::empty(sizes, xf.options());
    kernels::gemv_int8(xf.data_ptr<float>(), rows, in, weight.data_ptr<int8_t>(),
                       scales.data_ptr<float>(), bias.defined() ? bias.data_ptr<float>() : nullptr,
                       y.data_ptr<float>(), out);
    return y.to(x.scalar_type());
}

}  // namespace rc
