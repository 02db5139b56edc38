// Token samplers on plain logits: greedy, temperature + top-k + top-p. Torch-free and tested
// on synthetic logits.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace rc {

struct SamplerParams {
    float temperature = 0.0f;  ///< <= 0: greedy (argmax)
    float top_p = 1.0f;        ///< nucleus mass kept, in (0, 1]
    int top_k = 0;             ///< 0: all tokens
    uint64_t seed = 0;         ///< RNG seed for reproducible sampling
};

class Sampler {
public:
    explicit Sampler(SamplerParams params = {});
    /// Picks a token id from `n` logits. NaN logits never win; all-NaN returns 0.
    int sample(const float* logits, size_t n);
    int sample(const std::vector<float>& logits) { return sample(logits.data(), logits.size()); }
    const SamplerParams& params() const { return params_; }

private:
    SamplerParams params_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int>> scratch_;
};

/// Index of the largest non-NaN value (first on ties; -inf and +inf compare as usual); 0 when
/// every value is NaN or n is 0.
int argmax(const float* logits, size_t n);

}  // namespace rc
