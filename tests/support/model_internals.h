// Test access to a loaded model's internals (LibTorch): the LLaVA-architecture network and its
// preprocessing. Only for tests of the llava and pink families.
#pragma once

#include <stdexcept>

#include "engine/model_impl.h"
#include "model/llava/llava_family.h"

namespace rc::testing {

inline LlavaNetwork& llava_network(Model& model) {
    auto* net = dynamic_cast<LlavaNetwork*>(ModelAccess::of(model).network.get());
    if (!net) throw std::logic_error("not a LLaVA-architecture model");
    return *net;
}

inline Llava& llava_net(Model& model) {
    return llava_network(model).module();
}

}  // namespace rc::testing
