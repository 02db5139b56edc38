// A .safetensors file: header length, JSON header, data; every tensor that opens is read.
#include "fuzz_file.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = fuzz::write("st.safetensors", data, size);
    try {
        auto f = rc::SafetensorsFile::open(path);
        volatile uint8_t sink = 0;
        for (const auto& t : f->tensors())
            for (size_t k = 0; k < t.nbytes; ++k) sink ^= t.data[k];
    } catch (const rc::Error&) {
    }
    return 0;
}
