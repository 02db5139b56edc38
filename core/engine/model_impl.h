// Model internals shared by the engine files (LibTorch side of rc::Model): what the family
// loaded, driven through rc::Network without knowing the family.
#pragma once

#include <memory>

#include <torch/torch.h>

#include "model/family.h"
#include "regionchat/engine.h"
#include "regionchat/tokenizer.h"

namespace rc {

struct Model::Impl {
    ModelInfo info;
    ModelConfig config;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<ChatTemplate> chat_template;
    std::unique_ptr<RegionFormat> region_format;
    std::unique_ptr<Network> network;
    torch::Device device{torch::kCPU};
    torch::Dtype dtype = torch::kFloat32;
    int beam_length_offset = 0;  ///< FamilyModel::beam_length_offset
};

/// The engine's (and tests') way in to a model's internals.
struct ModelAccess {
    static Model::Impl& of(Model& m) { return *m.impl_; }
    static const Model::Impl& of(const Model& m) { return *m.impl_; }
};

/// A hash of an image's pixels, size and type (FNV-1a): the key of the image caches
/// (Session's features, SamModel's embeddings).
uint64_t image_hash(const cv::Mat& image);

/// Resolves Auto/Cpu/Cuda:N; throws rc::Error when CUDA is asked for but absent.
torch::Device resolve_device(const Device& device);
/// Resolves a precision for a device (Auto: fp16 on CUDA, fp32 on the CPU).
torch::Dtype resolve_dtype(Precision p, const torch::Device& device);
Precision precision_of(torch::Dtype t);
Device device_of(const torch::Device& d);

}  // namespace rc
