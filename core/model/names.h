// Names that span the model families (torch-free, for the families' config readers).
#pragma once

#include <string>
#include <vector>

namespace rc {

/// Chat template / region format names of every family and the built-in ones (registry.cpp).
std::vector<std::string> known_chat_templates();
std::vector<std::string> known_region_formats();

}  // namespace rc
