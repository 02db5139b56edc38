// Model internals shared by the engine files (LibTorch side of rc::Model).
#pragma once

#include <memory>

#include <torch/torch.h>

#include "model/llava.h"
#include "regionchat/engine.h"
#include "regionchat/preprocess.h"
#include "regionchat/tokenizer.h"

namespace rc {

struct Model::Impl {
    ModelInfo info;
    ModelConfig config;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<ChatTemplate> chat_template;
    std::unique_ptr<RegionFormat> region_format;
    Llava net{nullptr};
    torch::Device device{torch::kCPU};
    torch::Dtype dtype = torch::kFloat32;
    PreprocessOptions preprocess;

    /// Projected features [image_tokens, hidden] of one BGR image.
    torch::Tensor encode_image(const cv::Mat& bgr);
};

/// Parameters a config describes, computed without building the network (so a hostile
/// config cannot make us allocate before the checkpoint is checked against it).
int64_t count_parameters(const ModelConfig& c);

/// A hash of an image's pixels, size and type (FNV-1a): the key of the image caches
/// (Session's features, SamModel's embeddings).
uint64_t image_hash(const cv::Mat& image);

/// Resolves "auto"/"cpu"/"cuda[:N]"; throws rc::Error when CUDA is asked for but absent.
torch::Device resolve_device(const std::string& name);
/// Resolves "auto"/"fp32"/"fp16"/"bf16" for a device.
torch::Dtype resolve_dtype(const std::string& name, const torch::Device& device);
/// "fp32", "fp16", "bf16".
std::string dtype_label(torch::Dtype t);

}  // namespace rc
