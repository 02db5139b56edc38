// Writes PyTorch zip checkpoints the way torch.save lays them out (data.pkl with the
// _rebuild_tensor_v2 / persistent-storage pickle, stored data/<key> entries), for tests of
// the reader. No Python needed; `raw_pickle` lets a test put any bytes in data.pkl.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rc::testing {

struct ZipTensor {
    std::string name;
    std::string storage_type = "FloatStorage";  ///< torch.<type>
    std::string storage_key = "0";
    std::vector<int64_t> shape, strides;
    int64_t offset = 0;
};

struct ZipStorage {
    std::string key;
    std::vector<uint8_t> bytes;
    int64_t numel = 0;
    std::string type = "FloatStorage";
};

/// Row-major element strides of a contiguous tensor of `shape`.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);

/// The pickle torch.save writes for an OrderedDict of these tensors (a module's state_dict), or
/// with `plain_dict` for a plain dict (Pink's torch.save of saved_parameters).
std::vector<uint8_t> state_dict_pickle(const std::vector<ZipTensor>& tensors,
                                       const std::vector<ZipStorage>& storages,
                                       bool plain_dict = false);

struct ZipOptions {
    bool zip64 = false;   ///< write zip64 records (as torch does for files > 4 GiB)
    uint16_t method = 0;  ///< 0 stored; 8 claims deflate (the reader must refuse)
};

/// Writes `archive/data.pkl`, `archive/data/<key>` and `archive/version` into `path`.
void write_torch_zip(const std::string& path, const std::vector<uint8_t>& pickle,
                     const std::vector<ZipStorage>& storages, const ZipOptions& options = {});

}  // namespace rc::testing
