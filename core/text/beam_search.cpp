#include "regionchat/beam_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "regionchat/error.h"

namespace rc {

BeamSearch::BeamSearch(BeamParams params, int eos_id) : p_(params), eos_(eos_id) {
    if (p_.num_beams < 1 || p_.num_beams > 64) throw Error("beam search needs 1 to 64 beams");
    if (p_.max_new_tokens < 1) throw Error("beam search needs max_new_tokens >= 1");
    if (p_.length_offset < 0) p_.length_offset = 0;
    seqs_.assign(1, {});
    scores_.assign(1, 0.0);
}

double BeamSearch::normalise(double sum, size_t generated) const {
    const double len = double(generated) + p_.length_offset;
    // A hypothesis of length 0 (end-of-sequence first, allowed only without min_new_tokens)
    // counts as length 1 rather than dividing by zero.
    return sum / std::pow(std::max(len, 1.0), p_.length_penalty);
}

void BeamSearch::add_hypothesis(std::vector<int> tokens, double sum_logprobs, bool eos) {
    const double score = normalise(sum_logprobs, tokens.size());
    const size_t n = size_t(p_.num_beams);
    if (hyps_.size() < n || score > worst_) {
        hyps_.push_back({score, std::move(tokens), eos});
        if (hyps_.size() > n) {
            // Drop the worst (the first of equals, as Python's sorted() over (score, index)).
            size_t worst = 0;
            for (size_t i = 1; i < hyps_.size(); ++i)
                if (hyps_[i].score < hyps_[worst].score) worst = i;
            hyps_.erase(hyps_.begin() + std::ptrdiff_t(worst));
            worst_ = std::numeric_limits<double>::infinity();
            for (const Hyp& h : hyps_) worst_ = std::min(worst_, h.score);
        } else {
            worst_ = std::min(score, worst_);
        }
    }
}

bool BeamSearch::step(const float* logprobs, int64_t vocab) {
    if (done_) return true;
    if (vocab <= 0) throw Error("beam search: empty vocabulary");
    const size_t beams = seqs_.size();
    const size_t k = size_t(2 * p_.num_beams);
    const bool eos_allowed = int(seqs_[0].size()) >= p_.min_new_tokens;
    // The 2N best (beam, token) candidates by summed log-probability, best first; equal scores
    // keep the lower flat index first.
    struct Cand {
        double score;
        int64_t flat;
    };
    std::vector<Cand> top;
    top.reserve(k + 1);
    auto worse = [](const Cand& a, const Cand& b) {
        return a.score < b.score || (a.score == b.score && a.flat > b.flat);
    };
    // A min-heap of the k best so far: its front is the worst kept.
    auto heap_order = [&](const Cand& x, const Cand& y) { return worse(y, x); };
    for (size_t b = 0; b < beams; ++b) {
        const float* row = logprobs + int64_t(b) * vocab;
        for (int64_t t = 0; t < vocab; ++t) {
            float lp = row[t];
            if (std::isnan(lp)) continue;
            if (t == eos_ && !eos_allowed) continue;
            const Cand c{scores_[b] + double(lp), int64_t(b) * vocab + t};
            if (top.size() < k) {
                top.push_back(c);
                std::push_heap(top.begin(), top.end(), heap_order);
            } else if (worse(top.front(), c)) {
                std::pop_heap(top.begin(), top.end(), heap_order);
                top.back() = c;
                std::push_heap(top.begin(), top.end(), heap_order);
            }
        }
    }
    std::sort(top.begin(), top.end(), [&](const Cand& a, const Cand& b) { return worse(b, a); });
    ++steps_;
    if (top.empty()) {  // every log-probability NaN: nothing to continue
        done_ = true;
        return done_;
    }

    // One beam is greedy decoding (transformers' generate runs greedy_search for it): the best
    // token, and end-of-sequence ends it.
    if (p_.num_beams == 1 && int(top.front().flat % vocab) == eos_) {
        add_hypothesis(seqs_[0], top.front().score, true);
        done_ = closed_ = true;
        return done_;
    }
    if (p_.num_beams == 1) top.resize(1);

    std::vector<std::vector<int>> next;
    std::vector<double> next_scores;
    std::vector<int> parents;
    for (size_t rank = 0; rank < top.size() && next.size() < size_t(p_.num_beams); ++rank) {
        const int b = int(top[rank].flat / vocab);
        const int t = int(top[rank].flat % vocab);
        if (t == eos_) {
            if (rank >= size_t(p_.num_beams)) continue;  // not among the N best: ignored
            add_hypothesis(seqs_[size_t(b)], top[rank].score, true);
        } else {
            std::vector<int> s = seqs_[size_t(b)];
            s.push_back(t);
            next.push_back(std::move(s));
            next_scores.push_back(top[rank].score);
            parents.push_back(b);
        }
    }
    // Done when N hypotheses are closed and no live beam can beat the worst of them: the best
    // candidate's sum over the length after this step (transformers' cur_len + 1).
    if (hyps_.size() >= size_t(p_.num_beams)) {
        if (p_.early_stopping) {
            done_ = true;
        } else {
            const double best_attainable = normalise(top.front().score, seqs_[0].size() + 1);
            done_ = worst_ >= best_attainable;
        }
    }
    if (next.empty()) done_ = true;
    // Finished by the hypotheses: the live beams do not become hypotheses (transformers skips a
    // finished batch in finalize()).
    if (done_) closed_ = true;
    seqs_ = std::move(next);
    scores_ = std::move(next_scores);
    parents_ = std::move(parents);
    if (!done_ && !seqs_.empty() && int(seqs_[0].size()) >= p_.max_new_tokens) {
        close_live();
        done_ = true;
    }
    return done_;
}

void BeamSearch::close_live() {
    if (closed_) return;
    closed_ = true;
    for (size_t b = 0; b < seqs_.size(); ++b) add_hypothesis(seqs_[b], scores_[b], false);
}

std::vector<int> BeamSearch::best(bool* ended_with_eos) {
    close_live();
    if (hyps_.empty()) {
        if (ended_with_eos) *ended_with_eos = false;
        return {};
    }
    // Python's sorted(key=score).pop(): the last of the highest scores.
    size_t best = 0;
    for (size_t i = 1; i < hyps_.size(); ++i)
        if (hyps_[i].score >= hyps_[best].score) best = i;
    if (ended_with_eos) *ended_with_eos = hyps_[best].eos;
    return hyps_[best].tokens;
}

}  // namespace rc
