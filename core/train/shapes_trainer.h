// Trains the embedded tiny LLaVA on synthetic scenes (core/synth) with the same network code
// and prompt path as inference, and writes it in the Hugging Face `llava` layout.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "regionchat/config.h"

namespace rc::train {

struct TrainProgress {
    int step = 0;  ///< steps done
    int steps = 0;
    double loss = 0;      ///< language-model loss on answer tokens (moving average)
    double aux_loss = 0;  ///< dense vision-feature loss (moving average)
    std::string detail;   ///< the auxiliary loss's parts at the last step
    double lr = 0;
    double samples_per_s = 0;  ///< since this run (re)started
    double eta_s = 0;
};

struct TrainOptions {
    std::string
        out_dir;  ///< the exported model folder (config.json, model.safetensors, tokenizer.model)
    std::string work_dir;  ///< resumable state: weights, optimizer, step
    std::string tokenizer;  ///< reuse this tokenizer.model instead of training one
    /// Start from this exported model (its weights, config and tokenizer) instead of random
    /// weights; the optimizer and schedule start afresh (fine-tuning). Ignored on resume.
    std::string init_dir;
    int vocab_size = 512;  ///< SentencePiece vocabulary trained on the task text
    int steps = 3000;
    int batch_size = 32;
    int warmup_steps = 200;
    int save_every = 200;  ///< steps between checkpoints (and exports)
    double lr = 1e-3;
    double min_lr = 5e-5;
    double weight_decay = 0.05;
    double aux_weight = 0.5;     ///< weight of the dense auxiliary vision loss
    int curriculum_steps = 600;  ///< steps over which scenes grow from 1 to 6 objects
    uint64_t seed = 1;
    std::string device = "auto";  ///< auto (CUDA when LibTorch has it), cpu, cuda, cuda:N
    int data_threads = 1;  ///< threads building batches ahead of the training step
    double max_minutes = 0;  ///< stop, save and export after this much wall time; 0: no limit
    std::function<void(const TrainProgress&)> on_progress;
};

/// The architecture of the embedded model (vocabulary size is set from the tokenizer).
ModelConfig shapes_tiny_config();

/// Scene seeds used for training are below this; evaluation uses seeds at or above it.
constexpr uint64_t kFirstHeldOutSeed = 1'000'000'000ull;

/// Trains (or resumes from work_dir) and exports to out_dir. Throws rc::Error on I/O errors.
void train_shapes_model(const TrainOptions& options);

}  // namespace rc::train
