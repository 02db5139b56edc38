#include "kernels/int8_gemv.h"
#include "kernels/decode_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RC_X86 1
// AMX tiles (bf16 prefill products): 64-bit Linux, which hands out the tile state on request,
// and a compiler with the intrinsics (GCC 11, Clang 12).
#if defined(__x86_64__) && defined(__linux__) && \
    (defined(__clang__) ? __clang_major__ >= 12 : (defined(__GNUC__) && __GNUC__ >= 11))
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define RC_AMX 1
#endif
#endif
#include <atomic>
#include <cstring>
#include <type_traits>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rc::kernels {

namespace {

inline void pause() {
#ifdef RC_X86
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

// A few persistent workers for the row blocks of one product. Not OpenMP: libgomp's workers
// spin after a parallel region (its active wait policy, by default), on the cores OpenBLAS's
// own threads need for the prefill's products; measured on the 2-core machine, a 319-token
// int8 prefill of the 1.1 B model took 12.7 s with OpenMP here and 5.4 s with
// OMP_WAIT_POLICY=passive. These workers spin briefly (a decode step calls again within
// microseconds), then sleep on a condition variable.
class Workers {
public:
    static Workers& get() {
        static Workers w;
        return w;
    }
    /// Runs f(0) .. f(n-1), f(0) on the calling thread; returns when all have finished.
    void run(int n, const std::function<void(int)>& f) {
        if (n <= 1) return f(0);
        std::unique_lock<std::mutex> call(call_);  // one product at a time
        {
            std::lock_guard<std::mutex> lock(m_);
            // A new worker starts from the generation before this product's, so it takes it.
            const uint64_t before = generation_.load(std::memory_order_relaxed);
            while (int(threads_.size()) < n - 1) {
                const int index = int(threads_.size()) + 1;
                threads_.emplace_back([this, index, before] { loop(index, before); });
            }
            job_ = &f;
            active_ = n;
            pending_.store(n - 1, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_release);
        }
        cv_.notify_all();
        f(0);
        // The others finish within microseconds of this thread (the work is shared out block by
        // block): spin, then give the processor up in case a worker is waiting for it.
        for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i)
            if (i < 2000) pause();
            else std::this_thread::yield();
    }
    ~Workers() {
        {
            std::lock_guard<std::mutex> lock(m_);
            stop_ = true;
            generation_.fetch_add(1, std::memory_order_release);
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

private:
    void loop(int index, uint64_t seen) {
        for (;;) {
            // Spin for a short while (some 100 us), then sleep until the next product.
            for (int i = 0; i < 4000 && generation_.load(std::memory_order_acquire) == seen; ++i)
                pause();
            const std::function<void(int)>* job = nullptr;
            {
                std::unique_lock<std::mutex> lock(m_);
                cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
                seen = generation_.load(std::memory_order_acquire);
                if (stop_) return;
                if (index < active_) job = job_;
            }
            if (job) {
                (*job)(index);
                pending_.fetch_sub(1, std::memory_order_acq_rel);
            }
        }
    }
    std::mutex call_, m_;
    std::condition_variable cv_;
    std::vector<std::thread> threads_;
    const std::function<void(int)>* job_ = nullptr;
    int active_ = 0;
    bool stop_ = false;
    std::atomic<int> pending_{0};
    std::atomic<uint64_t> generation_{0};
};

int thread_count(int threads) {
    if (threads > 0) return threads;
    static const int n = std::max(1u, std::thread::hardware_concurrency());
    return n;
}

inline uint32_t bits_of(float v) {
    uint32_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}
inline float float_of(uint32_t b) {
    float v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}
inline float to_float(float v) { return v; }
inline float to_float(uint16_t v) { return float_of(uint32_t(v) << 16); }  // bf16: an fp32's upper half

// fp32 to bf16, rounded to nearest even (what LibTorch's .to(kBFloat16) does; NaN stays NaN).
inline uint16_t to_bf16(float v) {
    const uint32_t b = bits_of(v);
    if ((b & 0x7fffffffu) > 0x7f800000u) return uint16_t((b >> 16) | 0x40);
    return uint16_t((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

// The cap starts at REGIONCHAT_KERNELS_ISA when it names a set ("amx", "avx512", "avx2",
// "portable"): a user whose CPU or VM mishandles one path steps down to the next, and a
// benchmark compares two paths in one build.
std::atomic<int> g_isa_cap{int(isa_from_name(std::getenv("REGIONCHAT_KERNELS_ISA"), Isa::amx))};

#ifdef RC_AMX
// AMX-TILE and AMX-BF16 (CPUID leaf 7, EDX bits 24 and 22), and the kernel's leave to use the
// tile data (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA, once for the whole process: Linux 5.16
// and later; without it the first tile instruction kills the process).
bool amx_usable() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((d >> 24) & 1u) || !((d >> 22) & 1u)) return false;
    constexpr long kReqXcompPerm = 0x1023, kXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXtiledata) == 0;
}
#endif

Isa cpu_isa() {
#ifdef RC_X86
    static const Isa isa = [] {
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
            __builtin_cpu_supports("avx512bf16")) {
#ifdef RC_AMX
            if (amx_usable()) return Isa::amx;
#endif
            return Isa::avx512;
        }
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
        return Isa::portable;
    }();
    return isa;
#else
    return Isa::portable;
#endif
}

Isa active_isa() { return Isa(std::min(int(cpu_isa()), g_isa_cap.load(std::memory_order_relaxed))); }

// The input rows of one product as the kernels read them, kept per calling thread so the decode
// loop allocates nothing after its first token.
struct Scratch {
    std::vector<int8_t> xq;    // int8 products: x quantised per block, [rows, in]
    std::vector<uint8_t> xa;   // |xq| (VNNI multiplies unsigned by signed bytes)
    std::vector<float> xs;     // one scale per block, [rows, blocks]
    std::vector<uint16_t> xb;  // bf16 products: x rounded to bf16, [rows, in]
    std::vector<float> xf;     // the same as fp32 (the AVX2 and portable paths)
    std::vector<uint8_t> xu;   // xq + 128 (the int8 tiles)
    std::vector<uint32_t> xp;  // bf16 pairs of x in AMX tiles (pack_amx_x)
    std::vector<float> xpanel; // x in groups of 6 rows for the AVX2 panels (pack_panel_x)
};

// From this many rows of x the AVX-512 int8 product works in tiles (int8_tiles_avx512: the
// same sums to the bit as the rows); the fp32 and bf16 ones beyond kFloatRowsMax rows (a
// decode step's few rows keep one summation order, whatever their number, as before the tiles).
constexpr int64_t kTileMinRows = 4;
constexpr int64_t kFloatRowsMax = 8;
Scratch& scratch() {
    thread_local Scratch s;
    return s;
}

int64_t blocks_of(int64_t in) { return (in + kInt8Block - 1) / kInt8Block; }

// ---- portable loops ------------------------------------------------------------------------

// Output rows [o0, o1) for every row of x: each weight row is read once and used for all rows
// of x while it is in L1. W: float or bf16 (uint16_t).
template <typename W>
void rows_portable(const float* x, int64_t rows, int64_t in, const W* w, const float* bias,
                   float* y, int64_t out, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
        const W* wr = w + o * in;
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * in;
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int64_t i = 0;
            for (; i + 8 <= in; i += 8)
                for (int k = 0; k < 8; ++k) acc[k] += xr[i + k] * to_float(wr[i + k]);
            float s = 0;
            for (float a : acc) s += a;
            for (; i < in; ++i) s += xr[i] * to_float(wr[i]);
            y[r * out + o] = s + (bias ? bias[o] : 0.f);
        }
    }
}

// int8 weights times quantised x: exact integer sums per block, then scaled.
void int8_rows_portable(const int8_t* xq, const float* xs, int64_t rows, int64_t in,
                        const int8_t* w, const float* scales, const float* bias, float* y,
                        int64_t out, int64_t o0, int64_t o1) {
    const int64_t nb = blocks_of(in);
    for (int64_t o = o0; o < o1; ++o) {
        const int8_t* wr = w + o * in;
        for (int64_t r = 0; r < rows; ++r) {
            const int8_t* xr = xq + r * in;
            float s = 0;
            for (int64_t b = 0; b < nb; ++b) {
                int32_t acc = 0;
                for (int64_t i = b * kInt8Block, e = std::min(in, i + kInt8Block); i < e; ++i)
                    acc += int32_t(xr[i]) * int32_t(wr[i]);
                s += float(acc) * xs[r * nb + b];
            }
            y[r * out + o] = s * scales[o] + (bias ? bias[o] : 0.f);
        }
    }
}

#ifdef RC_X86
// ---- AVX2 + FMA ----------------------------------------------------------------------------

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
__attribute__((target("avx2,fma"))) inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma"))) inline __m256 load8(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
__attribute__((target("avx2,fma"))) inline __m256 load8(const int8_t* p) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

// rows_portable with four accumulators of 8 lanes.
template <typename W>
__attribute__((target("avx2,fma"))) void rows_avx2(const float* x, int64_t rows, int64_t in,
                                                   const W* w, const float* bias, float* y,
                                                   int64_t out, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
        const W* wr = w + o * in;
        _mm_prefetch(reinterpret_cast<const char*>(wr + in), _MM_HINT_T0);
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * in;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            int64_t i = 0;
            for (; i + 32 <= in; i += 32) {
                a0 = _mm256_fmadd_ps(load8(wr + i), _mm256_loadu_ps(xr + i), a0);
                a1 = _mm256_fmadd_ps(load8(wr + i + 8), _mm256_loadu_ps(xr + i + 8), a1);
                a2 = _mm256_fmadd_ps(load8(wr + i + 16), _mm256_loadu_ps(xr + i + 16), a2);
                a3 = _mm256_fmadd_ps(load8(wr + i + 24), _mm256_loadu_ps(xr + i + 24), a3);
            }
            for (; i + 8 <= in; i += 8) a0 = _mm256_fmadd_ps(load8(wr + i), _mm256_loadu_ps(xr + i), a0);
            float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
            for (; i < in; ++i) s += xr[i] * to_float(wr[i]);
            y[r * out + o] = s + (bias ? bias[o] : 0.f);
        }
    }
}

// int8_rows_portable with byte products: |x| times w carrying x's sign, pairs summed to int16
// (at most 2 * 127 * 127, no overflow), then to int32.
__attribute__((target("avx2,fma"))) void int8_rows_avx2(const int8_t* xq, const uint8_t* xa,
                                                        const float* xs, int64_t rows, int64_t in,
                                                        const int8_t* w, const float* scales,
                                                        const float* bias, float* y, int64_t out,
                                                        int64_t o0, int64_t o1) {
    const int64_t nb = blocks_of(in);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t o = o0; o < o1; ++o) {
        const int8_t* wr = w + o * in;
        _mm_prefetch(reinterpret_cast<const char*>(wr + in), _MM_HINT_T0);
        for (int64_t r = 0; r < rows; ++r) {
            const int8_t* xr = xq + r * in;
            const uint8_t* ar = xa + r * in;
            __m256 acc = _mm256_setzero_ps();
            float tail = 0;
            for (int64_t b = 0; b < nb; ++b) {
                const int64_t i0 = b * kInt8Block, e = std::min(in, i0 + kInt8Block);
                __m256i isum = _mm256_setzero_si256();
                int64_t i = i0;
                for (; i + 32 <= e; i += 32) {
                    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + i));
                    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + i));
                    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar + i));
                    const __m256i p = _mm256_maddubs_epi16(av, _mm256_sign_epi8(wv, xv));
                    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, ones));
                }
                int32_t rest = 0;
                for (; i < e; ++i) rest += int32_t(xr[i]) * int32_t(wr[i]);
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(xs[r * nb + b]), acc);
                tail += float(rest) * xs[r * nb + b];
            }
            y[r * out + o] = (hsum(acc) + tail) * scales[o] + (bias ? bias[o] : 0.f);
        }
    }
}

// ---- AVX2 panels for many rows of x (a prefill without the AVX-512 tiles) --------------------
// y = x W^T + b as BLAS computes a product (blocks of W packed in panels of 16 outputs, each
// input of x broadcast against them), in one fixed order: every element of y is one chain of
// FMAs over the inputs in order, from zero, then + bias. Its value depends on nothing but its
// row of x and its row of W, so a row's result does not depend on how a prompt is cut into
// chunks. OpenBLAS's AVX2 (Haswell) product does not keep that: the same row of x gives other
// bits in a product of other rows (the app's and a server's DualFocus scores differed).
// W is read through a Src: fp32, bf16 (widened) or int8 times its row's scale.
struct SrcF32 {
    const float* w;
    int64_t in;
    float at(int64_t o, int64_t i) const { return w[o * in + i]; }
    __attribute__((target("avx2,fma"))) __m256 load(int64_t o, int64_t i) const { return _mm256_loadu_ps(w + o * in + i); }
};
struct SrcBf16 {
    const uint16_t* w;
    int64_t in;
    float at(int64_t o, int64_t i) const { return to_float(w[o * in + i]); }
    __attribute__((target("avx2,fma"))) __m256 load(int64_t o, int64_t i) const { return load8(w + o * in + i); }
};
struct SrcInt8 {
    const int8_t* w;
    const float* scales;
    int64_t in;
    float at(int64_t o, int64_t i) const { return scales[o] * float(w[o * in + i]); }
    __attribute__((target("avx2,fma"))) __m256 load(int64_t o, int64_t i) const {
        return _mm256_mul_ps(_mm256_set1_ps(scales[o]), load8(w + o * in + i));
    }
};

constexpr int64_t kPanelK = 128;       // inputs per packed block (a panel of 16 outputs: 8 KB)
constexpr int64_t kPanelBlock = 256;   // outputs per thread block at most

__attribute__((target("avx2,fma"))) inline void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// p[k * 16 + j] = W[o + j][k0 + k] for k < kk, j < 16; zeros for j >= nr.
template <typename Src>
__attribute__((target("avx2,fma"))) void pack_panel(const Src& src, int64_t o, int nr, int64_t k0,
                                                    int64_t kk, float* p) {
    for (int jb = 0; jb < 16; jb += 8) {
        int64_t k = 0;
        if (jb + 8 <= nr)
            for (; k + 8 <= kk; k += 8) {
                __m256 r[8];
                for (int j = 0; j < 8; ++j) r[j] = src.load(o + jb + j, k0 + k);
                transpose8(r);
                for (int i = 0; i < 8; ++i) _mm256_storeu_ps(p + (k + i) * 16 + jb, r[i]);
            }
        for (; k < kk; ++k)
            for (int j = jb; j < jb + 8; ++j) p[k * 16 + j] = j < nr ? src.at(o + j, k0 + k) : 0.f;
    }
}

// MR rows of x against one packed panel, both packed over the same kk inputs (xp[k * 6 + m]):
// c[m][0..16) (stride ldc) starts from zero (first) or from what c holds, and ends + bias[0..16)
// when bias is given (the last block).
template <int MR>
__attribute__((target("avx2,fma"))) void panel_tile(const float* xp, const float* p, int64_t kk,
                                                    float* c, int64_t ldc, bool first,
                                                    const float* bias) {
    __m256 a[MR][2];
#pragma GCC unroll 6
    for (int m = 0; m < MR; ++m)
        for (int h = 0; h < 2; ++h)
            a[m][h] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + m * ldc + 8 * h);
    for (int64_t k = 0; k < kk; ++k) {
        const __m256 w0 = _mm256_loadu_ps(p + k * 16), w1 = _mm256_loadu_ps(p + k * 16 + 8);
#pragma GCC unroll 6
        for (int m = 0; m < MR; ++m) {
            const __m256 xv = _mm256_broadcast_ss(xp + k * 6 + m);
            a[m][0] = _mm256_fmadd_ps(w0, xv, a[m][0]);
            a[m][1] = _mm256_fmadd_ps(w1, xv, a[m][1]);
        }
    }
    const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int m = 0; m < MR; ++m) {
        _mm256_storeu_ps(c + m * ldc, bias ? _mm256_add_ps(a[m][0], b0) : a[m][0]);
        _mm256_storeu_ps(c + m * ldc + 8, bias ? _mm256_add_ps(a[m][1], b1) : a[m][1]);
    }
}

// x [rows, in] in groups of 6 rows, each group's inputs interleaved: xp[(g * in + k) * 6 + m]
// holds x[6 g + m][k]; zeros past the last row. Once per product, shared by the threads.
void pack_panel_x(const float* x, int64_t rows, int64_t in, std::vector<float>& xp) {
    const int64_t groups = (rows + 5) / 6;
    xp.resize(size_t(groups * in * 6));
    for (int64_t g = 0; g < groups; ++g) {
        float* xg = xp.data() + g * in * 6;
        for (int m = 0; m < 6; ++m) {
            const int64_t r = g * 6 + m;
            if (r < rows) {
                const float* xr = x + r * in;
                for (int64_t k = 0; k < in; ++k) xg[k * 6 + m] = xr[k];
            } else {
                for (int64_t k = 0; k < in; ++k) xg[k * 6 + m] = 0.f;
            }
        }
    }
}

// Output rows [o0, o1) for every row of x (packed by pack_panel_x): per block of kPanelK
// inputs, the block's panels are packed once and each is run against all rows of x (x's block
// stays in L2, a panel in L1).
template <typename Src>
__attribute__((target("avx2,fma"))) void panels_avx2(const float* xp, int64_t rows, int64_t in,
                                                     const Src& src, const float* bias, float* y,
                                                     int64_t out, int64_t o0, int64_t o1) {
    thread_local std::vector<float> packed, tail, tail_bias;
    const int64_t n = o1 - o0, panels = (n + 15) / 16;
    const int last_nr = int(n - (panels - 1) * 16);
    packed.resize(size_t(panels * kPanelK * 16));
    if (last_nr < 16) {
        tail.resize(size_t(rows * 16));
        tail_bias.assign(16, 0.f);
        if (bias) std::copy(bias + o1 - last_nr, bias + o1, tail_bias.begin());
    }
    static const float zeros[16] = {};
    for (int64_t k0 = 0; k0 < in; k0 += kPanelK) {
        const int64_t kk = std::min(kPanelK, in - k0);
        const bool first = k0 == 0, last = k0 + kk >= in;
        for (int64_t q = 0; q < panels; ++q)
            pack_panel(src, o0 + q * 16, q + 1 < panels ? 16 : last_nr, k0, kk,
                       packed.data() + q * kPanelK * 16);
        for (int64_t q = 0; q < panels; ++q) {
            const bool full = q + 1 < panels || last_nr == 16;
            float* c = full ? y + o0 + q * 16 : tail.data();
            const int64_t ldc = full ? out : 16;
            const float* b = !last ? nullptr : full ? (bias ? bias + o0 + q * 16 : zeros) : tail_bias.data();
            const float* p = packed.data() + q * kPanelK * 16;
            int64_t g = 0;
            for (; (g + 1) * 6 <= rows; ++g) {
                if (!first)  // the next tile's sums, on their way from L3 while this one runs
                    for (int64_t m = 6; m < 12 && g * 6 + m < rows; ++m) {
                        _mm_prefetch(reinterpret_cast<const char*>(c + (g * 6 + m) * ldc), _MM_HINT_T0);
                        _mm_prefetch(reinterpret_cast<const char*>(c + (g * 6 + m) * ldc + 15), _MM_HINT_T0);
                    }
                panel_tile<6>(xp + (g * in + k0) * 6, p, kk, c + g * 6 * ldc, ldc, first, b);
            }
            const float* xg = xp + (g * in + k0) * 6;
            float* cg = c + g * 6 * ldc;
            switch (rows - g * 6) {
                case 5: panel_tile<5>(xg, p, kk, cg, ldc, first, b); break;
                case 4: panel_tile<4>(xg, p, kk, cg, ldc, first, b); break;
                case 3: panel_tile<3>(xg, p, kk, cg, ldc, first, b); break;
                case 2: panel_tile<2>(xg, p, kk, cg, ldc, first, b); break;
                case 1: panel_tile<1>(xg, p, kk, cg, ldc, first, b); break;
                default: break;
            }
        }
    }
    if (last_nr < 16)
        for (int64_t r = 0; r < rows; ++r)
            std::copy(tail.data() + r * 16, tail.data() + r * 16 + last_nr, y + r * out + o1 - last_nr);
}

// At most kXPanelRows rows of x (a second turn): the same sums as panels_avx2, element by
// element (one FMA chain over the inputs in order, from zero, then + bias), without packing
// and transposing the weight: x is packed transposed (xt[k * 24 + r]) and 4 weight rows are
// broadcast against 24 rows of x, per block of kXPanelK inputs (sums kept in `acc` between
// blocks). fp32 weights only: widening bf16 or int8 rows into a buffer for it measured no
// faster than their panels (22 rows of the 1.1 B shapes: 21-25 against 17-24 ms a layer).
constexpr int64_t kXPanelRows = 24;
constexpr int64_t kXPanelK = 512;

__attribute__((target("avx2,fma"))) void xpanels_f32_avx2(const float* xt, int64_t rows, int64_t in,
                                                          const float* w, const float* bias,
                                                          float* y, int64_t out, int64_t o0,
                                                          int64_t o1) {
    thread_local std::vector<float> acc;
    acc.resize(size_t((o1 - o0 + 3) / 4 * 4 * kXPanelRows));
    for (int64_t k0 = 0; k0 < in; k0 += kXPanelK) {
        const int64_t kk = std::min(kXPanelK, in - k0);
        const bool first = k0 == 0, last = k0 + kk >= in;
        for (int64_t o = o0; o < o1; o += 4) {
            const int nr = int(std::min<int64_t>(4, o1 - o));
            float* c = acc.data() + (o - o0) * kXPanelRows;  // c[j * 24 + r]
            const float* wr[4];
            for (int j = 0; j < 4; ++j) wr[j] = w + (o + std::min(j, nr - 1)) * in + k0;
            __m256 a[4][3];
            for (int j = 0; j < 4; ++j)
                for (int v = 0; v < 3; ++v)
                    a[j][v] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + j * 24 + 8 * v);
            const float* xk = xt + k0 * kXPanelRows;
            for (int64_t k = 0; k < kk; ++k) {
                const __m256 x0 = _mm256_loadu_ps(xk + k * 24), x1 = _mm256_loadu_ps(xk + k * 24 + 8),
                             x2 = _mm256_loadu_ps(xk + k * 24 + 16);
#pragma GCC unroll 4
                for (int j = 0; j < 4; ++j) {
                    const __m256 wv = _mm256_broadcast_ss(wr[j] + k);
                    a[j][0] = _mm256_fmadd_ps(wv, x0, a[j][0]);
                    a[j][1] = _mm256_fmadd_ps(wv, x1, a[j][1]);
                    a[j][2] = _mm256_fmadd_ps(wv, x2, a[j][2]);
                }
            }
            for (int j = 0; j < 4; ++j)
                for (int v = 0; v < 3; ++v) _mm256_storeu_ps(c + j * 24 + 8 * v, a[j][v]);
            if (last)
                for (int j = 0; j < nr; ++j) {
                    const float b = bias ? bias[o + j] : 0.f;
                    for (int64_t r = 0; r < rows; ++r) y[r * out + o + j] = c[j * 24 + r] + b;
                }
        }
    }
}

// ---- AVX-512 (F, BW, VL, VNNI, BF16) ---------------------------------------------------------
#define RC_AVX512 "avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16,avx2,fma"

__attribute__((target(RC_AVX512))) inline __mmask16 tail16(int64_t n) {
    return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
}
__attribute__((target(RC_AVX512))) inline __mmask32 tail32(int64_t n) {
    return n >= 32 ? __mmask32(0xffffffffu) : __mmask32((1u << n) - 1);
}

// The sum of 16 lanes (GCC 12's _mm512_reduce_add_ps warns of an uninitialised value).
__attribute__((target(RC_AVX512))) inline float hsum512(__m512 v) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, v);
    return hsum(_mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8)));
}

// How a step of x and of a weight row is loaded and multiplied into 16 fp32 lanes: 32 bf16 at a
// time by VDPBF16PS (pairs multiplied exactly, summed in fp32; x rounded to bf16 first), or 16
// floats by an FMA.
struct Bf16Dot {
    using T = uint16_t;
    using V = __m512i;
    using Mask = __mmask32;
    static constexpr int64_t step = 32;
    __attribute__((target(RC_AVX512))) static Mask mask(int64_t n) { return tail32(n); }
    __attribute__((target(RC_AVX512))) static V load(Mask k, const T* p) {
        return _mm512_maskz_loadu_epi16(k, p);
    }
    __attribute__((target(RC_AVX512))) static __m512 madd(__m512 acc, V w, V x) {
        return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)x);
    }
};
struct F32Dot {
    using T = float;
    using V = __m512;
    using Mask = __mmask16;
    static constexpr int64_t step = 16;
    __attribute__((target(RC_AVX512))) static Mask mask(int64_t n) { return tail16(n); }
    __attribute__((target(RC_AVX512))) static V load(Mask k, const T* p) {
        return _mm512_maskz_loadu_ps(k, p);
    }
    __attribute__((target(RC_AVX512))) static __m512 madd(__m512 acc, V w, V x) {
        return _mm512_fmadd_ps(w, x, acc);
    }
};

// fp32 or bf16 weights (D: F32Dot, Bf16Dot), one row of x at a time (a decode step): four
// accumulators, the tail through masked loads. Faster here than tiles of 1 x 4 weight rows.
template <typename D>
__attribute__((target(RC_AVX512))) void dot_rows_avx512(const typename D::T* x, int64_t rows,
                                                         int64_t in, const typename D::T* w,
                                                         const float* bias, float* y,
                                                         int64_t out, int64_t o0, int64_t o1) {
    const auto all = D::mask(D::step);
    for (int64_t o = o0; o < o1; ++o) {
        const auto* wr = w + o * in;
        for (int64_t r = 0; r < rows; ++r) {
            const auto* xr = x + r * in;
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            int64_t i = 0;
            for (; i + 4 * D::step <= in; i += 4 * D::step) {
                a0 = D::madd(a0, D::load(all, wr + i), D::load(all, xr + i));
                a1 = D::madd(a1, D::load(all, wr + i + D::step), D::load(all, xr + i + D::step));
                a2 = D::madd(a2, D::load(all, wr + i + 2 * D::step), D::load(all, xr + i + 2 * D::step));
                a3 = D::madd(a3, D::load(all, wr + i + 3 * D::step), D::load(all, xr + i + 3 * D::step));
            }
            for (; i < in; i += D::step) {
                const auto m = D::mask(in - i);
                a0 = D::madd(a0, D::load(m, wr + i), D::load(m, xr + i));
            }
            const float s = hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
            y[r * out + o] = s + (bias ? bias[o] : 0.f);
        }
    }
}

// An int8 output from its lanes: (sum of lanes) * scale, then + bias, rounded twice, on every
// AVX-512 path (written with intrinsics, which GCC does not contract into one FMA as it may
// contract `a * b + c` in one function and not in another: the paths must agree to the bit).
__attribute__((target(RC_AVX512))) inline float int8_output(__m256 acc, float scale, float bias) {
    const __m128 p = _mm_mul_ss(_mm_set_ss(hsum(acc)), _mm_set_ss(scale));
    return _mm_cvtss_f32(_mm_add_ss(p, _mm_set_ss(bias)));
}

// int8 weights times quantised x: VPDPBUSD multiplies |x| (unsigned) by w carrying x's sign
// (signed) and sums four products per int32 lane; 256-bit lanes, because AVX-512 has no byte
// sign instruction (and the CPUs that matter here split 512-bit work in two halves anyway).
// NR weight rows against one row of x: x's bytes loaded once for the NR rows, NR independent
// chains of sums in flight; each output is summed the same way (lanes, blocks, order) whatever
// NR, so the results are the same bits.
template <int NR>
__attribute__((target(RC_AVX512))) void int8_rows_nr(const int8_t* xr, const uint8_t* ar,
                                                      const float* sr, int64_t in,
                                                      const int8_t* w, const float* scales,
                                                      const float* bias, float* y) {
    __m256 acc[NR];
#pragma GCC unroll 4
    for (int n = 0; n < NR; ++n) acc[n] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; (b + 1) * kInt8Block <= in; ++b) {  // whole blocks
        const int64_t i = b * kInt8Block;
        __m256i s0[NR], s1[NR];
#pragma GCC unroll 4
        for (int n = 0; n < NR; ++n) s0[n] = s1[n] = _mm256_setzero_si256();
        for (int64_t k = 0; k < kInt8Block; k += 64) {
            const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + i + k));
            const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + i + k + 32));
            const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar + i + k));
            const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar + i + k + 32));
#pragma GCC unroll 4
            for (int n = 0; n < NR; ++n) {
                const int8_t* wr = w + n * in + i + k;
                // 1 KiB ahead in each row: four streams outrun the hardware's prefetcher
                // (1.1 B decode products here: 46 against 50 ms a token).
                _mm_prefetch(reinterpret_cast<const char*>(wr) + 1024, _MM_HINT_T0);
                const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr));
                const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + 32));
                s0[n] = _mm256_dpbusd_epi32(s0[n], a0, _mm256_sign_epi8(w0, x0));
                s1[n] = _mm256_dpbusd_epi32(s1[n], a1, _mm256_sign_epi8(w1, x1));
            }
        }
        const __m256 sc = _mm256_set1_ps(sr[b]);
#pragma GCC unroll 4
        for (int n = 0; n < NR; ++n)
            acc[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0[n], s1[n])), sc, acc[n]);
    }
    if (b * kInt8Block < in) {  // the last, shorter block: masked loads read zeros past the end
        __m256i s0[NR];
#pragma GCC unroll 4
        for (int n = 0; n < NR; ++n) s0[n] = _mm256_setzero_si256();
        for (int64_t i = b * kInt8Block; i < in; i += 32) {
            const __mmask32 m = tail32(in - i);
            const __m256i xv = _mm256_maskz_loadu_epi8(m, xr + i);
            const __m256i av = _mm256_maskz_loadu_epi8(m, ar + i);
#pragma GCC unroll 4
            for (int n = 0; n < NR; ++n)
                s0[n] = _mm256_dpbusd_epi32(s0[n], av, _mm256_sign_epi8(_mm256_maskz_loadu_epi8(m, w + n * in + i), xv));
        }
        const __m256 sc = _mm256_set1_ps(sr[b]);
#pragma GCC unroll 4
        for (int n = 0; n < NR; ++n) acc[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s0[n]), sc, acc[n]);
    }
#pragma GCC unroll 4
    for (int n = 0; n < NR; ++n) y[n] = int8_output(acc[n], scales[n], bias ? bias[n] : 0.f);
}

__attribute__((target(RC_AVX512))) void int8_rows_avx512(const int8_t* xq, const uint8_t* xa,
                                                          const float* xs, int64_t rows,
                                                          int64_t in, const int8_t* w,
                                                          const float* scales,
                                                          const float* bias, float* y,
                                                          int64_t out, int64_t o0, int64_t o1) {
    const int64_t nb = blocks_of(in);
    auto run = [&](auto nr, int64_t o) {
        for (int64_t r = 0; r < rows; ++r)
            int8_rows_nr<decltype(nr)::value>(xq + r * in, xa + r * in, xs + r * nb, in, w + o * in,
                                              scales + o, bias ? bias + o : nullptr, y + r * out + o);
    };
    int64_t o = o0;
    for (; o + 4 <= o1; o += 4) run(std::integral_constant<int, 4>{}, o);
    for (; o < o1; ++o) run(std::integral_constant<int, 1>{}, o);
}

// ---- tiles for many rows of x (a prefill) ---------------------------------------------------
// The rows kernels above read x from L1 for each weight row: fine for a few rows, but a prefill
// of hundreds would read x once per weight row. These multiply MR rows of x by NR weight rows
// at a time in registers, for a chunk of kTileRows rows of x that stays in L2 while the
// thread's block of weight rows is run through it.
constexpr int64_t kTileRows = 64;

// int8: VPDPBUSD takes x as unsigned bytes here, xu = xq + 128, and starts each block's
// integer sums from -128 * (the weight's sums over the block, lane by lane), so every lane ends
// with exactly the integer sum int8_rows_avx512 gets: the results are the same to the bit.
template <int MR, int NR>
__attribute__((target(RC_AVX512))) void int8_tile_avx512(const uint8_t* xu, const float* xs,
                                                          int64_t in, int64_t nb,
                                                          const int8_t* w, const __m256i* wcorr,
                                                          __m256* acc) {
    __m256 f[MR][NR];
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
        for (int n = 0; n < NR; ++n) f[m][n] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        __m256i s[MR][NR];
#pragma GCC unroll 4
        for (int n = 0; n < NR; ++n) {
            const __m256i c = _mm256_loadu_si256(wcorr + n * nb + b);
#pragma GCC unroll 4
            for (int m = 0; m < MR; ++m) s[m][n] = c;
        }
        const int64_t i0 = b * kInt8Block, e = std::min(in, i0 + kInt8Block);
        for (int64_t i = i0; i < e; i += 32) {  // (written out here: GCC keeps s in registers)
            const __mmask32 k = tail32(e - i);
            __m256i wv[NR];
#pragma GCC unroll 4
            for (int n = 0; n < NR; ++n) wv[n] = _mm256_maskz_loadu_epi8(k, w + n * in + i);
#pragma GCC unroll 4
            for (int m = 0; m < MR; ++m) {
                const __m256i xv = _mm256_maskz_loadu_epi8(k, xu + m * in + i);
#pragma GCC unroll 4
                for (int n = 0; n < NR; ++n) s[m][n] = _mm256_dpbusd_epi32(s[m][n], xv, wv[n]);
            }
        }
#pragma GCC unroll 4
        for (int m = 0; m < MR; ++m) {
            const __m256 sc = _mm256_set1_ps(xs[m * nb + b]);
#pragma GCC unroll 4
            for (int n = 0; n < NR; ++n) f[m][n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[m][n]), sc, f[m][n]);
        }
    }
    for (int m = 0; m < MR; ++m)
        for (int n = 0; n < NR; ++n) acc[m * NR + n] = f[m][n];
}

// int8_tile_avx512<4, 2> written out (see bf16_tile_4x4).
__attribute__((target(RC_AVX512))) void int8_tile_4x2(const uint8_t* xu, const float* xs,
                                                      int64_t in, int64_t nb, const int8_t* w,
                                                      const __m256i* wcorr, __m256* acc) {
#define RC_ROW(m) __m256 f##m##0 = _mm256_setzero_ps(), f##m##1 = f##m##0;
    RC_ROW(0) RC_ROW(1) RC_ROW(2) RC_ROW(3)
#undef RC_ROW
    for (int64_t b = 0; b < nb; ++b) {
        const __m256i c0 = _mm256_loadu_si256(wcorr + b), c1 = _mm256_loadu_si256(wcorr + nb + b);
#define RC_ROW(m) __m256i s##m##0 = c0, s##m##1 = c1;
        RC_ROW(0) RC_ROW(1) RC_ROW(2) RC_ROW(3)
#undef RC_ROW
        const int64_t i0 = b * kInt8Block, e = std::min(in, i0 + kInt8Block);
#define RC_ROW(m, load)                                                             \
    {                                                                               \
        const __m256i xv = load(xu + m * in + i);                                   \
        s##m##0 = _mm256_dpbusd_epi32(s##m##0, xv, w0);                             \
        s##m##1 = _mm256_dpbusd_epi32(s##m##1, xv, w1);                             \
    }
#define RC_FULL(p) _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
#define RC_TAIL(p) _mm256_maskz_loadu_epi8(k, p)
        if (e - i0 == kInt8Block) {  // a whole block: four steps, no masks
            for (int64_t i = i0; i < e; i += 32) {
                const __m256i w0 = RC_FULL(w + i), w1 = RC_FULL(w + in + i);
                RC_ROW(0, RC_FULL) RC_ROW(1, RC_FULL) RC_ROW(2, RC_FULL) RC_ROW(3, RC_FULL)
            }
        } else {
            for (int64_t i = i0; i < e; i += 32) {
                const __mmask32 k = tail32(e - i);
                const __m256i w0 = RC_TAIL(w + i), w1 = RC_TAIL(w + in + i);
                RC_ROW(0, RC_TAIL) RC_ROW(1, RC_TAIL) RC_ROW(2, RC_TAIL) RC_ROW(3, RC_TAIL)
            }
        }
#undef RC_FULL
#undef RC_TAIL
#undef RC_ROW
#define RC_ROW(m)                                                                   \
    {                                                                               \
        const __m256 sc = _mm256_set1_ps(xs[m * nb + b]);                           \
        f##m##0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s##m##0), sc, f##m##0);        \
        f##m##1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s##m##1), sc, f##m##1);        \
    }
        RC_ROW(0) RC_ROW(1) RC_ROW(2) RC_ROW(3)
#undef RC_ROW
    }
#define RC_ROW(m) acc[m * 2] = f##m##0, acc[m * 2 + 1] = f##m##1;
    RC_ROW(0) RC_ROW(1) RC_ROW(2) RC_ROW(3)
#undef RC_ROW
}

// -128 times each lane's sum of a weight row over each block (the lanes VPDPBUSD fills).
__attribute__((target(RC_AVX512))) void int8_block_sums(const int8_t* wr, int64_t in, int64_t nb,
                                                         __m256i* out) {
    const __m256i ones = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < nb; ++b) {
        __m256i s = _mm256_setzero_si256();
        for (int64_t i = b * kInt8Block, e = std::min(in, i + kInt8Block); i < e; i += 32)
            s = _mm256_dpbusd_epi32(s, ones, _mm256_maskz_loadu_epi8(tail32(e - i), wr + i));
        _mm256_storeu_si256(out + b, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s, 7)));
    }
}

template <int MR>
__attribute__((target(RC_AVX512))) void int8_tiles_mr(const uint8_t* xu, const float* xs,
                                                       int64_t r0, int64_t in, int64_t nb,
                                                       const int8_t* w, const float* scales,
                                                       const float* bias, float* y, int64_t out,
                                                       int64_t o, int nr, const __m256i* wcorr) {
    __m256 acc[MR * 2];
    if (MR == 4 && nr == 2) int8_tile_4x2(xu + r0 * in, xs + r0 * nb, in, nb, w + o * in, wcorr, acc);
    else if (nr == 2) int8_tile_avx512<MR, 2>(xu + r0 * in, xs + r0 * nb, in, nb, w + o * in, wcorr, acc);
    else int8_tile_avx512<MR, 1>(xu + r0 * in, xs + r0 * nb, in, nb, w + o * in, wcorr, acc);
    for (int m = 0; m < MR; ++m)
        for (int n = 0; n < nr; ++n)
            y[(r0 + m) * out + o + n] = int8_output(acc[m * nr + n], scales[o + n], bias ? bias[o + n] : 0.f);
}

__attribute__((target(RC_AVX512))) void int8_tiles_avx512(const uint8_t* xu, const float* xs,
                                                           int64_t rows, int64_t in,
                                                           const int8_t* w, const float* scales,
                                                           const float* bias, float* y,
                                                           int64_t out, int64_t o0, int64_t o1) {
    const int64_t nb = blocks_of(in);
    thread_local std::vector<int32_t> sums;  // 8 lanes per block, 2 weight rows
    if (sums.size() < size_t(16 * nb)) sums.resize(size_t(16 * nb));
    __m256i* wcorr = reinterpret_cast<__m256i*>(sums.data());
    for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
        const int64_t r1 = std::min(rows, r0 + kTileRows);
        for (int64_t o = o0; o < o1; o += 2) {
            const int nr = o + 1 < o1 ? 2 : 1;
            for (int n = 0; n < nr; ++n) int8_block_sums(w + (o + n) * in, in, nb, wcorr + n * nb);
            int64_t r = r0;
            for (; r + 4 <= r1; r += 4) int8_tiles_mr<4>(xu, xs, r, in, nb, w, scales, bias, y, out, o, nr, wcorr);
            for (; r < r1; ++r) int8_tiles_mr<1>(xu, xs, r, in, nb, w, scales, bias, y, out, o, nr, wcorr);
        }
    }
}

// bf16 and fp32 tiles: MR x NR accumulators of 16 fp32 lanes.
template <typename D, int MR, int NR>
__attribute__((target(RC_AVX512))) void dot_tile(const typename D::T* x, int64_t in,
                                                  const typename D::T* w, float* out_sums) {
    __m512 f[MR][NR];
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
        for (int n = 0; n < NR; ++n) f[m][n] = _mm512_setzero_ps();
    for (int64_t i = 0; i < in; i += D::step) {
        const auto k = D::mask(in - i);
        typename D::V wv[NR];
#pragma GCC unroll 4
        for (int n = 0; n < NR; ++n) wv[n] = D::load(k, w + n * in + i);
#pragma GCC unroll 4
        for (int m = 0; m < MR; ++m) {
            const auto xv = D::load(k, x + m * in + i);
#pragma GCC unroll 4
            for (int n = 0; n < NR; ++n) f[m][n] = D::madd(f[m][n], wv[n], xv);
        }
    }
    for (int m = 0; m < MR; ++m)
        for (int n = 0; n < NR; ++n) out_sums[m * NR + n] = hsum512(f[m][n]);
}

// dot_tile<D, 4, 4> written out: GCC keeps an array of 16 accumulators in memory (a store of
// each per step), named ones in registers.
template <typename D>
__attribute__((target(RC_AVX512))) void dot_tile_4x4(const typename D::T* x, int64_t in,
                                                     const typename D::T* w, float* out_sums) {
#define RC_ROW(m)                                                                           \
    __m512 f##m##0 = _mm512_setzero_ps(), f##m##1 = f##m##0, f##m##2 = f##m##0, f##m##3 = f##m##0;
    RC_ROW(0) RC_ROW(1) RC_ROW(2) RC_ROW(3)
#undef RC_ROW
    for (int64_t i = 0; i < in; i += D::step) {
        const auto k = D::mask(in - i);
        const auto w0 = D::load(k, w + i), w1 = D::load(k, w + in + i);
        const auto w2 = D::load(k, w + 2 * in + i), w3 = D::load(k, w + 3 * in + i);
#define RC_ROW(m)                                                                           \
    {                                                                                       \
        const auto xv = D::load(k, x + m * in + i);                                         \
        f##m##0 = D::madd(f##m##0, w0, xv);                                                 \
        f##m##1 = D::madd(f##m##1, w1, xv);                                                 \
        f##m##2 = D::madd(f##m##2, w2, xv);                                                 \
        f##m##3 = D::madd(f##m##3, w3, xv);                                                 \
    }
        RC_ROW(0) RC_ROW(1) RC_ROW(2) RC_ROW(3)
#undef RC_ROW
    }
#define RC_ROW(m)                                                                           \
    out_sums[m * 4 + 0] = hsum512(f##m##0), out_sums[m * 4 + 1] = hsum512(f##m##1);         \
    out_sums[m * 4 + 2] = hsum512(f##m##2), out_sums[m * 4 + 3] = hsum512(f##m##3);
    RC_ROW(0) RC_ROW(1) RC_ROW(2) RC_ROW(3)
#undef RC_ROW
}

template <typename D, int MR>
__attribute__((target(RC_AVX512))) void dot_tiles_mr(const typename D::T* x, int64_t r0,
                                                      int64_t in, const typename D::T* w,
                                                      const float* bias, float* y, int64_t out,
                                                      int64_t o, int nr) {
    float sums[MR * 4];
    const auto* xr = x + r0 * in;
    const auto* wr = w + o * in;
    switch (nr) {
        case 4:
            if constexpr (MR == 4) dot_tile_4x4<D>(xr, in, wr, sums);
            else dot_tile<D, MR, 4>(xr, in, wr, sums);
            break;
        case 3: dot_tile<D, MR, 3>(xr, in, wr, sums); break;
        case 2: dot_tile<D, MR, 2>(xr, in, wr, sums); break;
        default: dot_tile<D, MR, 1>(xr, in, wr, sums); break;
    }
    for (int m = 0; m < MR; ++m)
        for (int n = 0; n < nr; ++n) y[(r0 + m) * out + o + n] = sums[m * nr + n] + (bias ? bias[o + n] : 0.f);
}

template <typename D>
__attribute__((target(RC_AVX512))) void dot_tiles_avx512(const typename D::T* x, int64_t rows,
                                                          int64_t in, const typename D::T* w,
                                                          const float* bias, float* y,
                                                          int64_t out, int64_t o0, int64_t o1) {
    for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
        const int64_t r1 = std::min(rows, r0 + kTileRows);
        for (int64_t o = o0; o < o1; o += 4) {
            const int nr = int(std::min<int64_t>(4, o1 - o));
            int64_t r = r0;
            for (; r + 4 <= r1; r += 4) dot_tiles_mr<D, 4>(x, r, in, w, bias, y, out, o, nr);
            for (; r < r1; ++r) dot_tiles_mr<D, 1>(x, r, in, w, bias, y, out, o, nr);
        }
    }
}

#ifdef RC_AMX
// ---- AMX: the bf16 products of a prefill in tiles --------------------------------------------
// C[16 outputs][16 rows of x] += A[16 weight rows][32 inputs] B[16 input pairs][16 rows of x],
// by TDPBF16PS (pairs multiplied, summed in fp32 in input order). A is a strip of 32 weight
// rows copied tile by tile when many rows of x reuse it (contiguous loads; rows of the weight
// 2 * in bytes apart share L1 sets), read in place for a few; B is x packed once per product
// (pack_amx_x). 2 x 2 accumulator tiles, C transposed into y with the bias. Each element of y
// is summed over the same inputs in the same order, whichever rows of x share its tile: a
// row's result does not depend on how a prompt is cut into chunks.
#define RC_AMXT "amx-tile,amx-bf16," RC_AVX512

struct alignas(64) TileConfig {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};
constexpr int64_t kAmxTile = 256;  // uint32 words (bf16 pairs) in one 16 x 64-byte tile

// x [rows, in] (fp32) as bf16 pairs in tiles: xp[(rb * kb + k) * 256 + p * 16 + j] holds
// x[16 rb + j][32 k + 2 p] and the next input, rounded to bf16; zeros past rows and in.
void pack_amx_x(const float* x, int64_t rows, int64_t in, std::vector<uint32_t>& xp) {
    const int64_t kb = (in + 31) / 32, rbn = (rows + 15) / 16;
    xp.assign(size_t(rbn * kb * kAmxTile), 0u);
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * in;
        uint32_t* dst = xp.data() + (r / 16) * kb * kAmxTile + (r % 16);
        for (int64_t i = 0; i < in; i += 2) {
            const uint32_t lo = to_bf16(xr[i]), hi = i + 1 < in ? to_bf16(xr[i + 1]) : 0u;
            dst[(i / 32) * kAmxTile + ((i % 32) / 2) * 16] = lo | (hi << 16);
        }
    }
}

// y[r0 + j][o + i] = c[i * 16 + j] + bias[o + i] for j < nr, i < no: a 16 x 16 transpose in
// registers, one (masked) 64-byte store per row of y. (GCC 12 warns of an uninitialised value
// inside its own unpack and shuffle intrinsics, as of _mm512_reduce_add_ps: silenced here.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target(RC_AVX512))) inline void store_transposed(const float* c, float* y, int64_t out,
                                                                int nr, int no, const float* bias) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_load_ps(c + i * 16);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        const __m512d c2 = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c2));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c2));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int c4 = 0; c4 < 4; ++c4) {
        t[c4] = _mm512_shuffle_f32x4(r[c4], r[4 + c4], 0x88);
        t[4 + c4] = _mm512_shuffle_f32x4(r[c4], r[4 + c4], 0xdd);
        t[8 + c4] = _mm512_shuffle_f32x4(r[8 + c4], r[12 + c4], 0x88);
        t[12 + c4] = _mm512_shuffle_f32x4(r[8 + c4], r[12 + c4], 0xdd);
    }
    for (int c4 = 0; c4 < 4; ++c4) {
        r[c4] = _mm512_shuffle_f32x4(t[c4], t[8 + c4], 0x88);
        r[8 + c4] = _mm512_shuffle_f32x4(t[c4], t[8 + c4], 0xdd);
        r[4 + c4] = _mm512_shuffle_f32x4(t[4 + c4], t[12 + c4], 0x88);
        r[12 + c4] = _mm512_shuffle_f32x4(t[4 + c4], t[12 + c4], 0xdd);
    }
    const __mmask16 k = tail16(no);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(k, bias) : _mm512_setzero_ps();
    for (int j = 0; j < nr; ++j) _mm512_mask_storeu_ps(y + j * out, k, _mm512_add_ps(r[j], b));
}
#pragma GCC diagnostic pop

// 32 weight rows as A tiles: tile k of the first 16 at a0 + k * step, of the next 16 at
// a1 + k * step, their rows `stride` bytes apart.
struct AmxStrip {
    const uint16_t *a0, *a1;
    int64_t step, stride;
};

// Rows of x in tiles [rb, rb + (TWO ? 2 : 1)) against the strip's 32 weight rows (`on` of
// them real), into y with the bias.
template <bool TWO>
__attribute__((target(RC_AMXT))) void amx_strip(const AmxStrip& a, const uint32_t* xp, int64_t kb,
                                                 int64_t rb, int64_t rows, float* y, int64_t out,
                                                 int64_t o, int on, const float* bias) {
    alignas(64) float c[4][256];
    _tile_zero(0);
    _tile_zero(2);
    if (TWO) {
        _tile_zero(1);
        _tile_zero(3);
    }
    const uint32_t* b0 = xp + rb * kb * kAmxTile;
    const uint32_t* b1 = b0 + kb * kAmxTile;
    for (int64_t k = 0; k < kb; ++k) {
        _tile_loadd(4, a.a0 + k * a.step, a.stride);
        _tile_loadd(5, a.a1 + k * a.step, a.stride);
        _tile_loadd(6, b0 + k * kAmxTile, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(2, 5, 6);
        if (TWO) {
            _tile_loadd(7, b1 + k * kAmxTile, 64);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, c[0], 64);
    _tile_stored(2, c[2], 64);
    if (TWO) {
        _tile_stored(1, c[1], 64);
        _tile_stored(3, c[3], 64);
    }
    for (int h = 0; h < 2; ++h) {
        const int no = std::min(16, on - 16 * h);
        if (no <= 0) break;
        for (int q = 0; q < (TWO ? 2 : 1); ++q) {
            const int64_t r0 = (rb + q) * 16;
            store_transposed(c[2 * h + q], y + r0 * out + o + 16 * h, out,
                             int(std::min<int64_t>(16, rows - r0)), no, bias ? bias + o + 16 * h : nullptr);
        }
    }
}

// Weight rows [o, o + on) (on <= 32) copied into `strip`: tile k holds inputs [32 k, 32 k + 32)
// of 16 rows, 64 bytes each; zeros past the last row and past `in`.
AmxStrip pack_amx_strip(const uint16_t* w, int64_t in, int64_t o, int on, std::vector<uint16_t>& strip) {
    const int64_t kb = (in + 31) / 32;
    strip.resize(size_t(kb * 1024));
    for (int h = 0; h < 2; ++h)
        for (int i = 0; i < 16; ++i) {
            uint16_t* dst = strip.data() + h * 512 + i * 32;
            if (16 * h + i >= on) {
                for (int64_t k = 0; k < kb; ++k) std::memset(dst + k * 1024, 0, 64);
                continue;
            }
            const uint16_t* src = w + (o + 16 * h + i) * in;
            for (int64_t k = 0; k < kb; ++k) {
                const int64_t n = std::min<int64_t>(32, in - 32 * k);
                std::memcpy(dst + k * 1024, src + 32 * k, size_t(n) * 2);
                if (n < 32) std::memset(dst + k * 1024 + n, 0, size_t(32 - n) * 2);
            }
        }
    return AmxStrip{strip.data(), strip.data() + 512, 1024, 64};
}

// Output rows [o0, o1) of y = x W^T + b for every row of x, W bf16 [out, in].
__attribute__((target(RC_AMXT))) void bf16_amx(const uint32_t* xp, int64_t rows, int64_t in,
                                                const uint16_t* w, const float* bias, float* y,
                                                int64_t out, int64_t o0, int64_t o1) {
    const int64_t kb = (in + 31) / 32, rbn = (rows + 15) / 16;
    thread_local std::vector<uint16_t> strip;
    TileConfig cfg;
    for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    // Up to 32 rows of x (a second turn, a short prompt) use each weight tile once or twice:
    // loaded from the weight where it lies, as copying it would double the bytes read.
    const bool in_place = rbn <= 2 && in % 32 == 0;
    for (int64_t o = o0; o < o1; o += 32) {
        const int on = int(std::min<int64_t>(32, o1 - o));
        const AmxStrip a = in_place && on == 32 ? AmxStrip{w + o * in, w + (o + 16) * in, 32, 2 * in}
                                                : pack_amx_strip(w, in, o, on, strip);
        int64_t rb = 0;
        for (; rb + 2 <= rbn; rb += 2) amx_strip<true>(a, xp, kb, rb, rows, y, out, o, on, bias);
        if (rb < rbn) amx_strip<false>(a, xp, kb, rb, rows, y, out, o, on, bias);
    }
    _tile_release();
}
#endif

__attribute__((target("avx2,fma"))) void dequant_avx2(const int8_t* w, const float* scales,
                                                       int64_t o0, int64_t o1, int64_t in,
                                                       float* out) {
    for (int64_t o = o0; o < o1; ++o) {
        const int8_t* wr = w + o * in;
        float* dr = out + o * in;
        const __m256 s = _mm256_set1_ps(scales[o]);
        int64_t i = 0;
        for (; i + 8 <= in; i += 8) _mm256_storeu_ps(dr + i, _mm256_mul_ps(load8(wr + i), s));
        for (; i < in; ++i) dr[i] = scales[o] * float(wr[i]);
    }
}
#endif

// Output rows in blocks of 64 (sequential reads within a block), handed out one at a time to
// whichever thread is free: a thread the OS or a neighbour delays holds back one block, not
// half the product.
// run(i0, i1) over [0, count) in blocks of `block`, handed out to the workers when `worth_it`
// and there is more than one block; else run(0, count) on this thread.
template <typename Run>
void share_blocks(int64_t count, int64_t block, int threads, bool worth_it, const Run& run) {
    const int64_t blocks = (count + block - 1) / block;
    const int n = int(std::min<int64_t>(thread_count(threads), blocks));
    if (n > 1 && worth_it) {
        std::atomic<int64_t> next{0};
        Workers::get().run(n, [&](int) {
            for (int64_t b; (b = next.fetch_add(1, std::memory_order_relaxed)) < blocks;)
                run(b * block, std::min(count, (b + 1) * block));
        });
        return;
    }
    run(0, count);
}

template <typename Run>
void split_rows(int64_t in, int64_t out, int threads, const Run& run) {
    share_blocks(out, 64, threads, out * in >= (1 << 16), run);
}

// run(o0, o1) over [0, rows) cut into one even share per thread (rows of `in` values each:
// conversions, whose rows all cost the same), on this thread alone for small ones.
template <typename Run>
void split_evenly(int64_t rows, int64_t in, int threads, const Run& run) {
    const int n = int(std::min<int64_t>(thread_count(threads), rows));
    if (n > 1 && rows * in >= (1 << 16)) {
        const int64_t per = (rows + n - 1) / n;
        Workers::get().run(n, [&](int t) {
            const int64_t o0 = std::min(rows, t * per), o1 = std::min(rows, (t + 1) * per);
            if (o0 < o1) run(o0, o1);
        });
        return;
    }
    run(0, rows);
}

// x_out[r, i] = xq[r, i] * xs[r, i / kInt8Block]: quantised rows of x back to fp32, a block at a
// time (what the int8 products multiply, for a product in fp32).
void dequantize_blocks(const int8_t* xq, const float* xs, int64_t rows, int64_t in, float* x_out) {
    const int64_t nb = blocks_of(in);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t b = 0; b < nb; ++b) {
            const float scale = xs[r * nb + b];
            const int64_t i1 = std::min(in, (b + 1) * kInt8Block);
            for (int64_t i = b * kInt8Block; i < i1; ++i) x_out[r * in + i] = float(xq[r * in + i]) * scale;
        }
}

#ifdef RC_X86
// panels_avx2 over blocks of output rows (multiples of 16, at most kPanelBlock, about two per
// thread or more): the results do not depend on the blocks.
template <typename Src>
void share_panels(const float* x, int64_t rows, int64_t in, const Src& src, const float* bias,
                  float* y, int64_t out, int threads) {
    const int64_t per = (out + 2 * thread_count(threads) - 1) / (2 * thread_count(threads));
    const int64_t block = std::clamp<int64_t>((per + 15) / 16 * 16, 16, kPanelBlock);
    std::vector<float>& xp = scratch().xpanel;
    if constexpr (std::is_same_v<Src, SrcF32>) {
        if (rows <= kXPanelRows) {
            // fp32, a few rows (a second turn): x transposed, zeros past its rows
            // (xt[k * 24 + r]), the weight read where it lies (xpanels_f32_avx2).
            xp.assign(size_t(in * kXPanelRows), 0.f);
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t k = 0; k < in; ++k) xp[size_t(k * kXPanelRows + r)] = x[r * in + k];
            return split_rows(in, out, threads, [&](int64_t o0, int64_t o1) {
                xpanels_f32_avx2(xp.data(), rows, in, src.w, bias, y, out, o0, o1);
            });
        }
    }
    pack_panel_x(x, rows, in, xp);
    share_blocks(out, block, threads, rows * out * in >= (1 << 18), [&](int64_t o0, int64_t o1) {
        panels_avx2(xp.data(), rows, in, src, bias, y, out, o0, o1);
    });
}
#endif

}  // namespace

Isa best_isa() { return cpu_isa(); }

Isa limit_isa(Isa cap) { return Isa(g_isa_cap.exchange(int(cap))); }

Isa isa_from_name(const char* name, Isa otherwise) {
    if (name)
        for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512, Isa::amx})
            if (std::strcmp(name, isa_name(isa)) == 0) return isa;
    return otherwise;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::amx: return "amx";
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        case Isa::portable: break;
    }
    return "portable";
}

const char* gemv_int8_isa() { return isa_name(active_isa()); }

bool tiled_products() { return active_isa() >= Isa::avx2; }

bool f32_prefill_in_kernel() { return active_isa() == Isa::avx2; }

namespace {

#ifdef RC_X86
// quantize_row_int8 with AVX2: the same scale, the same rounding (to nearest even, as
// nearbyint in the default mode) and |q| alongside.
__attribute__((target("avx2,fma"))) float quantize_avx2(const float* x, int64_t n, int8_t* q,
                                                        uint8_t* a) {
    const __m256 sign = _mm256_set1_ps(-0.f);
    __m256 mv = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, mv);
    float m = 0;
    for (float v : lanes) m = std::max(m, v);
    for (int64_t k = i; k < n; ++k) m = std::max(m, std::fabs(x[k]));
    const float scale = m / 127.f;
    const float inv = scale > 0 ? 1.f / scale : 0.f;
    const __m256 iv = _mm256_set1_ps(inv), hi = _mm256_set1_ps(127.f), lo = _mm256_set1_ps(-127.f);
    i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(x + i), iv)));
        const __m256i qi = _mm256_cvtps_epi32(v);  // rounds to nearest even
        const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(qi), _mm256_extracti128_si256(qi, 1));
        const __m128i q8 = _mm_packs_epi16(q16, q16);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), q8);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(a + i), _mm_abs_epi8(q8));
    }
    for (; i < n; ++i) {
        q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(x[i] * inv), -127.f, 127.f));
        a[i] = uint8_t(std::abs(int(q[i])));
    }
    return scale;
}
#endif

// x [in] per block into q, |q| and the blocks' scales.
void quantize_blocks(const float* x, int64_t in, int8_t* q, uint8_t* a, float* scales, Isa isa) {
    for (int64_t b = 0; b < blocks_of(in); ++b) {
        const int64_t i0 = b * kInt8Block, n = std::min(kInt8Block, in - i0);
#ifdef RC_X86
        if (isa != Isa::portable) {
            scales[b] = quantize_avx2(x + i0, n, q + i0, a + i0);
            continue;
        }
#endif
        scales[b] = quantize_row_int8(x + i0, n, q + i0);
        for (int64_t i = i0; i < i0 + n; ++i) a[i] = uint8_t(std::abs(int(q[i])));
    }
}

}  // namespace

void quantize_activations_int8(const float* x, int64_t in, int8_t* q, float* scales) {
    // |q| is the products' business; it goes to this thread's scratch (no allocation per row
    // once it has grown: the int8 prefill without tiles calls this once per row).
    std::vector<uint8_t>& a = scratch().xa;
    if (a.size() < size_t(std::max<int64_t>(in, 0))) a.resize(size_t(in));
    quantize_blocks(x, in, q, a.data(), scales, active_isa());
}

void gemv_int8(const float* x, int64_t rows, int64_t in, const int8_t* w, const float* scales,
               const float* bias, float* y, int64_t out, int threads) {
    if (rows <= 0 || out <= 0) return;
    const Isa isa = active_isa();
    Scratch& sc = scratch();
    const int64_t nb = blocks_of(in);
    sc.xq.resize(size_t(rows * in));
    sc.xa.resize(size_t(rows * in));
    sc.xs.resize(size_t(rows * nb));
    for (int64_t r = 0; r < rows; ++r)
        quantize_blocks(x + r * in, in, sc.xq.data() + r * in, sc.xa.data() + r * in,
                        sc.xs.data() + r * nb, isa);
    const int8_t* xq = sc.xq.data();
    const uint8_t* xa = sc.xa.data();
    const float* xs = sc.xs.data();
#ifdef RC_X86
    if (isa == Isa::avx2 && rows > kFloatRowsMax) {
        // x quantised and back (what the integer sums multiply), W times its scales: panels.
        sc.xf.resize(size_t(rows * in));
        dequantize_blocks(xq, xs, rows, in, sc.xf.data());
        return share_panels(sc.xf.data(), rows, in, SrcInt8{w, scales, in}, bias, y, out, threads);
    }
    if (isa >= Isa::avx512 && rows >= kTileMinRows) {
        sc.xu.resize(sc.xq.size());
        for (size_t i = 0; i < sc.xq.size(); ++i) sc.xu[i] = uint8_t(sc.xq[i] ^ int8_t(-128));
        const uint8_t* xu = sc.xu.data();
        return split_rows(in, out, threads, [&](int64_t o0, int64_t o1) {
            int8_tiles_avx512(xu, xs, rows, in, w, scales, bias, y, out, o0, o1);
        });
    }
#endif
    split_rows(in, out, threads, [&](int64_t o0, int64_t o1) {
#ifdef RC_X86
        if (isa >= Isa::avx512) return int8_rows_avx512(xq, xa, xs, rows, in, w, scales, bias, y, out, o0, o1);
        if (isa == Isa::avx2) return int8_rows_avx2(xq, xa, xs, rows, in, w, scales, bias, y, out, o0, o1);
#endif
        int8_rows_portable(xq, xs, rows, in, w, scales, bias, y, out, o0, o1);
    });
}

void gemv_f32(const float* x, int64_t rows, int64_t in, const float* w, const float* bias,
              float* y, int64_t out, int threads) {
    if (rows <= 0 || out <= 0) return;
    const Isa isa = active_isa();
#ifdef RC_X86
    if (isa == Isa::avx2 && rows > kFloatRowsMax)
        return share_panels(x, rows, in, SrcF32{w, in}, bias, y, out, threads);
#endif
    split_rows(in, out, threads, [&](int64_t o0, int64_t o1) {
#ifdef RC_X86
        if (isa >= Isa::avx512 && rows > kFloatRowsMax)
            return dot_tiles_avx512<F32Dot>(x, rows, in, w, bias, y, out, o0, o1);
        if (isa >= Isa::avx512) return dot_rows_avx512<F32Dot>(x, rows, in, w, bias, y, out, o0, o1);
        if (isa == Isa::avx2) return rows_avx2<float>(x, rows, in, w, bias, y, out, o0, o1);
#endif
        rows_portable<float>(x, rows, in, w, bias, y, out, o0, o1);
    });
}

void gemv_bf16(const float* x, int64_t rows, int64_t in, const uint16_t* w, const float* bias,
               float* y, int64_t out, int threads) {
    if (rows <= 0 || out <= 0) return;
    const Isa isa = active_isa();
    Scratch& sc = scratch();
#ifdef RC_AMX
    if (isa == Isa::amx && rows > kFloatRowsMax) {
        pack_amx_x(x, rows, in, sc.xp);
        const uint32_t* xp = sc.xp.data();
        return split_rows(in, out, threads, [&](int64_t o0, int64_t o1) {
            bf16_amx(xp, rows, in, w, bias, y, out, o0, o1);
        });
    }
#endif
    const size_t n = size_t(rows * in);
    if (isa >= Isa::avx512) {
        sc.xb.resize(n);
        for (size_t i = 0; i < n; ++i) sc.xb[i] = to_bf16(x[i]);
    } else {
        sc.xf.resize(n);
        for (size_t i = 0; i < n; ++i) sc.xf[i] = to_float(to_bf16(x[i]));
    }
    const uint16_t* xb = sc.xb.data();
    const float* xf = sc.xf.data();
#ifdef RC_X86
    if (isa == Isa::avx2 && rows > kFloatRowsMax)
        return share_panels(xf, rows, in, SrcBf16{w, in}, bias, y, out, threads);
#endif
    split_rows(in, out, threads, [&](int64_t o0, int64_t o1) {
#ifdef RC_X86
        if (isa >= Isa::avx512 && rows > kFloatRowsMax)
            return dot_tiles_avx512<Bf16Dot>(xb, rows, in, w, bias, y, out, o0, o1);
        if (isa >= Isa::avx512) return dot_rows_avx512<Bf16Dot>(xb, rows, in, w, bias, y, out, o0, o1);
        if (isa == Isa::avx2) return rows_avx2<uint16_t>(xf, rows, in, w, bias, y, out, o0, o1);
#endif
        rows_portable<uint16_t>(xf, rows, in, w, bias, y, out, o0, o1);
    });
}

void dequantize_int8(const int8_t* w, const float* scales, int64_t rows, int64_t in, float* w_out,
                     int threads) {
    const Isa isa = active_isa();
    auto run = [&](int64_t o0, int64_t o1) {
#ifdef RC_X86
        if (isa != Isa::portable) return dequant_avx2(w, scales, o0, o1, in, w_out);
#endif
        for (int64_t o = o0; o < o1; ++o)
            for (int64_t i = 0; i < in; ++i) w_out[o * in + i] = scales[o] * float(w[o * in + i]);
    };
    split_evenly(rows, in, threads, run);
}

void widen_bf16(const uint16_t* w, int64_t rows, int64_t in, float* w_out, int threads) {
    split_evenly(rows, in, threads, [&](int64_t o0, int64_t o1) {
        for (int64_t i = o0 * in; i < o1 * in; ++i) w_out[i] = to_float(w[i]);
    });
}

void dequantized_activations_int8(const float* x, int64_t rows, int64_t in, float* x_out) {
    std::vector<int8_t> q(size_t(std::max<int64_t>(in, 0)));
    std::vector<float> sc(size_t(blocks_of(in)));
    for (int64_t r = 0; r < rows; ++r) {
        quantize_activations_int8(x + r * in, in, q.data(), sc.data());
        dequantize_blocks(q.data(), sc.data(), 1, in, x_out + r * in);
    }
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

// ---- decode_ops.h ------------------------------------------------------------------------------

namespace {

float dot_portable(const float* a, const float* b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}
void axpy_portable(float* y, float a, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
#ifdef RC_X86
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}
// e^x for 8 lanes (Cephes' expf: x = n ln 2 + r, |r| <= ln 2 / 2, a degree-6 polynomial for
// e^r, 2^n through the exponent bits), within 2 ulp of std::exp; x clamped to [-87.3, 88.7].
__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
    // n + 1 may reach 128 (x near 88.7): scale by 2^(n-1), then by 2.
    const __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
    return _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), _mm256_set1_ps(2.f));
}
// silu(g) * u for the whole groups of 8; returns how many it did.
__attribute__((target("avx2,fma"))) int64_t silu_mul_avx2(const float* g, const float* u,
                                                           float* y, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.f), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 gv = _mm256_loadu_ps(g + i);
        const __m256 d = _mm256_add_ps(one, exp8(_mm256_sub_ps(zero, gv)));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_div_ps(gv, d), _mm256_loadu_ps(u + i)));
    }
    return i;
}
// sc[i] = e^(sc[i] - m) for the whole groups of 8, their sum added to *sum; returns how many.
__attribute__((target("avx2,fma"))) int64_t exp_shift_avx2(float* sc, int64_t n, float m, float* sum) {
    const __m256 mv = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(sc + i), mv));
        _mm256_storeu_ps(sc + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    *sum += hsum(acc);
    return i;
}
__attribute__((target("avx2,fma"))) void axpy_avx2(float* y, float a, const float* x, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * x[i];
}
#endif

// f(r) for r < rows, rows of `width` elements: a prefill's rows split over the products'
// threads in blocks of 16 (a row's result is the same either way).
template <typename F>
void each_row(int64_t rows, int64_t width, const F& f) {
    share_blocks(rows, 16, 0, rows * width >= (1 << 16), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) f(r);
    });
}

// Query heads h*g .. h*g+g-1 against kv head h: each cached key and value row is read once for
// the g heads sharing it.
void attend_group(const float* q, int64_t g, int64_t hd, const float* k, const float* v,
                  int64_t S, float scale, float* out, bool simd) {
    thread_local std::vector<float> scores;
    scores.resize(size_t(g * S));
    auto dot = [&](const float* a, const float* b) {
#ifdef RC_X86
        if (simd) return dot_avx2(a, b, hd);
#endif
        return dot_portable(a, b, hd);
    };
    auto axpy = [&](float* y, float a, const float* x) {
#ifdef RC_X86
        if (simd) return axpy_avx2(y, a, x, hd);
#endif
        axpy_portable(y, a, x, hd);
    };
    for (int64_t s = 0; s < S; ++s)
        for (int64_t j = 0; j < g; ++j) scores[size_t(j * S + s)] = dot(q + j * hd, k + s * hd) * scale;
    for (int64_t j = 0; j < g; ++j) {
        float* sc = scores.data() + j * S;
        const float m = *std::max_element(sc, sc + S);
        float sum = 0;
        int64_t s0 = 0;
#ifdef RC_X86
        if (simd) s0 = exp_shift_avx2(sc, S, m, &sum);
#endif
        for (int64_t s = s0; s < S; ++s) sum += (sc[s] = std::exp(sc[s] - m));
        const float inv = 1.f / sum;
        for (int64_t s = 0; s < S; ++s) sc[s] *= inv;
        std::fill(out + j * hd, out + (j + 1) * hd, 0.f);
    }
    for (int64_t s = 0; s < S; ++s)
        for (int64_t j = 0; j < g; ++j) axpy(out + j * hd, scores[size_t(j * S + s)], v + s * hd);
}

}  // namespace

namespace {
template <typename W>
void rms_norm_rows(const float* x, const W* w, float* y, int64_t rows, int64_t dim, float eps) {
#ifdef RC_X86
    const bool simd = active_isa() != Isa::portable;
#endif
    each_row(rows, dim, [&](int64_t r) {
        const float* xr = x + r * dim;
        float* yr = y + r * dim;
        float ss;
#ifdef RC_X86
        if (simd) ss = dot_avx2(xr, xr, dim);
        else
#endif
            ss = dot_portable(xr, xr, dim);
        const float inv = 1.f / std::sqrt(ss / float(dim) + eps);
        for (int64_t i = 0; i < dim; ++i) yr[i] = to_float(w[i]) * (xr[i] * inv);
    });
}
}  // namespace

void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) {
    rms_norm_rows(x, w, y, rows, dim, eps);
}

void rms_norm(const float* x, const uint16_t* w_bf16, float* y, int64_t rows, int64_t dim, float eps) {
    rms_norm_rows(x, w_bf16, y, rows, dim, eps);
}

void silu_mul(const float* gu, float* y, int64_t rows, int64_t n) {
#ifdef RC_X86
    const bool simd = active_isa() != Isa::portable;
#endif
    each_row(rows, n, [&](int64_t r) {
        const float* g = gu + r * 2 * n;
        const float* u = g + n;
        float* yr = y + r * n;
        int64_t i = 0;
#ifdef RC_X86
        if (simd) i = silu_mul_avx2(g, u, yr, n);
#endif
        for (; i < n; ++i) yr[i] = g[i] / (1.f + std::exp(-g[i])) * u[i];
    });
}

void rope(float* x, int64_t heads, int64_t head_dim, const float* cos, const float* sin) {
    const int64_t half = head_dim / 2;
    for (int64_t h = 0; h < heads; ++h) {
        float* xh = x + h * head_dim;
        for (int64_t i = 0; i < half; ++i) {
            const float a = xh[i], b = xh[i + half];
            xh[i] = a * cos[i] + -b * sin[i];
            xh[i + half] = b * cos[i + half] + a * sin[i + half];
        }
    }
}

void attend_rows(const float* q, int64_t q_stride, int64_t rows, int64_t heads,
                 int64_t kv_heads, int64_t head_dim, const float* k, const float* v,
                 int64_t head_stride, int64_t S, float scale, float* out, int64_t out_stride,
                 int threads) {
    const int64_t g = heads / kv_heads;
    const bool simd = active_isa() != Isa::portable;
    // One unit of work: a row's query heads sharing kv head h. Each unit runs the same code
    // whichever thread takes it, so a row's result does not depend on the threads or on the
    // other rows.
    const int64_t units = rows * kv_heads;
    const int64_t work = (rows * S + rows * (rows - 1) / 2) * heads * head_dim;
    share_blocks(units, 1, threads, work >= (1 << 17), [&](int64_t u0, int64_t u1) {
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t t = u / kv_heads, h = u % kv_heads;
            attend_group(q + t * q_stride + h * g * head_dim, g, head_dim, k + h * head_stride,
                         v + h * head_stride, S + t, scale, out + t * out_stride + h * g * head_dim,
                         simd);
        }
    });
}

void attend_one(const float* q, int64_t heads, int64_t kv_heads, int64_t head_dim,
                const float* k, const float* v, int64_t head_stride, int64_t S, float scale,
                float* out, int threads) {
    attend_rows(q, 0, 1, heads, kv_heads, head_dim, k, v, head_stride, S, scale, out, 0, threads);
}

}  // namespace rc::kernels
