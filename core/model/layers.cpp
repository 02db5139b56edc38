#include "model/layers.h"

#include "model/huge_pages.h"

#include "kernels/int8_gemv.h"
#include "regionchat/error.h"

#include <algorithm>
#include <vector>

namespace rc {

void LinearImpl::quantize_int8() {
    if (scales.defined()) return;
    if (!weight.device().is_cpu()) throw Error("int8 weights run on the CPU only");
    torch::NoGradGuard no_grad;
    const auto w = weight.detach().to(torch::kFloat32).contiguous();
    const int64_t out = w.size(0), in = w.size(1);
    auto q = empty_huge({out, in}, torch::kInt8);
    auto s = torch::empty({out}, torch::kFloat32);
    const float* src = w.data_ptr<float>();
    int8_t* dst = q.data_ptr<int8_t>();
    float* sp = s.data_ptr<float>();
    for (int64_t o = 0; o < out; ++o) sp[o] = kernels::quantize_row_int8(src + o * in, in, dst + o * in);
    // The registered parameter is replaced too, so the float tensor is freed and a walk over
    // parameters() sees what the layer holds.
    set_tensors(q, bias.defined() ? bias.detach().to(torch::kFloat32).contiguous() : torch::Tensor(),
                s);
}

void LinearImpl::set_tensors(torch::Tensor w, torch::Tensor b, torch::Tensor s) {
    weight = std::move(w);
    parameters_["weight"] = weight;
    if (b.defined()) {
        bias = std::move(b);
        if (parameters_.contains("bias")) parameters_["bias"] = bias;
        else register_parameter("bias", bias, /*requires_grad=*/false);
    }
    if (s.defined()) {
        // A buffer cannot be re-registered: the registered tensor itself takes the new
        // storage (set_ keeps member and registration one tensor).
        torch::NoGradGuard no_grad;
        if (scales.defined()) scales.set_(s);
        else scales = register_buffer("scales", std::move(s));
    }
}

Linear fuse_linears(const std::vector<LinearImpl*>& parts) {
    if (parts.size() < 2) return nullptr;
    const LinearImpl& first = *parts.front();
    std::vector<torch::Tensor> ws, bs, ss;
    for (const LinearImpl* p : parts) {
        if (p->weight.dim() != 2 || p->weight.size(1) != first.weight.size(1) ||
            p->weight.scalar_type() != first.weight.scalar_type() ||
            p->weight.device() != first.weight.device() ||
            p->bias.defined() != first.bias.defined() || p->scales.defined() != first.scales.defined())
            return nullptr;
        ws.push_back(p->weight);
        if (p->bias.defined()) bs.push_back(p->bias);
        if (p->scales.defined()) ss.push_back(p->scales);
    }
    torch::NoGradGuard no_grad;
    int64_t rows = 0;
    for (const auto& p : ws) rows += p.size(0);
    auto w = empty_huge({rows, first.weight.size(1)}, first.weight.options());
    torch::cat_out(w, ws, 0);
    const auto b = bs.empty() ? torch::Tensor() : torch::cat(bs, 0);
    const auto s = ss.empty() ? torch::Tensor() : torch::cat(ss, 0);
    Linear fused{nullptr};
    {
        SkipInit skip;
        fused = Linear(w.size(1), 0, /*with_bias=*/false);
    }
    fused->set_tensors(w, b, s);
    int64_t row = 0;
    for (LinearImpl* p : parts) {
        const int64_t n = p->weight.size(0);
        p->set_tensors(w.narrow(0, row, n), b.defined() ? b.narrow(0, row, n) : torch::Tensor(),
                       s.defined() ? s.narrow(0, row, n) : torch::Tensor());
        row += n;
    }
    return fused;
}

namespace {

// x as dense fp32, its number of rows of `in` features, and an fp32 output for `out` features
// per row: what the kernels of linear_rows and linear_int8 read and write.
struct KernelIo {
    KernelIo(const torch::Tensor& x, int64_t in, int64_t out)
        : xf(x.to(torch::kFloat32).contiguous()), rows(in > 0 ? xf.numel() / in : 0) {
        auto sizes = xf.sizes().vec();
        sizes.back() = out;
        y = torch::empty(sizes, xf.options());
    }
    torch::Tensor xf;
    int64_t rows;
    torch::Tensor y;
};

// y [rows, out] = xd [rows, in] W^T through BLAS, W made in fp32 a block of output rows at a time
// by fill(o, n, dst) (2 MB, in cache while BLAS reads it), so an fp32 copy of the whole weight
// is never written out to memory and back.
template <typename Fill>
void blas_by_blocks(const torch::Tensor& xd, int64_t rows, int64_t in, int64_t out,
                    torch::Tensor& y, const Fill& fill) {
    const int64_t block = std::min<int64_t>(out, std::max<int64_t>(16, (int64_t(1) << 19) / in));
    auto wbuf = torch::empty({block, in}, xd.options());
    auto y2 = y.view({rows, out});
    for (int64_t o = 0; o < out; o += block) {
        const int64_t n = std::min(block, out - o);
        auto wb = wbuf.narrow(0, 0, n);
        fill(o, n, wb.data_ptr<float>());
        y2.narrow(1, o, n).copy_(torch::mm(xd, wb.t()));
    }
}

}  // namespace

int64_t LinearImpl::kernel_rows(const torch::Tensor& x) const {
    if (!x.device().is_cpu() || torch::GradMode::is_enabled() || weight.dim() != 2 ||
        !weight.is_contiguous() || x.dim() < 1 || x.size(-1) != weight.size(1))
        return -1;
    return x.numel() / std::max<int64_t>(1, weight.size(1));
}

bool LinearImpl::kernel_takes(const torch::Tensor& x) const {
    // On the CPU without autograd. A decode step (a few rows) makes one pass over the weight
    // with the kernel's threads (LibTorch 1.13's bf16 product reached a third of the
    // bandwidth). Where the CPU has the kernel's tiles (AVX-512) or panels (AVX2), every bf16
    // product too. Longer fp32 products stay with BLAS where it keeps each row's result
    // independent of the other rows (OpenBLAS's AVX-512 product; 1.1 B, 319 rows: 3.83 s
    // against 4.38 s through the tiles), so a row's result does not depend on how a prompt was
    // cut into chunks and a server and the app score the same answer to the same value.
    // OpenBLAS's AVX2 product does not keep that, so on AVX2 the kernel's panels take them
    // (kernels::f32_prefill_in_kernel), which do.
    const int64_t rows = kernel_rows(x);
    if (rows < 0) return false;
    if (weight.scalar_type() == torch::kBFloat16) return rows <= 8 || kernels::tiled_products();
    return weight.scalar_type() == torch::kFloat32 && (rows <= 8 || kernels::f32_prefill_in_kernel());
}

torch::Tensor LinearImpl::linear_rows(const torch::Tensor& x) {
    const int64_t in = weight.size(1), out = weight.size(0);  // x.size(-1) == in: kernel_takes
    KernelIo io(x, in, out);
    const auto& xf = io.xf;
    const int64_t rows = io.rows;
    auto& y = io.y;
    const auto b = bias.defined() ? bias.to(torch::kFloat32).contiguous() : torch::Tensor();
    const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
    if (weight.scalar_type() == torch::kBFloat16)
        kernels::gemv_bf16(xf.data_ptr<float>(), rows, in,
                           reinterpret_cast<const uint16_t*>(weight.data_ptr<at::BFloat16>()), bp,
                           y.data_ptr<float>(), out);
    else
        kernels::gemv_f32(xf.data_ptr<float>(), rows, in, weight.data_ptr<float>(), bp,
                          y.data_ptr<float>(), out);
    return y.to(x.scalar_type());
}

bool LinearImpl::widened_takes(const torch::Tensor& x) const {
    // A CPU without AVX2 (no tiles, no panels): LibTorch 1.13's bf16 product runs at a fraction
    // of a G multiply-add a second there (measured on an AVX2 CPU: 319 x 2048 by 5632 outputs,
    // 8.0 s against 0.12 s for the same product in fp32 through OpenBLAS). BLAS in fp32 on
    // widened blocks of the weight instead, the way linear_int8 does without tiles.
    return weight.scalar_type() == torch::kBFloat16 && !kernels::tiled_products() &&
           kernel_rows(x) > 8;
}

torch::Tensor LinearImpl::linear_widened(const torch::Tensor& x) {
    const int64_t in = weight.size(1), out = weight.size(0);  // x.size(-1) == in: widened_takes
    KernelIo io(x, in, out);
    // x rounded to bf16 first, as the kernel's rows do (exact for a bf16 model's activations).
    const auto xd = io.xf.to(torch::kBFloat16).to(torch::kFloat32).view({io.rows, in});
    const uint16_t* w = reinterpret_cast<const uint16_t*>(weight.data_ptr<at::BFloat16>());
    blas_by_blocks(xd, io.rows, in, out, io.y, [&](int64_t o, int64_t n, float* dst) {
        kernels::widen_bf16(w + o * in, n, in, dst);
    });
    if (bias.defined()) io.y.add_(bias.to(torch::kFloat32));
    return io.y.to(x.scalar_type());
}

torch::Tensor LinearImpl::linear_cast(const torch::Tensor& x) {
    return torch::linear(x.to(weight.scalar_type()), weight, bias).to(x.scalar_type());
}

torch::Tensor LinearImpl::linear_int8(const torch::Tensor& x) {
    const int64_t in = weight.size(1), out = weight.size(0);
    if (x.size(-1) != in || !x.device().is_cpu())
        throw Error("int8 linear layer: input of " + std::to_string(x.size(-1)) +
                    " features on " + x.device().str() + "; it takes " + std::to_string(in) +
                    " on the CPU");
    KernelIo io(x, in, out);
    const auto& xf = io.xf;
    const int64_t rows = io.rows;
    auto& y = io.y;
    // Every path computes the same products: x quantised per block of kernels::kInt8Block
    // (one scale each) times the int8 rows. A few rows of x (decoding, beams), or any number
    // where the CPU has the kernel's tiles (AVX-512 VNNI): the kernel. Many rows elsewhere (a
    // prefill without VNNI): x quantised and back, times blocks of the weight converted back
    // to fp32, through BLAS.
    if (rows > 8 && !kernels::tiled_products()) {
        auto xd = torch::empty({rows, in}, xf.options());
        kernels::dequantized_activations_int8(xf.data_ptr<float>(), rows, in, xd.data_ptr<float>());
        blas_by_blocks(xd, rows, in, out, y, [&](int64_t o, int64_t n, float* dst) {
            kernels::dequantize_int8(weight.data_ptr<int8_t>() + o * in, scales.data_ptr<float>() + o,
                                     n, in, dst);
        });
        if (bias.defined()) y.add_(bias);
        return y.to(x.scalar_type());
    }
    kernels::gemv_int8(xf.data_ptr<float>(), rows, in, weight.data_ptr<int8_t>(),
                       scales.data_ptr<float>(), bias.defined() ? bias.data_ptr<float>() : nullptr,
                       y.data_ptr<float>(), out);
    return y.to(x.scalar_type());
}

}  // namespace rc
