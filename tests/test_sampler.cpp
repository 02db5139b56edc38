// Samplers and beam search on synthetic logits (llama.cpp's tests/test-sampling.cpp habit): no
// model needed. Beam search is checked against transformers 4.33.2's generate(num_beams=N) on
// a synthetic decoder (tests/reference/beam, tools/reference/beam_reference.py).
#include <QtTest>

#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include <fstream>

#include <nlohmann/json.hpp>

#include "regionchat/beam_search.h"
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

// tools/reference/beam_reference.py's synthetic decoder: distinct logits per row, an integer
// formula of the ids so far; log-softmax in float as torch computes it.
constexpr int kVocab = 12, kEos = 0;
std::vector<float> synthetic_logprobs(const std::vector<int>& tokens) {
    long h = 0;
    for (size_t i = 0; i < tokens.size(); ++i) h += long(i + 1) * (tokens[i] + 3);
    h %= 101;
    const long n = long(tokens.size());
    std::vector<double> row(kVocab);
    for (int t = 0; t < kVocab; ++t) row[size_t(t)] = double((h * 31 + t * 7 + n * 11) % 97) / 8.0 - 6.0;
    row[kEos] = double((h * 5 + n * 17) % 23) / 4.0 - 4.0 + 0.75 * double(n);
    double m = row[0], z = 0;
    for (double v : row) m = std::max(m, v);
    for (double v : row) z += std::exp(v - m);
    std::vector<float> out;
    for (double v : row) out.push_back(float(v - m - std::log(z)));
    return out;
}

// Runs a beam search on the synthetic decoder.
std::vector<int> run_beams(const rc::BeamParams& p, bool* eos = nullptr) {
    rc::BeamSearch search(p, kEos);
    while (!search.done()) {
        std::vector<float> flat;
        for (const auto& seq : search.sequences()) {
            const auto r = synthetic_logprobs(seq);
            flat.insert(flat.end(), r.begin(), r.end());
        }
        search.step(flat.data(), kVocab);
    }
    return search.best(eos);
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
    void beamsMatchTransformers();
    void oneBeamIsGreedy();
    void beamRules();
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

// The ids transformers' own beam search returns (generating from embeddings: its hypotheses
// count the BOS it starts input_ids with), for beams 1-5, length penalties -1/0/0.5/1/2,
// min_length 1-3, early stopping on and off, 6-30 new tokens.
void TestSampler::beamsMatchTransformers() {
    const char* src = std::getenv("REGIONCHAT_SOURCE_DIR");
    QVERIFY2(src, "REGIONCHAT_SOURCE_DIR is not set (run through CTest)");
    std::ifstream in(std::string(src) + "/tests/reference/beam/cases.json");
    QVERIFY(in.good());
    const auto j = nlohmann::json::parse(in);
    QCOMPARE(j["vocab"].get<int>(), kVocab);
    QCOMPARE(j["eos"].get<int>(), kEos);
    QVERIFY(j["cases"].size() >= 8);
    int ended_early = 0;
    for (const auto& c : j["cases"]) {
        rc::BeamParams p;
        p.num_beams = c["num_beams"].get<int>();
        p.max_new_tokens = c["max_new_tokens"].get<int>();
        p.length_penalty = c["length_penalty"].get<double>();
        p.min_new_tokens = c["min_new_tokens"].get<int>();
        p.length_offset = c["length_offset"].get<int>();
        p.early_stopping = c["early_stopping"].get<bool>();
        bool eos = false;
        std::vector<int> got = run_beams(p, &eos);
        if (eos) got.push_back(kEos);  // generate() returns the end-of-sequence token too
        std::vector<int> want = c["ids"].get<std::vector<int>>();
        QVERIFY2(got == want, qPrintable(QString::fromStdString(c.dump())));
        if (int(want.size()) < p.max_new_tokens) ++ended_early;
    }
    QVERIFY(ended_early > 0);  // some cases finish by end-of-sequence, not by length
}

// One beam is greedy decoding with min_new_tokens.
void TestSampler::oneBeamIsGreedy() {
    rc::BeamParams p;
    p.num_beams = 1;
    p.max_new_tokens = 15;
    p.min_new_tokens = 1;
    const std::vector<int> beams = run_beams(p);
    std::vector<int> greedy;
    for (int i = 0; i < 15; ++i) {
        auto row = synthetic_logprobs(greedy);
        if (greedy.empty()) row[kEos] = -kInf;
        const int t = rc::argmax(row.data(), row.size());
        if (t == kEos) break;
        greedy.push_back(t);
    }
    QCOMPARE(beams, greedy);
}

// Hand-made steps: the first step expands beam 0 only; an end-of-sequence candidate ranked
// below the N best is ignored; min_new_tokens keeps it out; scores divide by length^penalty.
void TestSampler::beamRules() {
    rc::BeamParams p;
    p.num_beams = 2;
    p.max_new_tokens = 3;
    const float l3 = std::log(0.3f), l2 = std::log(0.2f), l1 = std::log(0.1f);
    {
        rc::BeamSearch s(p, 0);
        // Vocab 4: eos 0.1 ranks 3rd of 4 candidates (N = 2): ignored.
        const float row[4] = {l1, std::log(0.4f), l3, l2};
        s.step(row, 4);
        QCOMPARE(s.live(), size_t(2));
        QCOMPARE(s.sequences()[0], std::vector<int>({1}));
        QCOMPARE(s.sequences()[1], std::vector<int>({2}));
        QCOMPARE(s.parents(), std::vector<int>({0, 0}));
        // Step 2: beam 1's token 3 beats beam 0's: parents reorder.
        const float rows[8] = {-20, -5, -6, -7, -20, -9, -9, -0.01f};
        s.step(rows, 4);
        QCOMPARE(s.sequences()[0], std::vector<int>({2, 3}));
        QCOMPARE(s.parents()[0], 1);
        QVERIFY(!s.done());
    }
    {
        p.min_new_tokens = 1;
        p.early_stopping = true;  // (without it, live beams averaging better per token go on)
        rc::BeamSearch s(p, 0);
        const float row[4] = {-0.001f, -9, -8, -10};  // eos would win but is not allowed yet
        s.step(row, 4);
        QCOMPARE(s.sequences()[0], std::vector<int>({2}));
        // Now eos is the best of both beams: 2 hypotheses end the search.
        const float rows[8] = {-0.01f, -5, -6, -7, -0.02f, -9, -9, -8};
        QVERIFY(s.step(rows, 4));
        bool eos = false;
        const auto best = s.best(&eos);
        QVERIFY(eos);
        QCOMPARE(best, std::vector<int>({2}));  // (-8 - 0.01) / 1 beats (-9 - 0.02) / 1
    }
    {
        rc::BeamParams q;
        q.num_beams = 2;
        q.max_new_tokens = 2;
        rc::BeamSearch s(q, 0);
        const float row[3] = {-50, -1, -2};
        s.step(row, 3);
        const float rows[6] = {-50, -1, -3, -50, -1, -4};
        QVERIFY(s.step(rows, 3));  // max_new_tokens: the live beams close as they are
        QCOMPARE(s.best(), std::vector<int>({1, 1}));
    }
    QVERIFY_THROWS_EXCEPTION(std::exception, rc::BeamSearch(rc::BeamParams{0}, 0));
}

QTEST_APPLESS_MAIN(TestSampler)
#include "test_sampler.moc"
