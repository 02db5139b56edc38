// The CPU products of --dtype int8, bf16 and fp32 weights against double-precision loops, on
// every instruction-set path this CPU has (AMX, AVX-512, AVX2, portable; Isa caps them): odd sizes
// (tails), one to seventy rows (rows one at a time and the prefill's tiles), bias, threads; the
// int8 activation blocks; int8 rows round-trip within half a step and back to fp32 exactly.
#include <QtTest>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <random>
#include <vector>

#include "kernels/int8_gemv.h"

using namespace rc::kernels;

namespace {

// Every instruction set this CPU has, best first.
std::vector<Isa> isas() {
    std::vector<Isa> v;
    for (int i = int(best_isa()); i >= 0; --i) v.push_back(Isa(i));
    return v;
}

// Caps the instruction set for one scope.
struct IsaCap {
    explicit IsaCap(Isa cap) : before(limit_isa(cap)) {}
    ~IsaCap() { limit_isa(before); }
    Isa before;
};

float round_bf16(float v) {  // to nearest even, as gemv_bf16 rounds x
    uint32_t b;
    std::memcpy(&b, &v, 4);
    b = (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(&v, &b, 4);
    return v;
}

}  // namespace

class TestKernels : public QObject {
    Q_OBJECT

private slots:
    // Before any test caps it: the products start at REGIONCHAT_KERNELS_ISA where it names a
    // set this CPU has (CTest runs this a second time with "avx2"), else at the best.
    void initTestCase() {
        const Isa asked = isa_from_name(std::getenv("REGIONCHAT_KERNELS_ISA"), Isa::amx);
        const Isa want = Isa(std::min(int(asked), int(best_isa())));
        QCOMPARE(QString(gemv_int8_isa()), QString(isa_name(want)));
        QCOMPARE(tiled_products(), want >= Isa::avx2);
        QCOMPARE(f32_prefill_in_kernel(), want == Isa::avx2);
    }

    void isaNames() {
        for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512, Isa::amx})
            QCOMPARE(isa_from_name(isa_name(isa), Isa::portable), isa);
        QCOMPARE(isa_from_name(nullptr, Isa::avx2), Isa::avx2);
        QCOMPARE(isa_from_name("", Isa::avx512), Isa::avx512);
        QCOMPARE(isa_from_name("AVX512", Isa::avx2), Isa::avx2);  // names are lower case
        QCOMPARE(isa_from_name("sse", Isa::amx), Isa::amx);
    }

    void quantisedRowsRoundTrip() {
        std::mt19937 rng(1);
        std::normal_distribution<float> nd(0.f, 0.3f);
        std::vector<float> w(257);
        for (auto& v : w) v = nd(rng);
        w[100] = -2.5f;  // the largest magnitude maps to -127
        std::vector<int8_t> q(w.size());
        const float s = quantize_row_int8(w.data(), int64_t(w.size()), q.data());
        QCOMPARE(s, 2.5f / 127.f);
        QCOMPARE(int(q[100]), -127);
        for (size_t i = 0; i < w.size(); ++i) QVERIFY(std::fabs(q[i] * s - w[i]) <= 0.5f * s + 1e-7f);
        std::vector<float> zeros(9, 0.f);
        QCOMPARE(quantize_row_int8(zeros.data(), 9, q.data()), 0.f);
        QCOMPARE(int(q[0]), 0);
    }

    // int8 rows back to fp32 (the prefill path's weight blocks): exactly scale * q, with tails
    // and with the rows split over two threads.
    void dequantisedRowsAreExact() {
        for (int threads : {1, 2})
            for (int in : {7, 64, 300}) {
                const int rows = 260;
                std::mt19937 rng(uint32_t(in + threads));
                std::uniform_int_distribution<int> qd(-127, 127);
                std::vector<int8_t> q(size_t(rows) * in);
                for (auto& v : q) v = int8_t(qd(rng));
                std::vector<float> scales(rows), out(q.size(), -1.f);
                for (int o = 0; o < rows; ++o) scales[o] = 0.001f * float(o + 1);
                dequantize_int8(q.data(), scales.data(), rows, in, out.data(), threads);
                for (int o = 0; o < rows; ++o)
                    for (int i = 0; i < in; ++i)
                        QCOMPARE(out[size_t(o) * in + i], scales[o] * float(q[size_t(o) * in + i]));
            }
    }

    // The kernel's own worker threads: thousands of products in a row with changing thread
    // counts (workers joining, sitting out, sleeping between calls) all finish with the same
    // result as one thread.
    void workersFinishEveryProduct() {
        const int in = 128, out = 640;  // above the size the kernel splits from
        std::mt19937 rng(3);
        std::uniform_int_distribution<int> qd(-127, 127);
        std::normal_distribution<float> nd(0.f, 1.f);
        std::vector<int8_t> w(size_t(in) * out);
        for (auto& v : w) v = int8_t(qd(rng));
        std::vector<float> x(in), scales(out, 0.01f), ref(out), y(out);
        for (auto& v : x) v = nd(rng);
        gemv_int8(x.data(), 1, in, w.data(), scales.data(), nullptr, ref.data(), out, 1);
        for (int i = 0; i < 3000; ++i) {
            const int threads = 1 + i % 4;
            std::fill(y.begin(), y.end(), 0.f);
            gemv_int8(x.data(), 1, in, w.data(), scales.data(), nullptr, y.data(), out, threads);
            if (y != ref) QFAIL(("product " + std::to_string(i) + " with " + std::to_string(threads) + " threads differs").c_str());
            if (i % 1000 == 999) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    // The fp32 and bf16 weight products against a double loop over the same (bf16-rounded)
    // weights and, for bf16, x rounded to bf16: tails, 1, 3 and 9 rows (tiles from 4 on AVX-512),
    // bias, 1 and 2 threads, every instruction set.
    void floatGemvMatchesALoop() {
        std::mt19937 rng(4);
        std::normal_distribution<float> nd(0.f, 1.f);
        for (Isa isa : isas())
        for (int threads : {1, 2})
            for (int rows : {1, 3, 9})
                for (int in : {5, 64, 1000}) {
                    IsaCap cap(isa);
                    const int out = 300;
                    std::vector<float> x(size_t(rows) * in), w(size_t(out) * in), bias(out);
                    for (auto& v : x) v = nd(rng);
                    for (auto& v : w) v = nd(rng);
                    for (auto& v : bias) v = nd(rng);
                    std::vector<uint16_t> wb(w.size());
                    std::vector<float> wr(w.size());  // w rounded to bf16 (truncated: exact)
                    for (size_t i = 0; i < w.size(); ++i) {
                        uint32_t bits;
                        std::memcpy(&bits, &w[i], 4);
                        wb[i] = uint16_t(bits >> 16);
                        bits &= 0xffff0000u;
                        std::memcpy(&wr[i], &bits, 4);
                    }
                    std::vector<float> y32(size_t(rows) * out), y16(y32.size());
                    gemv_f32(x.data(), rows, in, w.data(), bias.data(), y32.data(), out, threads);
                    gemv_bf16(x.data(), rows, in, wb.data(), bias.data(), y16.data(), out, threads);
                    for (int r = 0; r < rows; ++r)
                        for (int o = 0; o < out; ++o) {
                            double a = bias[o], b = bias[o];
                            for (int i = 0; i < in; ++i) {
                                a += double(x[size_t(r) * in + i]) * w[size_t(o) * in + i];
                                b += double(round_bf16(x[size_t(r) * in + i])) * wr[size_t(o) * in + i];
                            }
                            const double tol = 1e-4 * std::sqrt(double(in)) + 1e-5;
                            if (std::fabs(a - y32[size_t(r) * out + o]) > tol ||
                                std::fabs(b - y16[size_t(r) * out + o]) > tol)
                                QFAIL(("row " + std::to_string(r) + " out " + std::to_string(o) +
                                       " in " + std::to_string(in) + " " + isa_name(isa)).c_str());
                        }
                }
    }

    void gemvMatchesALoop_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("in");
        QTest::addColumn<int>("out");
        QTest::addColumn<bool>("bias");
        QTest::addColumn<int>("threads");
        QTest::newRow("one row, aligned") << 1 << 256 << 130 << false << 1;
        QTest::newRow("tails") << 1 << 37 << 5 << true << 1;
        QTest::newRow("three rows, two threads") << 3 << 1000 << 515 << true << 2;
        QTest::newRow("shorter than a vector") << 2 << 7 << 3 << false << 0;
        QTest::newRow("large, all threads") << 1 << 2048 << 1024 << false << 0;
        QTest::newRow("tiles with row tails") << 7 << 300 << 131 << true << 2;
        QTest::newRow("a prefill's tiles") << 70 << 1000 << 67 << true << 0;
    }
    // The int8 product on every instruction set against a double loop over the same quantised
    // x (quantize_activations_int8: the integer sums are exact, so only fp32 rounding differs),
    // and against the unquantised x within the bound the activation blocks allow.
    void gemvMatchesALoop() {
        QFETCH(int, rows);
        QFETCH(int, in);
        QFETCH(int, out);
        QFETCH(bool, bias);
        QFETCH(int, threads);
        std::mt19937 rng(uint32_t(rows * 7919 + in));
        std::uniform_int_distribution<int> wd(-127, 127);
        std::normal_distribution<float> nd(0.f, 1.f);
        std::vector<int8_t> w(size_t(in) * out);
        for (auto& v : w) v = int8_t(wd(rng));
        std::vector<float> x(size_t(rows) * in), s(out), b(out);
        for (auto& v : x) v = nd(rng);
        for (auto& v : s) v = 0.01f + std::fabs(nd(rng)) * 0.01f;
        for (auto& v : b) v = nd(rng);
        const int64_t nb = (in + kInt8Block - 1) / kInt8Block;
        std::vector<int8_t> xq(x.size());
        std::vector<float> xs(size_t(rows * nb));
        for (int r = 0; r < rows; ++r)
            quantize_activations_int8(x.data() + size_t(r) * in, in, xq.data() + size_t(r) * in,
                                      xs.data() + size_t(r * nb));
        for (Isa isa : isas()) {
            IsaCap cap(isa);
            std::vector<float> y(size_t(rows) * out, NAN);
            gemv_int8(x.data(), rows, in, w.data(), s.data(), bias ? b.data() : nullptr, y.data(),
                      out, threads);
            double worst = 0, worst_bound = 0;
            for (int r = 0; r < rows; ++r)
                for (int o = 0; o < out; ++o) {
                    double ref = 0, exact = 0, bound = 0;
                    for (int64_t blk = 0; blk < nb; ++blk) {
                        int64_t isum = 0;
                        double wabs = 0;
                        for (int64_t i = blk * kInt8Block; i < std::min<int64_t>(in, (blk + 1) * kInt8Block); ++i) {
                            const int8_t wi = w[size_t(o) * in + size_t(i)];
                            isum += int64_t(xq[size_t(r) * in + size_t(i)]) * wi;
                            exact += double(x[size_t(r) * in + size_t(i)]) * wi;
                            wabs += std::abs(int(wi));
                        }
                        ref += double(isum) * xs[size_t(r * nb + blk)];
                        bound += 0.5 * xs[size_t(r * nb + blk)] * wabs;  // half a step per input
                    }
                    const double add = bias ? b[o] : 0.0;
                    ref = ref * s[o] + add;
                    exact = exact * s[o] + add;
                    const double got = y[size_t(r) * out + o];
                    QVERIFY2(std::isfinite(got), qPrintable(QString("row %1 out %2").arg(r).arg(o)));
                    worst = std::max(worst, std::fabs(got - ref) / (1.0 + std::fabs(ref)));
                    worst_bound = std::max(worst_bound, std::fabs(got - exact) / (bound * s[o] + 1e-4));
                }
            QVERIFY2(worst < 1e-4, qPrintable(QString("%1 (%2)").arg(worst).arg(isa_name(isa))));
            QVERIFY2(worst_bound <= 1.0, qPrintable(QString("%1 (%2)").arg(worst_bound).arg(isa_name(isa))));
        }
    }

    // The prefill's tiles give, to the bit for int8 and within fp32 rounding for bf16, what the
    // same rows of x give one at a time (the decode path), on every instruction set.
    void tilesEqualRowsOneAtATime() {
        std::mt19937 rng(9);
        std::normal_distribution<float> nd(0.f, 1.f);
        for (int in : {37, 128, 300, 2048})
            for (int rows : {4, 7, 70}) {
                const int out = 133;
                std::vector<float> x(size_t(rows) * in), s(out, 0.01f), b(out, 0.5f);
                for (auto& v : x) v = nd(rng);
                std::vector<int8_t> w(size_t(out) * in);
                for (auto& v : w) v = int8_t(int(rng() % 255) - 127);
                std::vector<uint16_t> wb(w.size());
                for (auto& v : wb) v = uint16_t((0x3c00 + rng() % 0x300) ^ (rng() % 2 ? 0x8000 : 0));
                for (Isa isa : isas()) {
                    IsaCap cap(isa);
                    std::vector<float> yi(size_t(rows) * out), yb(yi.size()), ri(yi.size()), rb(yi.size());
                    gemv_int8(x.data(), rows, in, w.data(), s.data(), b.data(), yi.data(), out, 2);
                    gemv_bf16(x.data(), rows, in, wb.data(), b.data(), yb.data(), out, 2);
                    for (int r = 0; r < rows; ++r) {
                        gemv_int8(x.data() + size_t(r) * in, 1, in, w.data(), s.data(), b.data(),
                                  ri.data() + size_t(r) * out, out, 1);
                        gemv_bf16(x.data() + size_t(r) * in, 1, in, wb.data(), b.data(),
                                  rb.data() + size_t(r) * out, out, 1);
                    }
                    const QString where = QString("in %1 rows %2 %3").arg(in).arg(rows).arg(isa_name(isa));
                    if (isa == Isa::avx2 && rows > 8) {
                        // The AVX2 panels sum the dequantised products in fp32: within its rounding.
                        for (size_t i = 0; i < yi.size(); ++i)
                            QVERIFY2(std::fabs(yi[i] - ri[i]) <= 1e-5f * std::sqrt(float(in)) * (1.f + std::fabs(ri[i])),
                                     qPrintable("int8 " + where));
                    } else {
                        QVERIFY2(yi == ri, qPrintable("int8 " + where));
                    }
                    for (size_t i = 0; i < yb.size(); ++i)
                        QVERIFY2(std::fabs(yb[i] - rb[i]) <= 1e-5f * (1.f + std::fabs(rb[i])),
                                 qPrintable("bf16 " + where));
                }
            }
    }

    // The kernel's float products give each row the same value, to the bit, however the rows
    // are cut into chunks of more than a decode step's (bf16 prefills take them, so a server
    // scoring a whole conversation and the app scoring its last turn agree): 70 rows at once
    // against chunks of 9 + 61 and 13 + 23 + 34, fp32, bf16 and int8, tile shapes and their
    // remainders (AVX2 panels: 6 rows by 16 outputs; 131 outputs leave a partial panel), 1 and
    // 2 threads, every instruction set.
    void floatChunksGiveTheSameRows() {
        std::mt19937 rng(12);
        std::normal_distribution<float> nd(0.f, 1.f);
        for (int in : {37, 256, 688, 2048}) {
            const int rows = 70, out = 131;
            std::vector<float> x(size_t(rows) * in), w(size_t(out) * in), b(out);
            for (auto& v : x) v = nd(rng);
            for (auto& v : w) v = nd(rng);
            for (auto& v : b) v = nd(rng);
            std::vector<uint16_t> wb(w.size());
            std::vector<int8_t> wq(w.size());
            std::vector<float> sq(out);
            for (size_t i = 0; i < w.size(); ++i) {
                uint32_t bits;
                std::memcpy(&bits, &w[i], 4);
                wb[i] = uint16_t(bits >> 16);
            }
            for (int o = 0; o < out; ++o)
                sq[size_t(o)] = quantize_row_int8(w.data() + size_t(o) * in, in, wq.data() + size_t(o) * in);
            for (Isa isa : isas())
                for (int threads : {1, 2}) {
                    IsaCap cap(isa);
                    std::vector<float> whole(size_t(rows) * out), wholeb(whole.size()), wholeq(whole.size());
                    gemv_f32(x.data(), rows, in, w.data(), b.data(), whole.data(), out, threads);
                    gemv_bf16(x.data(), rows, in, wb.data(), b.data(), wholeb.data(), out, threads);
                    gemv_int8(x.data(), rows, in, wq.data(), sq.data(), b.data(), wholeq.data(), out, threads);
                    for (const std::vector<int>& cuts : {std::vector<int>{9, 61}, std::vector<int>{13, 23, 34}}) {
                        std::vector<float> parts(whole.size()), partsb(whole.size()), partsq(whole.size());
                        int r0 = 0;
                        for (int n : cuts) {
                            gemv_f32(x.data() + size_t(r0) * in, n, in, w.data(), b.data(),
                                     parts.data() + size_t(r0) * out, out, threads);
                            gemv_bf16(x.data() + size_t(r0) * in, n, in, wb.data(), b.data(),
                                      partsb.data() + size_t(r0) * out, out, threads);
                            gemv_int8(x.data() + size_t(r0) * in, n, in, wq.data(), sq.data(), b.data(),
                                      partsq.data() + size_t(r0) * out, out, threads);
                            r0 += n;
                        }
                        const QString where = QString("in %1, %2 chunks, %3 threads, %4")
                                                  .arg(in).arg(cuts.size()).arg(threads).arg(isa_name(isa));
                        QVERIFY2(parts == whole, qPrintable("fp32 " + where));
                        QVERIFY2(partsb == wholeb, qPrintable("bf16 " + where));
                        QVERIFY2(partsq == wholeq, qPrintable("int8 " + where));
                    }
                }
        }
    }

    // The activation blocks: each as quantize_row_int8, the last one shorter.
    void activationBlocks() {
        std::vector<float> x(300);
        for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i)) * float(1 + i / 128);
        std::vector<int8_t> q(x.size()), qr(x.size());
        std::vector<float> sc(3);
        for (Isa isa : isas()) {
            IsaCap cap(isa);
            quantize_activations_int8(x.data(), 300, q.data(), sc.data());
            for (int blk = 0; blk < 3; ++blk) {
                const int n = std::min<int>(128, 300 - blk * 128);
                QCOMPARE(sc[size_t(blk)], quantize_row_int8(x.data() + blk * 128, n, qr.data() + blk * 128));
            }
            QVERIFY2(q == qr, isa_name(isa));
        }
    }
};

QTEST_APPLESS_MAIN(TestKernels)
#include "test_kernels.moc"
