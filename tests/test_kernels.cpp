// The int8 matrix-vector product of --dtype int8 against a double-precision loop: every
// instruction-set path this CPU has, odd sizes (tails), one to three rows, bias, threads; and
// the int8-to-fp32 rows of the prefill path; the fp32 and bf16 weight products of a float
// model's decode step.
#include <QtTest>

#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <random>
#include <vector>

#include "kernels/int8_gemv.h"

using namespace rc::kernels;

class TestKernels : public QObject {
    Q_OBJECT

private slots:
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

    // The fp32 and bf16 weight products of a float model's decode step against a double loop
    // over the same (bf16-rounded) weights: tails, 1 and 3 rows, bias, 1 and 2 threads.
    void floatGemvMatchesALoop() {
        std::mt19937 rng(4);
        std::normal_distribution<float> nd(0.f, 1.f);
        for (int threads : {1, 2})
            for (int rows : {1, 3})
                for (int in : {5, 64, 1000}) {
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
                                b += double(x[size_t(r) * in + i]) * wr[size_t(o) * in + i];
                            }
                            const double tol = 1e-4 * std::sqrt(double(in)) + 1e-5;
                            if (std::fabs(a - y32[size_t(r) * out + o]) > tol ||
                                std::fabs(b - y16[size_t(r) * out + o]) > tol)
                                QFAIL(("row " + std::to_string(r) + " out " + std::to_string(o) +
                                       " in " + std::to_string(in)).c_str());
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
    }
    void gemvMatchesALoop() {
        QFETCH(int, rows);
        QFETCH(int, in);
        QFETCH(int, out);
        QFETCH(bool, bias);
        QFETCH(int, threads);
        std::mt19937 rng(rows * 7919 + in);
        std::uniform_int_distribution<int> wd(-127, 127);
        std::normal_distribution<float> nd(0.f, 1.f);
        std::vector<int8_t> w(size_t(in) * out);
        for (auto& v : w) v = int8_t(wd(rng));
        std::vector<float> x(size_t(rows) * in), s(out), b(out), y(size_t(rows) * out, NAN);
        for (auto& v : x) v = nd(rng);
        for (auto& v : s) v = 0.01f + std::fabs(nd(rng)) * 0.01f;
        for (auto& v : b) v = nd(rng);
        gemv_int8(x.data(), rows, in, w.data(), s.data(), bias ? b.data() : nullptr, y.data(), out,
                  threads);
        double worst = 0;
        for (int r = 0; r < rows; ++r)
            for (int o = 0; o < out; ++o) {
                double ref = 0;
                for (int i = 0; i < in; ++i) ref += double(x[size_t(r) * in + i]) * w[size_t(o) * in + i];
                ref = ref * s[o] + (bias ? b[o] : 0.0);
                const double got = y[size_t(r) * out + o];
                QVERIFY2(std::isfinite(got), qPrintable(QString("row %1 out %2").arg(r).arg(o)));
                worst = std::max(worst, std::fabs(got - ref) / (1.0 + std::fabs(ref)));
            }
        QVERIFY2(worst < 1e-4, qPrintable(QString("%1 (%2)").arg(worst).arg(gemv_int8_isa())));
    }
};

QTEST_APPLESS_MAIN(TestKernels)
#include "test_kernels.moc"
