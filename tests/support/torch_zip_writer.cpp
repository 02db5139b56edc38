#include "support/torch_zip_writer.h"

#include <fstream>
#include <stdexcept>

namespace rc::testing {

namespace {

void put(std::vector<uint8_t>& out, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void unicode(std::vector<uint8_t>& p, const std::string& s) {
    p.push_back('X');
    put(p, s.size(), 4);
    p.insert(p.end(), s.begin(), s.end());
}

void global(std::vector<uint8_t>& p, const std::string& module, const std::string& name) {
    p.push_back('c');
    p.insert(p.end(), module.begin(), module.end());
    p.push_back('\n');
    p.insert(p.end(), name.begin(), name.end());
    p.push_back('\n');
}

void integer(std::vector<uint8_t>& p, int64_t v) {
    if (v >= 0 && v < 256) {
        p.push_back('K');
        put(p, v, 1);
    } else if (v >= 0 && v < 65536) {
        p.push_back('M');
        put(p, v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        p.push_back('J');
        put(p, static_cast<uint32_t>(v), 4);
    } else {
        p.push_back(0x8a);  // LONG1, 8 bytes
        p.push_back(8);
        put(p, static_cast<uint64_t>(v), 8);
    }
}

}  // namespace

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> strides(shape.size(), 1);
    int64_t stride = 1;
    for (size_t d = shape.size(); d-- > 0;) {
        strides[d] = stride;
        stride *= shape[d];
    }
    return strides;
}

std::vector<uint8_t> state_dict_pickle(const std::vector<ZipTensor>& tensors,
                                       const std::vector<ZipStorage>& storages, bool plain_dict) {
    std::vector<uint8_t> p = {0x80, 2};
    if (plain_dict) {
        p.push_back('}');
    } else {
        global(p, "collections", "OrderedDict");
        p.push_back(')');
        p.push_back('R');
    }
    p.push_back('q');
    p.push_back(0);
    p.push_back('(');
    uint8_t memo = 1;
    for (const auto& t : tensors) {
        unicode(p, t.name);
        global(p, "torch._utils", "_rebuild_tensor_v2");
        p.push_back('q');
        p.push_back(memo++);
        p.push_back('(');
        // persistent id ('storage', torch.<Type>, key, 'cpu', numel)
        p.push_back('(');
        unicode(p, "storage");
        global(p, "torch", t.storage_type);
        unicode(p, t.storage_key);
        unicode(p, "cpu");
        int64_t numel = 0;
        for (const auto& s : storages)
            if (s.key == t.storage_key) numel = s.numel;
        integer(p, numel);
        p.push_back('t');
        p.push_back('Q');
        integer(p, t.offset);
        p.push_back('(');
        for (int64_t d : t.shape) integer(p, d);
        p.push_back('t');
        p.push_back('(');
        for (int64_t d : t.strides) integer(p, d);
        p.push_back('t');
        p.push_back(0x89);  // requires_grad False
        global(p, "collections", "OrderedDict");
        p.push_back(')');
        p.push_back('R');
        p.push_back('t');
        p.push_back('R');
    }
    p.push_back('u');
    if (plain_dict) {
        p.push_back('.');
        return p;
    }
    // An OrderedDict state dict carries _metadata through BUILD.
    p.push_back('}');
    unicode(p, "_metadata");
    p.push_back('}');
    p.push_back('s');
    p.push_back('b');
    p.push_back('.');
    return p;
}

void write_torch_zip(const std::string& path, const std::vector<uint8_t>& pickle,
                     const std::vector<ZipStorage>& storages, const ZipOptions& o) {
    struct Entry {
        std::string name;
        std::vector<uint8_t> data;
        uint64_t offset = 0;
    };
    std::vector<Entry> entries;
    entries.push_back({"archive/data.pkl", pickle});
    for (const auto& s : storages) entries.push_back({"archive/data/" + s.key, s.bytes});
    entries.push_back({"archive/version", {'3', '\n'}});

    std::vector<uint8_t> out;
    for (auto& e : entries) {
        // Pad with an extra field so data starts on a 64-byte boundary, as torch does.
        e.offset = out.size();
        const uint64_t header = 30 + e.name.size();
        const uint64_t pad = (64 - (out.size() + header + 4) % 64) % 64;
        put(out, 0x04034b50, 4);
        put(out, 20, 2);
        put(out, 0, 2);
        put(out, o.method, 2);
        put(out, 0, 4);  // time, date
        put(out, 0, 4);  // crc (not checked)
        put(out, e.data.size(), 4);
        put(out, e.data.size(), 4);
        put(out, e.name.size(), 2);
        put(out, 4 + pad, 2);
        out.insert(out.end(), e.name.begin(), e.name.end());
        put(out, 0xCAFE, 2);  // a private extra block used as padding
        put(out, pad, 2);
        out.insert(out.end(), pad, 0);
        out.insert(out.end(), e.data.begin(), e.data.end());
    }
    const uint64_t dir_offset = out.size();
    for (const auto& e : entries) {
        put(out, 0x02014b50, 4);
        put(out, 20, 2);
        put(out, 20, 2);
        put(out, 0, 2);
        put(out, o.method, 2);
        put(out, 0, 4);
        put(out, 0, 4);
        const uint64_t size32 = o.zip64 ? 0xFFFFFFFF : e.data.size();
        put(out, size32, 4);
        put(out, size32, 4);
        put(out, e.name.size(), 2);
        put(out, o.zip64 ? 28 : 0, 2);
        put(out, 0, 2);
        put(out, 0, 2);
        put(out, 0, 2);
        put(out, 0, 4);
        put(out, o.zip64 ? 0xFFFFFFFF : e.offset, 4);
        out.insert(out.end(), e.name.begin(), e.name.end());
        if (o.zip64) {
            put(out, 0x0001, 2);
            put(out, 24, 2);
            put(out, e.data.size(), 8);
            put(out, e.data.size(), 8);
            put(out, e.offset, 8);
        }
    }
    const uint64_t dir_size = out.size() - dir_offset;
    if (o.zip64) {
        const uint64_t z = out.size();
        put(out, 0x06064b50, 4);
        put(out, 44, 8);
        put(out, 45, 2);
        put(out, 45, 2);
        put(out, 0, 4);
        put(out, 0, 4);
        put(out, entries.size(), 8);
        put(out, entries.size(), 8);
        put(out, dir_size, 8);
        put(out, dir_offset, 8);
        put(out, 0x07064b50, 4);
        put(out, 0, 4);
        put(out, z, 8);
        put(out, 1, 4);
    }
    put(out, 0x06054b50, 4);
    put(out, 0, 2);
    put(out, 0, 2);
    put(out, o.zip64 ? 0xFFFF : entries.size(), 2);
    put(out, o.zip64 ? 0xFFFF : entries.size(), 2);
    put(out, o.zip64 ? 0xFFFFFFFF : dir_size, 4);
    put(out, o.zip64 ? 0xFFFFFFFF : dir_offset, 4);
    put(out, 0, 2);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace rc::testing
