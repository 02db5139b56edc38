// Safetensors reader (memory-mapped, sharded) and writer. Torch-free: tensors are byte views.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data block. Every length, offset and shape is bounds-checked against the file size
// before use; a bad file throws rc::Error naming the file (and the tensor), never allocates
// from an unchecked size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rc {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

/// Bytes per element of a dtype.
size_t dtype_size(DType t);
/// "F32", "F16", "BF16", ... as written in safetensors headers.
const char* dtype_name(DType t);
/// Parses a safetensors dtype name; returns false for names we do not support.
bool parse_dtype(const std::string& name, DType* out);

/// A tensor inside a mapped file. `data` stays valid while the owning file is open.
struct TensorView {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;
    size_t nbytes = 0;
    std::string file;  ///< path of the file holding it, for messages
    /// Element strides of a view into a larger storage (PyTorch checkpoints); empty means
    /// contiguous row-major. `data` points at the first element, `nbytes` spans every
    /// element the strides reach.
    std::vector<int64_t> strides;

    int64_t numel() const;
};

class SafetensorsFile;

/// A PyTorch checkpoint written by torch.save (the zip format: `<name>/data.pkl` plus one
/// stored entry per storage), as LLaVA's `pytorch_model-*.bin` shards and Pink's `.pth`
/// files are. Memory-mapped like a .safetensors file. The pickle is interpreted, never
/// executed: only the opcodes torch.save uses for a (nested) dict of tensors and the globals
/// collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter and the
/// typed storages are accepted; anything else throws rc::Error naming it. Nested dicts are
/// flattened with "." ("state_dict.layer.weight"). F32, F16, BF16, F64 and integer storages;
/// views with offsets and strides are bounds-checked against their storage.
std::unique_ptr<SafetensorsFile> open_torch_checkpoint(const std::string& path);

/// One memory-mapped .safetensors file (or, through open_torch_checkpoint, a torch zip file).
class SafetensorsFile {
public:
    /// Maps and validates `path`. Throws rc::Error on any inconsistency.
    static std::unique_ptr<SafetensorsFile> open(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const std::vector<TensorView>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    /// Returns the tensor or nullptr.
    const TensorView* find(const std::string& name) const;
    /// Drops this process's copy of the whole pages inside [data, data + n) (the file stays in
    /// the page cache; a later read maps it in again), so a loader that has copied a tensor
    /// does not keep the file resident too. False when the range is not in this file's map.
    bool release(const uint8_t* data, size_t n) const;

private:
    friend std::unique_ptr<SafetensorsFile> open_torch_checkpoint(const std::string& path);
    /// Maps `path` read-only into a new, empty file object.
    static std::unique_ptr<SafetensorsFile> map(const std::string& path, uint64_t min_size);
    SafetensorsFile() = default;
    std::string path_;
    void* map_ = nullptr;
    size_t map_size_ = 0;
    std::vector<TensorView> tensors_;
    std::map<std::string, size_t> index_;
    std::map<std::string, std::string> metadata_;
};

/// All tensors of a model folder: `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json` ("weight_map": name -> shard file), or every *.safetensors
/// file in the folder. A single .safetensors file path is accepted too.
class SafetensorsArchive {
public:
    /// Throws rc::Error naming the folder/file when nothing usable is found or a shard is bad.
    static std::unique_ptr<SafetensorsArchive> open(const std::string& dir_or_file);

    /// Returns the tensor or nullptr.
    const TensorView* find(const std::string& name) const;
    /// All tensor names in a stable (sorted) order.
    std::vector<std::string> names() const;
    /// Sum of the tensors' byte sizes.
    uint64_t total_bytes() const;
    size_t size() const { return by_name_.size(); }
    const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
    /// Takes over `other`'s tensors whose names start with `keep_prefix`, renamed
    /// `add_prefix + name` (the original LLaVA layout's separate CLIP folder becomes
    /// "vision_tower.vision_model.*"). rc::Error when a name is already taken.
    void merge(std::unique_ptr<SafetensorsArchive> other, const std::string& keep_prefix,
               const std::string& add_prefix);
    /// Takes over all of `other`'s tensors; a name already here now means `other`'s tensor
    /// (Pink's saved_parameters.pth over the LLaMA-2 shards). Returns how many it replaced.
    size_t overlay(std::unique_ptr<SafetensorsArchive> other);
    /// SafetensorsFile::release for a tensor of this archive, once it has been copied.
    void release(const TensorView& view) const;

private:
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, const TensorView*> by_name_;
};

/// A tensor to write: raw little-endian bytes in row-major order.
struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const void* data = nullptr;
    size_t nbytes = 0;
};

/// Writes a safetensors file atomically (temporary file + rename). Tensors are written in
/// the given order, 8-byte aligned header. Throws rc::Error on I/O failure or when a
/// tensor's nbytes does not match its shape and dtype.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace rc
