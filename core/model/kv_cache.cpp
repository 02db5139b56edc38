#include "model/kv_cache.h"

namespace rc {

KvCache::KvCache(int layers, int64_t kv_heads, int64_t head_dim, torch::TensorOptions options)
    : keys_(layers), values_(layers), kv_heads_(kv_heads), head_dim_(head_dim), options_(options) {}

void KvCache::reserve(int64_t positions) {
    if (positions > capacity_) allocate(positions);
}

void KvCache::allocate(int64_t cap) {
    for (size_t l = 0; l < keys_.size(); ++l) {
        auto k = torch::empty({1, kv_heads_, cap, head_dim_}, options_);
        auto v = torch::empty({1, kv_heads_, cap, head_dim_}, options_);
        if (capacity_ > 0 && length_ > 0) {
            k.narrow(2, 0, length_).copy_(keys_[l].narrow(2, 0, length_));
            v.narrow(2, 0, length_).copy_(values_[l].narrow(2, 0, length_));
        }
        keys_[l] = k;
        values_[l] = v;
    }
    capacity_ = cap;
}

KvCache KvCache::clone() const {
    KvCache c(int(keys_.size()), kv_heads_, head_dim_, options_);
    if (capacity_ > 0) {
        c.allocate(capacity_);
        for (size_t l = 0; l < keys_.size(); ++l) {
            c.keys_[l].narrow(2, 0, length_).copy_(keys_[l].narrow(2, 0, length_));
            c.values_[l].narrow(2, 0, length_).copy_(values_[l].narrow(2, 0, length_));
        }
    }
    c.length_ = length_;
    return c;
}

void KvCache::make_room(int layer, int64_t end) {
    // Without a reservation, by doubling (a few copies over a long conversation, not one per
    // token).
    if (layer == 0 && end > capacity_) allocate(std::max<int64_t>({end, capacity_ * 2, 256}));
}

std::pair<torch::Tensor, torch::Tensor> KvCache::update(int layer, const torch::Tensor& k,
                                                        const torch::Tensor& v, int64_t pos) {
    const int64_t T = k.size(2);
    make_room(layer, pos + T);
    keys_[layer].narrow(2, pos, T).copy_(k);
    values_[layer].narrow(2, pos, T).copy_(v);
    return {keys_[layer].narrow(2, 0, pos + T), values_[layer].narrow(2, 0, pos + T)};
}

}  // namespace rc
