// A .safetensors file: header length, JSON header, data; every tensor that opens is read. An
// input starting with '{' is a sharded model's model.safetensors.index.json instead ("weight_map":
// name -> shard), opened as a folder next to a valid shard, every tensor it maps read.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "fuzz_file.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"

namespace {

// A valid shard with two F32 tensors, "a" [2] and "b" [1].
std::string shard() {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
    std::string out(8, '\0');
    for (int k = 0; k < 8; ++k) out[size_t(k)] = char((header.size() >> (8 * k)) & 0xff);
    return out + header + std::string(12, '\x01');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    volatile uint8_t sink = 0;
    if (size > 0 && data[0] == '{') {
        static const std::string dir = [] {
            const std::string d = fuzz::scratch("index");
            mkdir(d.c_str(), 0700);
            const std::string bytes = shard();
            fuzz::put(d + "/model-00001-of-00001.safetensors", bytes.data(), bytes.size());
            return d;
        }();
        fuzz::put(dir + "/model.safetensors.index.json", data, size);
        try {
            auto a = rc::SafetensorsArchive::open(dir);
            for (const auto& name : a->names())
                if (const auto* t = a->find(name))
                    for (size_t k = 0; k < t->nbytes; ++k) sink ^= t->data[k];
        } catch (const rc::Error&) {
        }
        return 0;
    }
    const std::string path = fuzz::write("st.safetensors", data, size);
    try {
        auto f = rc::SafetensorsFile::open(path);
        for (const auto& t : f->tensors())
            for (size_t k = 0; k < t.nbytes; ++k) sink ^= t.data[k];
    } catch (const rc::Error&) {
    }
    return 0;
}
