#include "kernels/int8_gemv.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RC_X86 1
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace rc::kernels {

namespace {

// Output rows [o0, o1) for every row of x: each weight row is read once and used for all rows
// of x while it is in L1.
void rows_portable(const float* x, int64_t rows, int64_t in, const int8_t* w, const float* scales,
                   const float* bias, float* y, int64_t out, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
        const int8_t* wr = w + o * in;
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * in;
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int64_t i = 0;
            for (; i + 8 <= in; i += 8)
                for (int k = 0; k < 8; ++k) acc[k] += xr[i + k] * float(wr[i + k]);
            float s = 0;
            for (float a : acc) s += a;
            for (; i < in; ++i) s += xr[i] * float(wr[i]);
            y[r * out + o] = s * scales[o] + (bias ? bias[o] : 0.f);
        }
    }
}

#ifdef RC_X86
__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline __m256 widen8(const int8_t* p) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

__attribute__((target("avx2,fma"))) void rows_avx2(const float* x, int64_t rows, int64_t in,
                                                   const int8_t* w, const float* scales,
                                                   const float* bias, float* y, int64_t out,
                                                   int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
        const int8_t* wr = w + o * in;
        _mm_prefetch(reinterpret_cast<const char*>(wr + in), _MM_HINT_T0);
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * in;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            int64_t i = 0;
            for (; i + 32 <= in; i += 32) {
                a0 = _mm256_fmadd_ps(widen8(wr + i), _mm256_loadu_ps(xr + i), a0);
                a1 = _mm256_fmadd_ps(widen8(wr + i + 8), _mm256_loadu_ps(xr + i + 8), a1);
                a2 = _mm256_fmadd_ps(widen8(wr + i + 16), _mm256_loadu_ps(xr + i + 16), a2);
                a3 = _mm256_fmadd_ps(widen8(wr + i + 24), _mm256_loadu_ps(xr + i + 24), a3);
            }
            for (; i + 8 <= in; i += 8)
                a0 = _mm256_fmadd_ps(widen8(wr + i), _mm256_loadu_ps(xr + i), a0);
            float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
            for (; i < in; ++i) s += xr[i] * float(wr[i]);
            y[r * out + o] = s * scales[o] + (bias ? bias[o] : 0.f);
        }
    }
}

bool has_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}
#endif

}  // namespace

const char* gemv_int8_isa() {
#ifdef RC_X86
    if (has_avx2()) return "avx2";
#endif
    return "portable";
}

void gemv_int8(const float* x, int64_t rows, int64_t in, const int8_t* w, const float* scales,
               const float* bias, float* y, int64_t out, int threads) {
    if (rows <= 0 || out <= 0) return;
    auto run = &rows_portable;
#ifdef RC_X86
    if (has_avx2()) run = &rows_avx2;
#endif
    // Blocks of 64 output rows: a thread's share stays contiguous (sequential reads).
    const int64_t block = 64, blocks = (out + block - 1) / block;
#ifdef _OPENMP
    const int n = threads > 0 ? threads : omp_get_num_procs();
    if (n > 1 && blocks > 1 && out * in >= (1 << 16)) {
#pragma omp parallel for num_threads(n) schedule(static)
        for (int64_t b = 0; b < blocks; ++b)
            run(x, rows, in, w, scales, bias, y, out, b * block, std::min(out, (b + 1) * block));
        return;
    }
#else
    (void)threads;
#endif
    run(x, rows, in, w, scales, bias, y, out, 0, out);
}

float quantize_row_int8(const float* w, int64_t in, int8_t* q) {
    float m = 0;
    for (int64_t i = 0; i < in; ++i) m = std::max(m, std::fabs(w[i]));
    const float scale = m / 127.f;
    const float inv = scale > 0 ? 1.f / scale : 0.f;
    for (int64_t i = 0; i < in; ++i)
        q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(w[i] * inv), -127.f, 127.f));
    return scale;
}

}  // namespace rc::kernels
