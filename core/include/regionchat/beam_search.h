// Beam search on plain log-probabilities, as Hugging Face transformers' generate(num_beams=N)
// runs it (BeamSearchScorer, transformers 4.33, the version ParGo's and RegionVLM's evaluation
// pin): 2N candidates a step from the live beams' summed log-probabilities; an end-of-sequence
// candidate ranked within the first N closes a hypothesis scored sum / length^length_penalty;
// the others continue, N at most; the search ends when N hypotheses are closed and none of
// the live beams can beat the worst of them (early_stopping false), or when N are closed
// (early_stopping true), or at max_new_tokens, where the live beams are closed as they are.
// Torch-free: the engine feeds it each live beam's log-probabilities and reorders its own
// decoder states by parents(). Tested on synthetic distributions (test_sampler).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rc {

struct BeamParams {
    int num_beams = 4;
    int max_new_tokens = 100;
    double length_penalty = 1.0;
    /// End-of-sequence is not a candidate while fewer tokens than this are generated
    /// (transformers' min_length counted over the generated ids: ParGo's min_length 1).
    int min_new_tokens = 0;
    bool early_stopping = false;
    /// Tokens a hypothesis' length counts besides the generated ones: 1 where transformers
    /// starts input_ids with a token (the BOS of ParGo's generate(inputs_embeds=...), T5's
    /// decoder start), 0 otherwise; -1: the model's own (the engine asks the model family;
    /// BeamSearch itself reads it as 0).
    int length_offset = -1;
};

class BeamSearch {
public:
    BeamSearch(BeamParams params, int eos_id);

    /// Live beams: 1 before the first step, then up to num_beams.
    size_t live() const { return seqs_.size(); }
    /// Generated tokens of each live beam.
    const std::vector<std::vector<int>>& sequences() const { return seqs_; }
    /// After a step: the beam (index before the step) each live beam continues.
    const std::vector<int>& parents() const { return parents_; }
    bool done() const { return done_; }
    /// Number of steps taken.
    int steps() const { return steps_; }

    /// One step: `logprobs` holds live() rows of `vocab` log-probabilities (log-softmax of
    /// each live beam's next-token logits), row-major. Returns done().
    bool step(const float* logprobs, int64_t vocab);

    /// The best closed hypothesis (closing the live beams first if the search was cut short),
    /// without its end-of-sequence token; and whether it ended with one.
    std::vector<int> best(bool* ended_with_eos = nullptr);

private:
    struct Hyp {
        double score;
        std::vector<int> tokens;
        bool eos;
    };
    void add_hypothesis(std::vector<int> tokens, double sum_logprobs, bool eos);
    double normalise(double sum, size_t generated) const;
    void close_live();

    BeamParams p_;
    int eos_;
    std::vector<std::vector<int>> seqs_;
    std::vector<double> scores_;  // summed log-probabilities of the live beams
    std::vector<int> parents_;
    std::vector<Hyp> hyps_;
    double worst_ = 1e9;
    bool done_ = false, closed_ = false;
    int steps_ = 0;
};

}  // namespace rc
