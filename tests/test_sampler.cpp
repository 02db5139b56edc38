// Samplers on synthetic logits (llama.cpp's tests/test-sampling.cpp habit): no model needed.
#include <QtTest>

#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "regionchat/sampler.h"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

rc::Sampler make(float temperature, float top_p = 1.0f, int top_k = 0, uint64_t seed = 0) {
    rc::SamplerParams p;
    p.temperature = temperature;
    p.top_p = top_p;
    p.top_k = top_k;
    p.seed = seed;
    return rc::Sampler(p);
}

// Softmax computed here independently (long double, direct formula).
std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
    long double z = 0;
    for (float l : logits) z += std::exp(static_cast<long double>(l) / temperature);
    std::vector<double> p;
    for (float l : logits)
        p.push_back(static_cast<double>(std::exp(static_cast<long double>(l) / temperature) / z));
    return p;
}

}  // namespace

class TestSampler : public QObject {
    Q_OBJECT

private slots:
    void argmaxBasics();
    void argmaxNaNAndInf();
    void greedyPicksMax();
    void greedyIgnoresSeed();
    void topK1IsGreedy();
    void tinyTopPIsGreedy();
    void frequenciesMatchSoftmax();
    void temperatureSharpens();
    void topPStaysInNucleus();
    void topKStaysInTopK();
    void nanNeverSampled();
    void sameSeedSameSequence();
};

void TestSampler::argmaxBasics() {
    const std::vector<float> a = {0.1f, 3.0f, -2.0f, 2.9f};
    QCOMPARE(rc::argmax(a.data(), a.size()), 1);
    const std::vector<float> ties = {1.0f, 5.0f, 5.0f, 5.0f};
    QCOMPARE(rc::argmax(ties.data(), ties.size()), 1);
    const std::vector<float> neg = {-7.0f, -3.0f, -5.0f};
    QCOMPARE(rc::argmax(neg.data(), neg.size()), 1);
    QCOMPARE(rc::argmax(nullptr, 0), 0);
    const std::vector<float> one = {-1e30f};
    QCOMPARE(rc::argmax(one.data(), one.size()), 0);
}

void TestSampler::argmaxNaNAndInf() {
    const std::vector<float> first_nan = {kNaN, 1.0f, 2.0f, kNaN};
    QCOMPARE(rc::argmax(first_nan.data(), first_nan.size()), 2);
    const std::vector<float> all_nan = {kNaN, kNaN, kNaN};
    QCOMPARE(rc::argmax(all_nan.data(), all_nan.size()), 0);
    const std::vector<float> neg_inf = {-kInf, -kInf, -3.0f, -kInf};
    QCOMPARE(rc::argmax(neg_inf.data(), neg_inf.size()), 2);
    const std::vector<float> nan_then_inf = {kNaN, -kInf, -kInf};
    QCOMPARE(rc::argmax(nan_then_inf.data(), nan_then_inf.size()), 1);
    const std::vector<float> pos_inf = {1.0f, kInf, 2.0f};
    QCOMPARE(rc::argmax(pos_inf.data(), pos_inf.size()), 1);
}

void TestSampler::greedyPicksMax() {
    auto s = make(0.0f);
    QCOMPARE(s.sample({0.5f, 0.25f, 4.0f, 3.99f}), 2);
    QCOMPARE(s.sample({2.0f, 2.0f, 1.0f}), 0);
    QCOMPARE(s.sample({kNaN, kNaN}), 0);
    QCOMPARE(s.sample({kNaN, -1.0f, kNaN}), 1);
    auto negative_t = make(-1.0f);
    QCOMPARE(negative_t.sample({0.0f, 0.0f, 9.0f}), 2);
    auto nan_t = make(kNaN);
    QCOMPARE(nan_t.sample({0.0f, 7.0f, 1.0f}), 1);
}

void TestSampler::greedyIgnoresSeed() {
    const std::vector<float> logits = {0.1f, 0.2f, 0.3f, 0.25f};
    for (uint64_t seed : {0ull, 1ull, 12345ull}) {
        auto s = make(0.0f, 0.5f, 2, seed);
        for (int i = 0; i < 20; ++i) QCOMPARE(s.sample(logits), 2);
    }
}

void TestSampler::topK1IsGreedy() {
    std::mt19937 gen(7);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    auto s = make(1.5f, 1.0f, 1, 99);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<float> logits(50);
        for (float& l : logits) l = normal(gen);
        QCOMPARE(s.sample(logits), rc::argmax(logits.data(), logits.size()));
    }
    QCOMPARE(s.sample({1.0f, 3.0f, 3.0f}), 1);  // ties: the first
}

void TestSampler::tinyTopPIsGreedy() {
    std::mt19937 gen(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto s = make(1.0f, 1e-6f, 0, 5);
    auto zero_p = make(1.0f, 0.0f, 0, 5);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<float> logits(20);
        for (float& l : logits) l = normal(gen);
        const int best = rc::argmax(logits.data(), logits.size());
        QCOMPARE(s.sample(logits), best);
        QCOMPARE(zero_p.sample(logits), best);
    }
}

void TestSampler::frequenciesMatchSoftmax() {
    const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f};
    const std::vector<double> expected = softmax(logits, 1.0);
    auto s = make(1.0f, 1.0f, 0, 2024);
    const int draws = 200000;
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < draws; ++i) {
        const int id = s.sample(logits);
        QVERIFY(id >= 0 && id < 4);
        ++counts[id];
    }
    for (size_t i = 0; i < logits.size(); ++i) {
        const double freq = double(counts[i]) / draws;
        QVERIFY2(std::fabs(freq - expected[i]) < 0.01,
                 qPrintable(QString("token %1: %2 vs %3").arg(i).arg(freq).arg(expected[i])));
    }
}

void TestSampler::temperatureSharpens() {
    // At T = 0.5 the distribution is softmax(2 * logits).
    const std::vector<float> logits = {0.0f, 1.0f, 0.5f};
    const std::vector<double> expected = softmax(logits, 0.5);
    auto s = make(0.5f, 1.0f, 0, 77);
    const int draws = 100000;
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < draws; ++i) ++counts[s.sample(logits)];
    for (size_t i = 0; i < logits.size(); ++i)
        QVERIFY(std::fabs(double(counts[i]) / draws - expected[i]) < 0.01);
}

void TestSampler::topPStaysInNucleus() {
    // softmax of {3, 2, 1, 0, -1}: 0.636, 0.234, 0.086, ...; top_p 0.5 keeps only token 0, top_p
    // 0.8 keeps tokens 0 and 1 (0.636 < 0.8 <= 0.870).
    const std::vector<float> logits = {2.0f, 3.0f, 1.0f, -1.0f, 0.0f};  // shuffled order
    auto half = make(1.0f, 0.5f, 0, 3);
    for (int i = 0; i < 2000; ++i) QCOMPARE(half.sample(logits), 1);

    auto eighty = make(1.0f, 0.8f, 0, 3);
    std::vector<int> counts(5, 0);
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) {
        const int id = eighty.sample(logits);
        QVERIFY2(id == 0 || id == 1, qPrintable(QString("token %1 outside the nucleus").arg(id)));
        ++counts[id];
    }
    // Renormalized within the nucleus: p(1) = e^3 / (e^3 + e^2).
    const double p1 = std::exp(3.0) / (std::exp(3.0) + std::exp(2.0));
    QVERIFY(std::fabs(double(counts[1]) / draws - p1) < 0.02);
}

void TestSampler::topKStaysInTopK() {
    const std::vector<float> logits = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
    auto s = make(5.0f, 1.0f, 3, 8);
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < 6000; ++i) ++counts[s.sample(logits)];
    QCOMPARE(counts[0] + counts[1] + counts[2], 0);
    QVERIFY(counts[3] > 0 && counts[4] > 0 && counts[5] > 0);
    // top_k larger than the vocabulary is the same as off.
    auto big = make(5.0f, 1.0f, 100, 8);
    std::set<int> seen;
    for (int i = 0; i < 2000; ++i) seen.insert(big.sample(logits));
    QCOMPARE(static_cast<int>(seen.size()), 6);
}

void TestSampler::nanNeverSampled() {
    const std::vector<float> logits = {kNaN, 0.0f, kNaN, 0.0f, -kInf};
    auto s = make(1.0f, 1.0f, 0, 4);
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < 4000; ++i) ++counts[s.sample(logits)];
    QCOMPARE(counts[0] + counts[2] + counts[4], 0);
    QVERIFY(counts[1] > 1500 && counts[3] > 1500);
    QCOMPARE(s.sample({kNaN, kNaN, kNaN}), 0);
    QCOMPARE(s.sample({-kInf, -kInf, -kInf}), 0);
    QCOMPARE(s.sample({kNaN, -kInf, -kInf}), 1);
    QCOMPARE(s.sample({0.0f, kInf, 5.0f}), 1);
    QCOMPARE(s.sample(nullptr, 0), 0);
}

void TestSampler::sameSeedSameSequence() {
    const std::vector<float> logits = {0.3f, 0.1f, 0.2f, 0.0f, 0.25f, 0.15f};
    auto a = make(1.0f, 0.95f, 5, 42);
    auto b = make(1.0f, 0.95f, 5, 42);
    auto c = make(1.0f, 0.95f, 5, 43);
    std::vector<int> sa, sb, sc;
    for (int i = 0; i < 500; ++i) {
        sa.push_back(a.sample(logits));
        sb.push_back(b.sample(logits));
        sc.push_back(c.sample(logits));
    }
    QCOMPARE(sa, sb);
    QVERIFY(sa != sc);
    QCOMPARE(a.params().seed, uint64_t(42));
}

QTEST_APPLESS_MAIN(TestSampler)
#include "test_sampler.moc"
