// kernels-bench: the decode step's matrix-vector products (core/kernels) on the shapes of a
// model, one token's worth at a time (every weight read once, as in decoding), against the
// memory read bandwidth of this machine (a benchmark, not a test: README, "Side by side with
// transformers, llama.cpp and vLLM (CPU)").
//
//   kernels-bench [--shape 1b|tiny] [--runs N] [--threads N] [--prefill ROWS] [--pages]
//
// Prints, per weight type and instruction set, the median over N tokens of the time for all
// the products of one token, the bytes read, GB/s and the share of the read bandwidth measured
// in the same run. With --prefill, also the products of a ROWS-token prefill (median of 3) in
// the best instruction set, in multiply-adds per second (fp32 too: the tiles that fp32
// prefills do not take, to compare with OpenBLAS). With --pages, only this: one token's
// bf16 products with the weights in 2 MiB pages and in 4 KiB pages (Linux's madvise), the two
// alternating token by token (3N tokens each), so the machine's load changes both alike; the
// median ratio of each pair is the figure (core/model/huge_pages.h).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "kernels/int8_gemv.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Mat {
    int64_t out, in;
};

// One token through a LLaMA-shaped decoder: fused q/k/v, o, fused gate/up, down per layer, and
// the language-model head.
std::vector<Mat> shapes(const std::string& name) {
    int64_t hidden = 2048, inter = 5632, kv = 256, layers = 22, vocab = 32000;
    if (name == "tiny") hidden = 256, inter = 688, kv = 256, layers = 4, vocab = 1200;
    std::vector<Mat> m;
    for (int64_t l = 0; l < layers; ++l) {
        m.push_back({hidden + 2 * kv, hidden});
        m.push_back({hidden, hidden});
        m.push_back({2 * inter, hidden});
        m.push_back({hidden, inter});
    }
    m.push_back({vocab, hidden});
    return m;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// The sum of n floats with AVX2 (a portable loop elsewhere): a read of memory as fast as this
// machine reads it.
#if defined(__x86_64__)
__attribute__((target("avx2"))) float sum_floats(const float* a, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(a + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(a + i + 24));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    float s = 0;
    for (float v : lanes) s += v;
    for (; i < n; ++i) s += a[i];
    return s;
}
#else
float sum_floats(const float* a, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; ++i) s += a[i];
    return s;
}
#endif

// Read bandwidth: N threads summing their share of a 1 GiB buffer, median of 5 passes.
double read_bandwidth(int threads) {
    const size_t n = size_t(1) << 28;  // floats
    std::vector<float> a(n, 1.f);
    std::vector<double> gbs;
    volatile float sink = 0;
    for (int pass = 0; pass < 5; ++pass) {
        std::vector<float> sums(static_cast<size_t>(threads));
        const auto t0 = Clock::now();
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; ++t)
            ts.emplace_back([&, t] {
                const size_t b = n / size_t(threads) * size_t(t), e = n / size_t(threads) * size_t(t + 1);
                sums[size_t(t)] = sum_floats(a.data() + b, e - b);
            });
        for (auto& t : ts) t.join();
        gbs.push_back(double(n) * 4 / seconds(t0, Clock::now()) / 1e9);
        for (float s : sums) sink = sink + s;
    }
    return median(gbs);
}

#ifdef __linux__
// `bytes` of anonymous memory at a 2 MiB boundary, advised into huge pages or kept out of them,
// touched once so that the pages exist before timing.
struct PageBuffer {
    PageBuffer(size_t bytes, bool huge) : size(bytes + (size_t(2) << 20)) {
        base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) {
            base = nullptr;
            return;
        }
        const uintptr_t a = (reinterpret_cast<uintptr_t>(base) + (uintptr_t(2) << 20) - 1) &
                            ~((uintptr_t(2) << 20) - 1);
        data = reinterpret_cast<uint16_t*>(a);
        madvise(data, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        for (size_t i = 0; i < bytes / 2; ++i) data[i] = uint16_t(0x3c00 + (i * 2654435761u >> 23) % 0x200);
    }
    ~PageBuffer() {
        if (base) munmap(base, size);
    }
    size_t size;
    void* base = nullptr;
    uint16_t* data = nullptr;
};

// Huge pages against small ones for a bf16 decode step, in alternation (see the top).
int compare_pages(const std::vector<Mat>& mats, int runs, int threads) {
    int64_t params = 0, max_in = 0, max_out = 0;
    for (const auto& m : mats) params += m.in * m.out, max_in = std::max(max_in, m.in), max_out = std::max(max_out, m.out);
    PageBuffer small(size_t(params) * 2, false), huge(size_t(params) * 2, true);
    if (!small.data || !huge.data) {
        std::fprintf(stderr, "kernels-bench: cannot map %lld MB twice\n", static_cast<long long>(params * 2 >> 20));
        return 1;
    }
    std::vector<float> x(static_cast<size_t>(max_in), 0.5f), y(static_cast<size_t>(max_out));
    auto token = [&](const uint16_t* w) {
        const auto t0 = Clock::now();
        size_t off = 0;
        for (const auto& m : mats) {
            rc::kernels::gemv_bf16(x.data(), 1, m.in, w + off, nullptr, y.data(), m.out, threads);
            off += size_t(m.in * m.out);
        }
        return seconds(t0, Clock::now());
    };
    token(small.data), token(huge.data);  // warm-up
    std::vector<double> ts, th, ratio;
    for (int r = 0; r < 3 * runs; ++r) {
        ts.push_back(token(small.data));
        th.push_back(token(huge.data));
        ratio.push_back(ts.back() / th.back());
    }
    const double bytes = 2.0 * double(params);
    std::printf("bf16 %s, %.1f MB/token, %d tokens each, alternating:\n", rc::kernels::gemv_int8_isa(),
                bytes / 1e6, 3 * runs);
    std::printf("4 KiB pages  %8.2f ms/token %6.1f GB/s\n", median(ts) * 1e3, bytes / median(ts) / 1e9);
    std::printf("2 MiB pages  %8.2f ms/token %6.1f GB/s\n", median(th) * 1e3, bytes / median(th) / 1e9);
    std::printf("time with 4 KiB / time with 2 MiB pages, median of the pairs: %.3f\n", median(ratio));
    return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    std::string shape = "1b";
    int runs = 9, threads = 0, prefill = 0;
    bool pages = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--shape" && i + 1 < argc) shape = argv[++i];
        else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--prefill" && i + 1 < argc) prefill = std::max(0, std::atoi(argv[++i]));
        else if (a == "--pages") pages = true;
        else {
            std::fprintf(stderr, "usage: kernels-bench [--shape 1b|tiny] [--runs N] [--threads N] [--prefill ROWS] [--pages]\n");
            return 2;
        }
    }
    const auto mats = shapes(shape);
#ifdef __linux__
    if (pages) return compare_pages(mats, runs, threads);
#else
    if (pages) {
        std::fprintf(stderr, "kernels-bench: --pages needs Linux\n");
        return 2;
    }
#endif
    const int nthreads = threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
    const double bw = read_bandwidth(nthreads);
    std::printf("shape %s, %zu products per token, %d threads, isa %s\n", shape.c_str(), mats.size(),
                nthreads, rc::kernels::gemv_int8_isa());
    std::printf("read bandwidth %.1f GB/s (median of 5 passes over 1 GiB)\n", bw);

    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 1.f);
    int64_t max_in = 0, max_out = 0, params = 0;
    for (const auto& m : mats) max_in = std::max(max_in, m.in), max_out = std::max(max_out, m.out),
                               params += m.in * m.out;
    std::vector<float> x(static_cast<size_t>(max_in)), y(static_cast<size_t>(max_out));
    for (auto& v : x) v = nd(rng);

    auto report = [&](const std::string& name, double bytes, const std::vector<double>& times) {
        const double t = median(times);
        std::printf("%-16s %7.1f MB/token %8.2f ms/token %7.1f tokens/s %6.1f GB/s %5.1f%% of read bandwidth\n",
                    name.c_str(), bytes / 1e6, t * 1e3, 1 / t, bytes / t / 1e9, 100 * bytes / t / 1e9 / bw);
    };
    // One token's products, `runs` times (after one warm-up token), with the weight of each
    // product at its own place in `w`.
    auto time_tokens = [&](const auto& product) {
        std::vector<double> times;
        for (int r = 0; r < runs + 1; ++r) {
            const auto t0 = Clock::now();
            size_t off = 0;
            for (const auto& m : mats) {
                product(m, off);
                off += size_t(m.in * m.out);
            }
            if (r > 0) times.push_back(seconds(t0, Clock::now()));
        }
        return times;
    };
    std::vector<rc::kernels::Isa> isas;
    for (int i = int(rc::kernels::best_isa()); i >= 0; --i) isas.push_back(rc::kernels::Isa(i));
    auto label = [](const char* type, rc::kernels::Isa isa) {
        return std::string(type) + " " + rc::kernels::isa_name(isa);
    };
    {  // int8: one scale per row
        std::vector<int8_t> w(static_cast<size_t>(params));
        for (size_t i = 0; i < w.size(); ++i) w[i] = int8_t(int(rng() % 255) - 127);
        std::vector<float> s(static_cast<size_t>(max_out), 0.01f);
        for (auto isa : isas) {
            rc::kernels::limit_isa(isa);
            report(label("int8", isa), double(params), time_tokens([&](const Mat& m, size_t off) {
                       rc::kernels::gemv_int8(x.data(), 1, m.in, w.data() + off, s.data(), nullptr,
                                              y.data(), m.out, threads);
                   }));
        }
    }
    {
        std::vector<uint16_t> w(static_cast<size_t>(params));
        for (size_t i = 0; i < w.size(); ++i) w[i] = uint16_t(0x3c00 + rng() % 0x200);
        for (auto isa : isas) {
            rc::kernels::limit_isa(isa);
            report(label("bf16", isa), 2.0 * double(params), time_tokens([&](const Mat& m, size_t off) {
                       rc::kernels::gemv_bf16(x.data(), 1, m.in, w.data() + off, nullptr, y.data(),
                                              m.out, threads);
                   }));
        }
    }
    {
        std::vector<float> w(static_cast<size_t>(params));
        for (auto& v : w) v = 0.01f * float(int(rng() % 200) - 100);
        for (auto isa : isas) {
            rc::kernels::limit_isa(isa);
            report(label("fp32", isa), 4.0 * double(params), time_tokens([&](const Mat& m, size_t off) {
                       rc::kernels::gemv_f32(x.data(), 1, m.in, w.data() + off, nullptr, y.data(),
                                             m.out, threads);
                   }));
        }
    }
    rc::kernels::limit_isa(rc::kernels::best_isa());
    if (prefill > 0) {
        const int64_t rows = prefill;
        std::vector<float> xs(static_cast<size_t>(rows * max_in)), ys(static_cast<size_t>(rows * max_out));
        for (auto& v : xs) v = nd(rng);
        const double macs = double(params) * double(rows);
        auto time_prefill = [&](const auto& product) {
            std::vector<double> times;
            for (int r = 0; r < 3; ++r) {
                const auto t0 = Clock::now();
                size_t off = 0;
                for (const auto& m : mats) {
                    product(m, off);
                    off += size_t(m.in * m.out);
                }
                times.push_back(seconds(t0, Clock::now()));
            }
            return median(times);
        };
        std::printf("prefill of %lld rows (%s, tiles: %s):\n", static_cast<long long>(rows),
                    rc::kernels::gemv_int8_isa(), rc::kernels::tiled_products() ? "yes" : "no");
        {
            std::vector<int8_t> w(static_cast<size_t>(params), 3);
            std::vector<float> s(static_cast<size_t>(max_out), 0.01f);
            const double t = time_prefill([&](const Mat& m, size_t off) {
                rc::kernels::gemv_int8(xs.data(), rows, m.in, w.data() + off, s.data(), nullptr,
                                       ys.data(), m.out, threads);
            });
            std::printf("int8  %8.3f s  %7.1f G multiply-adds/s\n", t, macs / t / 1e9);
        }
        {  // bf16 in AMX tiles where the CPU has them, and in AVX-512 registers for comparison
            std::vector<uint16_t> w(static_cast<size_t>(params), 0x3c00);
            const auto best = rc::kernels::best_isa();
            for (auto isa : isas) {
                if (isa < rc::kernels::Isa::avx512 && isa != best) break;
                rc::kernels::limit_isa(isa);
                const double t = time_prefill([&](const Mat& m, size_t off) {
                    rc::kernels::gemv_bf16(xs.data(), rows, m.in, w.data() + off, nullptr, ys.data(),
                                           m.out, threads);
                });
                std::printf("bf16 %-8s %8.3f s  %7.1f G multiply-adds/s\n", rc::kernels::isa_name(isa), t,
                            macs / t / 1e9);
            }
            rc::kernels::limit_isa(best);
        }
        {
            std::vector<float> w(static_cast<size_t>(params), 0.01f);
            const double t = time_prefill([&](const Mat& m, size_t off) {
                rc::kernels::gemv_f32(xs.data(), rows, m.in, w.data() + off, nullptr, ys.data(),
                                      m.out, threads);
            });
            std::printf("fp32  %8.3f s  %7.1f G multiply-adds/s\n", t, macs / t / 1e9);
        }
    }
    return 0;
}
