// Per-layer key/value cache for incremental decoding. The engine reserves a turn's positions
// (the prompt plus the answer's budget) before its prefill, so the decode loop writes into
// storage that never moves; positions beyond a reservation still fit (storage then doubles).
// truncate() keeps a prefix so a new turn reuses everything up to the first changed token.
#pragma once

#include <vector>

#include <torch/torch.h>

namespace rc {

class KvCache {
public:
    KvCache() = default;
    KvCache(int layers, int64_t kv_heads, int64_t head_dim, torch::TensorOptions options);

    /// Writes k/v [1, kv_heads, T, head_dim] of `layer` at positions [pos, pos+T) and returns
    /// views of positions [0, pos+T). Call set_length(pos+T) after all layers ran.
    std::pair<torch::Tensor, torch::Tensor> update(int layer, const torch::Tensor& k,
                                                   const torch::Tensor& v, int64_t pos);
    /// Number of positions holding valid keys/values.
    int64_t length() const { return length_; }
    void set_length(int64_t n) { length_ = n; }
    /// Forgets positions >= n (keeps memory).
    void truncate(int64_t n) { length_ = std::min(length_, n); }
    void clear() { length_ = 0; }
    int64_t capacity() const { return capacity_; }
    /// Makes room for `positions` positions now (one allocation per layer, the valid positions
    /// copied over); nothing when it already has them.
    void reserve(int64_t positions);
    /// A deep copy of the valid positions, with this cache's capacity (a beam's copy decodes
    /// without growing).
    KvCache clone() const;
    bool empty_storage() const { return keys_.empty(); }
    /// The dtype its keys and values are held in.
    torch::ScalarType dtype() const { return c10::typeMetaToScalarType(options_.dtype()); }
    /// Grows storage, as update() does, so that positions up to `end` fit (layer 0 grows it for
    /// all layers: every layer sees the same positions in one forward).
    void make_room(int layer, int64_t end);
    /// A layer's key and value storage, [1, kv_heads, capacity(), head_dim] (for the fused
    /// decode step, which writes one position itself).
    const torch::Tensor& keys(int layer) const { return keys_[size_t(layer)]; }
    const torch::Tensor& values(int layer) const { return values_[size_t(layer)]; }

private:
    void allocate(int64_t capacity);
    std::vector<torch::Tensor> keys_, values_;
    int64_t kv_heads_ = 0, head_dim_ = 0, capacity_ = 0, length_ = 0;
    torch::TensorOptions options_;
};

}  // namespace rc
