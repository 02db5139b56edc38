// The LLaVA family's config.json layouts (Hugging Face `llava`, original LLaVA / DualFocus).
#pragma once

#include <string>

#include "io/config_reader.h"

namespace rc {

inline const char* const kLayoutHf = "hf-llava";
inline const char* const kLayoutOriginal = "llava-original";

/// True for the original layout (mm_vision_tower at the top, no text_config).
bool is_llava_original_config(const nlohmann::json& root);
/// Reads either layout; for the original one the CLIP folder is found and read too.
/// `source` is the config.json path.
ModelConfig read_llava_config(const nlohmann::json& root, const std::string& source);

}  // namespace rc
