// A torch.save zip (pytorch_model.bin): the zip reader and the pickle interpreter; every tensor
// that opens is read to its last byte.
#include "fuzz_file.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = fuzz::write("ckpt.bin", data, size);
    try {
        auto f = rc::open_torch_checkpoint(path);
        volatile uint8_t sink = 0;
        for (const auto& t : f->tensors())
            for (size_t k = 0; k < t.nbytes; ++k) sink ^= t.data[k];
    } catch (const rc::Error&) {
    }
    return 0;
}
