#include "kernels/int8_gemv.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RC_X86 1
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
        while (pending_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
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

inline float to_float(float v) { return v; }
inline float to_float(int8_t v) { return float(v); }
inline float to_float(uint16_t v) {  // bf16: the upper half of an fp32
    const uint32_t bits = uint32_t(v) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// Output rows [o0, o1) for every row of x: each weight row is read once and used for all rows
// of x while it is in L1. W: float, bf16 (uint16_t) or int8 (then `scales` is one per row;
// null for float weights).
template <typename W>
void rows_portable(const float* x, int64_t rows, int64_t in, const W* w, const float* scales,
                   const float* bias, float* y, int64_t out, int64_t o0, int64_t o1) {
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
            y[r * out + o] = s * (scales ? scales[o] : 1.f) + (bias ? bias[o] : 0.f);
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

__attribute__((target("avx2,fma"))) inline __m256 load8(const int8_t* p) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}
__attribute__((target("avx2,fma"))) inline __m256 load8(const float* p) {
    return _mm256_loadu_ps(p);
}
__attribute__((target("avx2,fma"))) inline __m256 load8(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// rows_portable with AVX2 and FMA: four accumulators of 8 lanes.
template <typename W>
__attribute__((target("avx2,fma"))) void rows_avx2(const float* x, int64_t rows, int64_t in,
                                                   const W* w, const float* scales,
                                                   const float* bias, float* y, int64_t out,
                                                   int64_t o0, int64_t o1) {
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
            y[r * out + o] = s * (scales ? scales[o] : 1.f) + (bias ? bias[o] : 0.f);
        }
    }
}

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

namespace {

// Output rows in blocks of 64, each thread a contiguous share of them (sequential reads).
template <typename Run>
void split_rows(int64_t in, int64_t out, int threads, const Run& run) {
    const int64_t block = 64, blocks = (out + block - 1) / block;
    const int n = int(std::min<int64_t>(thread_count(threads), blocks));
    if (n > 1 && out * in >= (1 << 16)) {
        const int64_t per = (blocks + n - 1) / n;
        Workers::get().run(n, [&](int t) {
            const int64_t o0 = std::min(out, t * per * block), o1 = std::min(out, (t + 1) * per * block);
            if (o0 < o1) run(o0, o1);
        });
        return;
    }
    run(0, out);
}

template <typename W>
void gemv(const float* x, int64_t rows, int64_t in, const W* w, const float* scales,
          const float* bias, float* y, int64_t out, int threads) {
    if (rows <= 0 || out <= 0) return;
    split_rows(in, out, threads, [&](int64_t o0, int64_t o1) {
#ifdef RC_X86
        if (has_avx2()) return rows_avx2<W>(x, rows, in, w, scales, bias, y, out, o0, o1);
#endif
        rows_portable<W>(x, rows, in, w, scales, bias, y, out, o0, o1);
    });
}

}  // namespace

void gemv_int8(const float* x, int64_t rows, int64_t in, const int8_t* w, const float* scales,
               const float* bias, float* y, int64_t out, int threads) {
    gemv(x, rows, in, w, scales, bias, y, out, threads);
}

void gemv_f32(const float* x, int64_t rows, int64_t in, const float* w, const float* bias,
              float* y, int64_t out, int threads) {
    gemv(x, rows, in, w, nullptr, bias, y, out, threads);
}

void gemv_bf16(const float* x, int64_t rows, int64_t in, const uint16_t* w, const float* bias,
               float* y, int64_t out, int threads) {
    gemv(x, rows, in, w, nullptr, bias, y, out, threads);
}

void dequantize_int8(const int8_t* w, const float* scales, int64_t rows, int64_t in, float* w_out,
                     int threads) {
    auto run = [&](int64_t o0, int64_t o1) {
#ifdef RC_X86
        if (has_avx2()) return dequant_avx2(w, scales, o0, o1, in, w_out);
#endif
        for (int64_t o = o0; o < o1; ++o)
            for (int64_t i = 0; i < in; ++i) w_out[o * in + i] = scales[o] * float(w[o * in + i]);
    };
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
