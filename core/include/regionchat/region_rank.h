// "Which region is this?": RegionVLM's referring-segmentation rule (eval_RIS.py) as a feature.
// Given a phrase, each candidate region (SAM masks, classic proposals) is scored by the mean
// caption loss of the phrase when the model captions that region, best of a few random point
// draws; the lowest loss names the region. Torch-free: it drives any ChatBackend whose
// capabilities say region_point_prompts and answer_scoring.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "regionchat/backend.h"

namespace rc {

struct RegionRankOptions {
    int repeats = 5;      ///< point draws per region (eval_RIS.py n_repeat), the best one counts
    uint32_t seed = 0;    ///< draw r of a region uses point seed `seed + 7919 * r`
    size_t max_candidates = 20;  ///< eval_RIS.py stops after 20 accepted masks
    bool ris_filter = true;      ///< eval_RIS.py's area and border filters (ris_candidates)
    /// After each scored draw: (done, total); false cancels (rank_regions throws "cancelled").
    std::function<bool(size_t, size_t)> progress;
};

struct RegionRank {
    size_t index = 0;         ///< into the candidates given
    double loss = 0;          ///< the best draw's mean loss (lower is better)
    std::vector<double> draws;  ///< every draw's
};

/// BlipCaptionProcessor.pre_caption: lower case, each of .!"()*#:;~ a space, runs of spaces
/// one, trimmed, at most 50 words.
std::string blip_caption(const std::string& text);

/// The candidates eval_RIS.py scores, in order: masks covering at least 4% of the image and
/// not hugging a border (its rule as written: more than 0.7 * H pixels in the top or bottom two
/// rows, or 0.7 * W in the left or right two columns, rejects), at most `max`; when none pass,
/// those covering at least 1%. Candidates without a mask count their box.
std::vector<size_t> ris_candidates(const std::vector<RegionInput>& candidates, ImageSize size,
                                   size_t max = 20);

/// The candidates ranked by the caption loss of `phrase` (lowest first), each region asked as
/// `<region N>` alone (RegionVLM's captioning prompt) on a fresh conversation of `backend`.
/// Throws rc::Error when the backend cannot read point prompts or score answers.
std::vector<RegionRank> rank_regions(const ChatBackend& backend, const cv::Mat& image,
                                     const std::vector<RegionInput>& candidates,
                                     const std::string& phrase, const RegionRankOptions& options = {});

}  // namespace rc
