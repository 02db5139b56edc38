// The decode step's matrix-vector products on the CPU (issue 24): y = x W^T + b for a few rows
// of x, with W in int8 (one fp32 scale per output row), bf16 or fp32. Decoding one token reads
// every weight once, so its speed is the memory bandwidth divided by the bytes read, as long as
// the arithmetic keeps up: int8 reads a quarter of fp32's bytes and bf16 half.
//
// torch-free (plain arrays) so it builds and is tested on its own. The instruction set is chosen
// at run time (the build targets plain x86-64): AVX-512 with VNNI and BF16 (Zen 4, Sapphire
// Rapids), else AVX2 + FMA, else a portable loop. Output rows are split over a few persistent
// threads of this library's own (not OpenMP: see int8_gemv.cpp).
#pragma once

#include <cstdint>

namespace rc::kernels {

/// The int8 product quantises x too, per block of this many inputs (one scale per block, as
/// llama.cpp's Q8_0 does per 32): integer products summed exactly within a block.
constexpr int64_t kInt8Block = 128;

/// y[r, o] = scales[o] * sum_b xs[r, b] * sum_{i in b} xq[r, i] * w[o, i] + (bias ? bias[o] : 0)
/// for r < rows, o < out, where xq, xs = quantize_activations_int8(x[r]): the same result, to
/// the bit, for one row at a time or many (tiles). x [rows, in],
/// w [out, in], y [rows, out], all row-major and dense. `threads` <= 0: one per processor
/// (LibTorch's own thread count is left alone).
void gemv_int8(const float* x, int64_t rows, int64_t in, const int8_t* w, const float* scales,
               const float* bias, float* y, int64_t out, int threads = 0);

/// The same product with the weight in fp32 or in bf16 (the upper 16 bits of an fp32, as
/// LibTorch stores kBFloat16): the decode step of a float model, one pass over the weight split
/// over the same threads. gemv_bf16 rounds x to bf16 first (exact when x came from a bf16
/// tensor, as in a bf16 model) and sums the products in fp32.
void gemv_f32(const float* x, int64_t rows, int64_t in, const float* w, const float* bias,
              float* y, int64_t out, int threads = 0);
void gemv_bf16(const float* x, int64_t rows, int64_t in, const uint16_t* w, const float* bias,
               float* y, int64_t out, int threads = 0);

/// w_out[o, i] = scales[o] * w[o, i] for o < rows: int8 rows back to fp32 (a block of them at
/// a time, for a BLAS product when many rows of x are multiplied). Threads as gemv_int8.
void dequantize_int8(const int8_t* w, const float* scales, int64_t rows, int64_t in, float* w_out,
                     int threads = 0);

/// w_out[o, i] = w[o, i] as fp32 for o < rows: bf16 rows back to fp32 (exact), for a BLAS
/// product of many rows of x where the CPU lacks the tiles. Threads as gemv_int8.
void widen_bf16(const uint16_t* w, int64_t rows, int64_t in, float* w_out, int threads = 0);

/// Quantises one row of `in` floats to int8 with a symmetric scale max|w| / 127 (returned; 0
/// rows give scale 0 and zeros).
float quantize_row_int8(const float* w, int64_t in, int8_t* q);

/// x [rows, in] quantised as gemv_int8 quantises it (quantize_activations_int8, row by row)
/// and back to fp32 into x_out: what the int8 product multiplies, for a BLAS product.
void dequantized_activations_int8(const float* x, int64_t rows, int64_t in, float* x_out);

/// x [in] to int8 per block of kInt8Block (the last one shorter): q [in] and one scale per
/// block, scales [(in + kInt8Block - 1) / kInt8Block], each as quantize_row_int8.
void quantize_activations_int8(const float* x, int64_t in, int8_t* q, float* scales);

/// The instruction sets, in order: a path is taken when the CPU has it and the cap allows it.
/// amx is avx512 plus AMX-TILE and AMX-BF16 (Sapphire Rapids and later, on a Linux that grants
/// the tile state): gemv_bf16 over more than a decode step's rows works in AMX tiles.
enum class Isa : int { portable = 0, avx2 = 1, avx512 = 2, amx = 3 };

/// The best this CPU has (avx512 means F, BW, VL, VNNI and BF16 together).
Isa best_isa();

/// Caps the instruction set every product uses from now on (tests and kernels-bench compare
/// the paths one CPU has); returns the cap before. Not for use while products run.
Isa limit_isa(Isa cap);

const char* isa_name(Isa isa);

/// The set isa_name gives `name` ("amx", "avx512", "avx2", "portable"), else `otherwise` (null,
/// empty or unknown names). The cap starts at isa_from_name($REGIONCHAT_KERNELS_ISA, amx).
Isa isa_from_name(const char* name, Isa otherwise);

/// True when gemv_int8 and gemv_bf16 work in register tiles for many rows of x (AVX-512 tiles,
/// or AVX2 panels), so a prefill through them beats converting the weight for a BLAS product.
bool tiled_products();

/// True when gemv_f32 over many rows of x is the one to use for a prefill (the AVX2 panels:
/// each output one chain of FMAs in input order, so a row's result does not depend on the
/// other rows, which OpenBLAS's AVX2 product does not keep). Elsewhere BLAS is the faster.
bool f32_prefill_in_kernel();

/// The instruction set the products use now: "amx", "avx512", "avx2" or "portable".
const char* gemv_int8_isa();

}  // namespace rc::kernels
