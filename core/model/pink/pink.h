// Pink (SY-Xuan/Pink): LLaVA-1.5's architecture with adapters in CLIP and LLaMA, its release
// layout (config.json with model_type "pink", saved_parameters.pth over a LLaMA-2 folder,
// CLIP from clip_path), its region format and its chat template.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/config_reader.h"
#include "regionchat/chat_template.h"
#include "regionchat/region_format.h"

namespace rc {

/// The family's, the template's and the region format's name.
inline const char* const kPinkName = "pink";
inline const char* const kLayoutPink = "pink";

/// Pink's config.json (and the CLIP and LLaMA-2 folders it names); `source` is its path.
ModelConfig read_pink_config(const nlohmann::json& root, const std::string& source);

/// "<loc>[x0,y0,x1,y1]</loc>", 3 decimals, relative to the padded square when padding.
std::unique_ptr<RegionFormat> make_pink_region_format(bool pad_to_square);
/// llama_2 with Pink's "Image: ..." system text.
std::unique_ptr<ChatTemplate> make_pink_chat_template(const std::string& system);

/// Checkpoint keys for a module parameter: Pink's names first (saved_parameters.pth:
/// vision_model.*, mm_projector.*, model.*, lm_head.*), then the merged CLIP folder's.
std::vector<std::string> pink_key_candidates(const std::string& name);

}  // namespace rc
