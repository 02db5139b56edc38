// The whole SAM network (Hugging Face `SamModel` keys: vision_encoder.*, prompt_encoder.*,
// mask_decoder.*, shared_image_embedding.*), and the pieces tests reach directly.
#pragma once

#include <torch/torch.h>

#include "model/sam/sam_decoder.h"
#include "model/sam/sam_prompt.h"
#include "model/sam/sam_vision.h"

namespace rc::sam {

struct SamNetImpl : torch::nn::Module {
    explicit SamNetImpl(const SamConfig& c);
    /// Positional encodings of the embedding grid [1, C, E, E] (cell centres in [0, 1]).
    torch::Tensor image_positions();
    /// The decoder's answer for prompts (see PromptEncoderImpl::sparse for their shapes) on
    /// image embeddings [B, C, E, E].
    DecoderOutput decode(const torch::Tensor& embeddings, const torch::Tensor& points,
                         const torch::Tensor& labels, const torch::Tensor& boxes, bool multimask);

    SamConfig config;
    VisionEncoder vision_encoder{nullptr};
    PromptEncoder prompt_encoder{nullptr};
    MaskDecoder mask_decoder{nullptr};
    PositionalEmbedding shared_image_embedding{nullptr};
    torch::Tensor positions_;  ///< cached image_positions()
};
TORCH_MODULE(SamNet);

/// Parameters a config describes, without building anything (checked against the checkpoint
/// before the network is allocated).
int64_t count_parameters(const SamConfig& c);

}  // namespace rc::sam
