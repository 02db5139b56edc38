// Weight-only int8 matrix-vector products for the CPU decode step (issue 24): y = x W^T + b
// with W stored as int8 [out, in] and one fp32 scale per output row, for a few rows of x at
// a time. Decoding one token reads every weight once, so its speed is the memory bandwidth
// divided by the bytes read: int8 reads a quarter of fp32's and half of bf16's.
//
// torch-free (plain arrays) so it builds and is tested on its own; AVX2+FMA when the CPU has
// them (chosen at run time: the build targets plain x86-64), a portable loop otherwise. Output
// rows are split over a few persistent threads of this library's own (not OpenMP: see
// int8_gemv.cpp).
#pragma once

#include <cstdint>

namespace rc::kernels {

/// y[r, o] = scales[o] * sum_i x[r, i] * w[o, i] + (bias ? bias[o] : 0) for r < rows, o < out.
/// x [rows, in], w [out, in], y [rows, out], all row-major and dense. `threads` <= 0: one per
/// processor (LibTorch's own thread count is left alone).
void gemv_int8(const float* x, int64_t rows, int64_t in, const int8_t* w, const float* scales,
               const float* bias, float* y, int64_t out, int threads = 0);

/// The same product with the weight in fp32 or in bf16 (the upper 16 bits of an fp32, as
/// LibTorch stores kBFloat16): the decode step of a float model, one pass over the weight split
/// over the same threads.
void gemv_f32(const float* x, int64_t rows, int64_t in, const float* w, const float* bias,
              float* y, int64_t out, int threads = 0);
void gemv_bf16(const float* x, int64_t rows, int64_t in, const uint16_t* w, const float* bias,
               float* y, int64_t out, int threads = 0);

/// w_out[o, i] = scales[o] * w[o, i] for o < rows: int8 rows back to fp32 (a block of them at
/// a time, for a BLAS product when many rows of x are multiplied). Threads as gemv_int8.
void dequantize_int8(const int8_t* w, const float* scales, int64_t rows, int64_t in, float* w_out,
                     int threads = 0);

/// Quantises one row of `in` floats to int8 with a symmetric scale max|w| / 127 (returned; 0
/// rows give scale 0 and zeros).
float quantize_row_int8(const float* w, int64_t in, int8_t* q);

/// The instruction set gemv_int8 uses on this CPU: "avx2" or "portable".
const char* gemv_int8_isa();

}  // namespace rc::kernels
