// Tiny random LLaVA checkpoints for tests: same layout and loader as real ones, seconds to make.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "regionchat/config.h"
#include "regionchat/engine.h"
#include "regionchat/safetensors.h"

namespace rc::testing {

/// A tiny LLaVA: 32 px images in 8 px patches (16 image tokens), 2+2 layers, GQA 4/2 heads.
ModelConfig tiny_config();

struct TinyModelOptions {
    uint64_t seed = 1;
    DType dtype = DType::F32;
    /// Zero the EOS row of lm_head so greedy decoding practically never stops early (tests of
    /// streaming and cancellation need long answers).
    bool never_eos = true;
    /// Rename keys as newer transformers write them (model.language_model.*, lm_head.*).
    bool new_style_keys = false;
};

/// Writes config.json, model.safetensors and tokenizer.model into `dir` (created).
void write_tiny_model(const std::string& dir, const ModelConfig& config,
                      const TinyModelOptions& options = {});

/// Trains (once per process, cached) the tiny tokenizer and copies it to `path`.
void write_tiny_tokenizer(const std::string& path);

/// Load parameters for a folder on a device.
inline LoadParams load_params(const std::string& dir, const std::string& device) {
    LoadParams p;
    p.model_dir = dir;
    p.device = device;
    return p;
}

/// A deterministic colourful test image.
cv::Mat test_image(int width, int height, uint64_t seed);

}  // namespace rc::testing
