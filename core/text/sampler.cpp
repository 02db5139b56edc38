// Greedy and temperature/top-k/top-p sampling on plain logits (llama.cpp's habit: samplers are
// small, torch-free and tested on synthetic logits).
#include "regionchat/sampler.h"

#include <algorithm>
#include <cmath>

namespace rc {

int argmax(const float* logits, size_t n) {
    // NaN never wins: every comparison with it is false. +inf counts as the largest value.
    size_t best = 0;
    bool found = false;
    for (size_t i = 0; i < n; ++i) {
        const float v = logits[i];
        if (std::isnan(v)) continue;
        if (!found || v > logits[best]) {
            best = i;
            found = true;
        }
    }
    return found ? static_cast<int>(best) : 0;
}

Sampler::Sampler(SamplerParams params) : params_(params), rng_(params.seed) {}

int Sampler::sample(const float* logits, size_t n) {
    if (n == 0) return 0;
    // Written as !(t > 0) so a NaN temperature is greedy too.
    if (!(params_.temperature > 0.0f)) return argmax(logits, n);

    // Candidates: scaled logits of every non-NaN token.
    scratch_.clear();
    scratch_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (std::isnan(logits[i])) continue;
        scratch_.emplace_back(logits[i] / params_.temperature, static_cast<int>(i));
    }
    if (scratch_.empty()) return 0;

    // Descending by value; the lower id first on ties so the order never depends on the sort.
    auto higher = [](const std::pair<float, int>& a, const std::pair<float, int>& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    size_t keep = scratch_.size();
    if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
        keep = static_cast<size_t>(params_.top_k);
        std::partial_sort(scratch_.begin(), scratch_.begin() + keep, scratch_.end(), higher);
        scratch_.resize(keep);
    } else {
        std::sort(scratch_.begin(), scratch_.end(), higher);
    }

    // All -inf, or a +inf logit: the distribution degenerates to the top token.
    const float top = scratch_.front().first;
    if (!std::isfinite(top)) return scratch_.front().second;

    // Stable softmax: subtract the max, accumulate in double.
    std::vector<double> probs(keep);
    double total = 0.0;
    for (size_t i = 0; i < keep; ++i) {
        probs[i] = std::exp(static_cast<double>(scratch_[i].first) - static_cast<double>(top));
        total += probs[i];
    }

    // Nucleus: the smallest prefix whose mass reaches top_p, at least one token.
    size_t nucleus = keep;
    if (params_.top_p < 1.0f) {
        const double target = static_cast<double>(params_.top_p) * total;
        double mass = 0.0;
        nucleus = 0;
        while (nucleus < keep) {
            mass += probs[nucleus++];
            if (mass >= target) break;
        }
        nucleus = std::max<size_t>(nucleus, 1);
    }
    double kept_mass = 0.0;
    for (size_t i = 0; i < nucleus; ++i) kept_mass += probs[i];

    // Uniform in [0, kept_mass) from the top 53 bits: the same on every standard library,
    // unlike std::uniform_real_distribution.
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * kept_mass;
    double cumulative = 0.0;
    for (size_t i = 0; i < nucleus; ++i) {
        cumulative += probs[i];
        if (u < cumulative) return scratch_[i].second;
    }
    return scratch_[nucleus - 1].second;
}

}  // namespace rc
