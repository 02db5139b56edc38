// PyTorch zip checkpoints (torch.save) read without Python and without executing anything:
// the zip's central directory locates `data.pkl` and the stored storages, and a small pickle
// interpreter that knows only what torch.save writes for a dict of tensors rebuilds the
// tensor table. Every size, offset and stride is checked against the mapped file.
#include <cstring>
#include <limits>
#include <map>
#include <algorithm>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "regionchat/error.h"
#include "regionchat/safetensors.h"

namespace rc {

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& what) {
    throw Error(file + ": " + what);
}

uint64_t le(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// ---- zip -----------------------------------------------------------------------------

struct ZipEntry {
    uint64_t data = 0;  // offset of the stored bytes in the file
    uint64_t size = 0;
};

// The central directory of a zip whose entries are all stored (torch.save never compresses),
// zip64 included (shards of 7B models are larger than 4 GiB).
std::map<std::string, ZipEntry> read_zip(const std::string& path, const uint8_t* f, uint64_t n) {
    constexpr uint64_t kEocd = 22;
    if (n < kEocd) fail(path, "not a zip file (too short)");
    // The end-of-central-directory record is in the last 64 KiB + 22 bytes (comment <= 65535).
    uint64_t eocd = std::numeric_limits<uint64_t>::max();
    const uint64_t lowest = n > kEocd + 65535 ? n - kEocd - 65535 : 0;
    for (uint64_t at = n - kEocd + 1; at-- > lowest;)
        if (le(f + at, 4) == 0x06054b50) {
            eocd = at;
            break;
        }
    if (eocd == std::numeric_limits<uint64_t>::max())
        fail(path,
             "not a PyTorch zip checkpoint (no zip directory; legacy torch.save files "
             "from before PyTorch 1.6 are not supported)");
    uint64_t count = le(f + eocd + 10, 2), dir_size = le(f + eocd + 12, 4),
             dir_offset = le(f + eocd + 16, 4);
    if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {
        // zip64: a locator just before the record points at the zip64 record.
        if (eocd < 20 || le(f + eocd - 20, 4) != 0x07064b50) fail(path, "bad zip64 locator");
        const uint64_t z = le(f + eocd - 20 + 8, 8);
        if (n < 56 || z > n - 56 || le(f + z, 4) != 0x06064b50)
            fail(path, "bad zip64 directory record");
        count = le(f + z + 32, 8);
        dir_size = le(f + z + 40, 8);
        dir_offset = le(f + z + 48, 8);
    }
    if (dir_offset > n || dir_size > n - dir_offset || count > dir_size / 46)
        fail(path, "zip directory out of the file");
    std::map<std::string, ZipEntry> entries;
    uint64_t at = dir_offset;
    for (uint64_t i = 0; i < count; ++i) {
        if (at + 46 > dir_offset + dir_size || le(f + at, 4) != 0x02014b50)
            fail(path, "bad zip directory entry " + std::to_string(i));
        const uint64_t method = le(f + at + 10, 2);
        uint64_t csize = le(f + at + 20, 4), usize = le(f + at + 24, 4);
        const uint64_t name_len = le(f + at + 28, 2), extra_len = le(f + at + 30, 2),
                       comment_len = le(f + at + 32, 2);
        uint64_t local = le(f + at + 42, 4);
        if (at + 46 + name_len + extra_len + comment_len > dir_offset + dir_size)
            fail(path, "zip directory entry " + std::to_string(i) + " runs out of the directory");
        const std::string name(reinterpret_cast<const char*>(f + at + 46), name_len);
        // zip64 extra field: the 0xFFFFFFFF fields, in order usize, csize, local offset.
        for (uint64_t e = at + 46 + name_len; e + 4 <= at + 46 + name_len + extra_len;) {
            const uint64_t id = le(f + e, 2), len = le(f + e + 2, 2);
            if (e + 4 + len > at + 46 + name_len + extra_len) break;
            if (id == 0x0001) {
                uint64_t p = e + 4;
                auto take = [&](uint64_t* v) {
                    if (*v != 0xFFFFFFFF) return;
                    if (p + 8 > e + 4 + len) fail(path, name + ": bad zip64 extra field");
                    *v = le(f + p, 8);
                    p += 8;
                };
                take(&usize);
                take(&csize);
                take(&local);
            }
            e += 4 + len;
        }
        if (method != 0)
            fail(path, name + ": compressed zip entries are not supported (torch.save stores)");
        if (csize != usize) fail(path, name + ": stored entry with two sizes");
        if (local > n - 30 || le(f + local, 4) != 0x04034b50)
            fail(path, name + ": bad local header");
        const uint64_t data = local + 30 + le(f + local + 26, 2) + le(f + local + 28, 2);
        if (data > n || usize > n - data) fail(path, name + ": data out of the file");
        entries[name] = {data, usize};
        at += 46 + name_len + extra_len + comment_len;
    }
    return entries;
}

// ---- pickle --------------------------------------------------------------------------

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct StorageRef {
    DType dtype = DType::F32;
    std::string key;
    uint64_t numel = 0;
};

struct TensorRef {
    StorageRef storage;
    uint64_t offset = 0;
    std::vector<int64_t> shape, strides;
};

struct Value {
    enum class Kind {
        None,
        Bool,
        Int,
        Float,
        String,
        Tuple,
        List,
        Dict,
        Global,
        Storage,
        Tensor,
        Mark
    };
    Kind kind = Kind::None;
    int64_t i = 0;
    double d = 0;
    std::string s;                // String, Global ("module.name")
    std::vector<ValuePtr> items;  // Tuple, List
    std::vector<std::pair<ValuePtr, ValuePtr>> dict;
    StorageRef storage;
    TensorRef tensor;
    // Once stored in a container a value never changes again (torch.save's pickles build each
    // container before storing it), so no cycle can form, and its nesting depth is final.
    bool stored = false;
    int depth = 0;
};

bool storage_dtype(const std::string& global, DType* out) {
    static const std::map<std::string, DType> kTypes = {
        {"torch.FloatStorage", DType::F32},     {"torch.HalfStorage", DType::F16},
        {"torch.BFloat16Storage", DType::BF16}, {"torch.DoubleStorage", DType::F64},
        {"torch.LongStorage", DType::I64},      {"torch.IntStorage", DType::I32},
        {"torch.ShortStorage", DType::I16},     {"torch.CharStorage", DType::I8},
        {"torch.ByteStorage", DType::U8},       {"torch.BoolStorage", DType::Bool}};
    const auto it = kTypes.find(global);
    if (it == kTypes.end()) return false;
    *out = it->second;
    return true;
}

class Unpickler {
public:
    Unpickler(std::string path, const uint8_t* p, uint64_t n)
        : path_(std::move(path)), p_(p), n_(n) {}

    // Bounds on what a pickle may make, far above any torch.save of a model: values (about 300
    // bytes each, one per opcode at most), container nesting (freed recursively).
    static constexpr uint64_t kMaxValues = 8'000'000;
    static constexpr int kMaxDepth = 100;

    ValuePtr run() {
        while (true) {
            const uint8_t op = byte();
            switch (op) {
                case 0x80:
                    byte();
                    break;  // PROTO
                case 0x95:
                    bytes(8);
                    break;  // FRAME (protocol 4)
                case '}':
                    push(make(Value::Kind::Dict));
                    break;  // EMPTY_DICT
                case ']':
                    push(make(Value::Kind::List));
                    break;  // EMPTY_LIST
                case ')':
                    push(make(Value::Kind::Tuple));
                    break;  // EMPTY_TUPLE
                case '(':
                    push(make(Value::Kind::Mark));
                    break;  // MARK
                case 'N':
                    push(make(Value::Kind::None));
                    break;
                case 0x88:
                case 0x89: {  // NEWTRUE, NEWFALSE
                    auto v = make(Value::Kind::Bool);
                    v->i = op == 0x88;
                    push(v);
                    break;
                }
                case 'K':
                    push_int(static_cast<int64_t>(le(bytes(1), 1)));
                    break;
                case 'M':
                    push_int(static_cast<int64_t>(le(bytes(2), 2)));
                    break;
                case 'J':
                    push_int(static_cast<int32_t>(le(bytes(4), 4)));
                    break;
                case 0x8a: {  // LONG1
                    const uint64_t len = le(bytes(1), 1);
                    if (len > 8) fail(path_, "data.pkl: integer wider than 64 bits");
                    const uint8_t* b = bytes(len);
                    uint64_t v = len ? le(b, static_cast<int>(len)) : 0;
                    if (len && len < 8 && (b[len - 1] & 0x80)) v |= ~0ull << (8 * len);  // sign
                    push_int(static_cast<int64_t>(v));
                    break;
                }
                case 'G': {  // BINFLOAT, big-endian
                    const uint8_t* b = bytes(8);
                    uint64_t bits = 0;
                    for (int k = 0; k < 8; ++k) bits = (bits << 8) | b[k];
                    auto v = make(Value::Kind::Float);
                    std::memcpy(&v->d, &bits, 8);
                    push(v);
                    break;
                }
                case 'X':
                    push_string(le(bytes(4), 4));
                    break;  // BINUNICODE
                case 0x8c:
                    push_string(le(bytes(1), 1));
                    break;   // SHORT_BINUNICODE
                case 'c': {  // GLOBAL module\nname\n
                    const std::string module = line(), name = line();
                    auto v = make(Value::Kind::Global);
                    v->s = module + "." + name;
                    check_global(v->s);
                    push(v);
                    break;
                }
                case 'q':
                    memo(le(bytes(1), 1));
                    break;  // BINPUT
                case 'r':
                    memo(le(bytes(4), 4));
                    break;  // LONG_BINPUT
                case 0x94:
                    memo(memo_.size());
                    break;  // MEMOIZE
                case 'h':
                    recall(le(bytes(1), 1));
                    break;  // BINGET
                case 'j':
                    recall(le(bytes(4), 4));
                    break;  // LONG_BINGET
                case 0x85:
                    tuple_of(1);
                    break;
                case 0x86:
                    tuple_of(2);
                    break;
                case 0x87:
                    tuple_of(3);
                    break;
                case 't': {  // TUPLE
                    auto v = make(Value::Kind::Tuple);
                    v->items = pop_to_mark();
                    for (const auto& item : v->items) store(*v, item);
                    push(v);
                    break;
                }
                case 'a': {  // APPEND
                    auto item = pop();
                    auto list = top(Value::Kind::List);
                    store(*list, item);
                    list->items.push_back(item);
                    break;
                }
                case 'e': {  // APPENDS
                    auto items = pop_to_mark();
                    auto list = top(Value::Kind::List);
                    for (const auto& item : items) store(*list, item);
                    list->items.insert(list->items.end(), items.begin(), items.end());
                    break;
                }
                case 's': {  // SETITEM
                    auto value = pop();
                    auto key = pop();
                    auto dict = top(Value::Kind::Dict);
                    store(*dict, key);
                    store(*dict, value);
                    dict->dict.emplace_back(key, value);
                    break;
                }
                case 'u': {  // SETITEMS
                    auto items = pop_to_mark();
                    if (items.size() % 2) fail(path_, "data.pkl: odd SETITEMS");
                    auto dict = top(Value::Kind::Dict);
                    for (const auto& item : items) store(*dict, item);
                    for (size_t k = 0; k < items.size(); k += 2)
                        dict->dict.emplace_back(items[k], items[k + 1]);
                    break;
                }
                case 'b':
                    pop();
                    break;   // BUILD: object state (an OrderedDict's _metadata)
                case 'Q': {  // BINPERSID
                    push(persistent(pop()));
                    break;
                }
                case 'R': {  // REDUCE
                    auto args = pop();
                    auto fn = pop();
                    push(reduce(fn, args));
                    break;
                }
                case '.': {  // STOP
                    if (stack_.size() != 1) fail(path_, "data.pkl: bad stack at STOP");
                    return stack_.back();
                }
                default: {
                    char buf[64];
                    std::snprintf(buf, sizeof buf, "unsupported pickle opcode 0x%02x at byte %llu",
                                  op, static_cast<unsigned long long>(at_ - 1));
                    fail(path_, std::string("data.pkl: ") + buf +
                                    " (only what torch.save writes for tensors is read)");
                }
            }
        }
    }

private:
    ValuePtr make(Value::Kind k) {
        if (++made_ > kMaxValues) fail(path_, "data.pkl: too many values");
        auto v = std::make_shared<Value>();
        v->kind = k;
        return v;
    }
    // `item` goes into `container`: it is frozen, and the container's depth follows.
    void store(Value& container, const ValuePtr& item) {
        if (item.get() == &container) fail(path_, "data.pkl: a container inside itself");
        item->stored = true;
        container.depth = std::max(container.depth, item->depth + 1);
        if (container.depth > kMaxDepth) fail(path_, "data.pkl: values nested too deeply");
    }
    const uint8_t* bytes(uint64_t k) {
        if (k > n_ - at_) fail(path_, "data.pkl: truncated");
        const uint8_t* b = p_ + at_;
        at_ += k;
        return b;
    }
    uint8_t byte() { return *bytes(1); }
    std::string line() {
        std::string s;
        while (true) {
            const char c = static_cast<char>(byte());
            if (c == '\n') return s;
            if (s.size() > 200) fail(path_, "data.pkl: name too long");
            s += c;
        }
    }
    void push(ValuePtr v) {
        if (stack_.size() > 100000) fail(path_, "data.pkl: stack too deep");
        stack_.push_back(std::move(v));
    }
    void push_int(int64_t x) {
        auto v = make(Value::Kind::Int);
        v->i = x;
        push(v);
    }
    void push_string(uint64_t len) {
        auto v = make(Value::Kind::String);
        const uint8_t* b = bytes(len);
        v->s.assign(reinterpret_cast<const char*>(b), len);
        push(v);
    }
    ValuePtr pop() {
        if (stack_.empty() || stack_.back()->kind == Value::Kind::Mark)
            fail(path_, "data.pkl: stack underflow");
        auto v = stack_.back();
        stack_.pop_back();
        return v;
    }
    ValuePtr top(Value::Kind kind) {
        if (stack_.empty() || stack_.back()->kind != kind)
            fail(path_, "data.pkl: unexpected container");
        if (stack_.back()->stored)
            fail(path_, "data.pkl: a container changed after it was stored (a cycle?)");
        return stack_.back();
    }
    std::vector<ValuePtr> pop_to_mark() {
        std::vector<ValuePtr> items;
        while (true) {
            if (stack_.empty()) fail(path_, "data.pkl: MARK missing");
            auto v = stack_.back();
            stack_.pop_back();
            if (v->kind == Value::Kind::Mark) break;
            items.push_back(v);
        }
        return {items.rbegin(), items.rend()};
    }
    void tuple_of(size_t k) {
        auto v = make(Value::Kind::Tuple);
        v->items.resize(k);
        for (size_t j = k; j-- > 0;) v->items[j] = pop();
        for (const auto& item : v->items) store(*v, item);
        push(v);
    }
    void memo(uint64_t index) {
        if (stack_.empty()) fail(path_, "data.pkl: memo of nothing");
        // Pickle numbers its memo entries in order; a jump would only make us allocate.
        if (index > memo_.size()) fail(path_, "data.pkl: memo index out of order");
        if (memo_.size() <= index) memo_.resize(index + 1);
        memo_[index] = stack_.back();
    }
    void recall(uint64_t index) {
        if (index >= memo_.size() || !memo_[index]) fail(path_, "data.pkl: bad memo reference");
        push(memo_[index]);
    }
    void check_global(const std::string& g) {
        DType unused;
        if (g == "collections.OrderedDict" || g == "torch._utils._rebuild_tensor_v2" ||
            g == "torch._utils._rebuild_parameter" || storage_dtype(g, &unused))
            return;
        fail(path_, "data.pkl: refusing pickle global '" + g +
                        "' (only tensors, storages and OrderedDict are read)");
    }
    int64_t as_int(const ValuePtr& v, const char* what) {
        if (v->kind != Value::Kind::Int)
            fail(path_, std::string("data.pkl: ") + what + " is not an integer");
        return v->i;
    }
    // ('storage', torch.FloatStorage, key, location, numel)
    ValuePtr persistent(const ValuePtr& pid) {
        if (pid->kind != Value::Kind::Tuple || pid->items.size() < 5 ||
            pid->items[0]->kind != Value::Kind::String || pid->items[0]->s != "storage" ||
            pid->items[1]->kind != Value::Kind::Global ||
            pid->items[2]->kind != Value::Kind::String)
            fail(path_, "data.pkl: unexpected persistent id (not a storage)");
        auto v = make(Value::Kind::Storage);
        if (!storage_dtype(pid->items[1]->s, &v->storage.dtype))
            fail(path_, "data.pkl: unsupported storage type " + pid->items[1]->s);
        v->storage.key = pid->items[2]->s;
        const int64_t numel = as_int(pid->items[4], "storage size");
        if (numel < 0) fail(path_, "data.pkl: negative storage size");
        v->storage.numel = static_cast<uint64_t>(numel);
        return v;
    }
    std::vector<int64_t> int_tuple(const ValuePtr& v, const char* what) {
        if (v->kind != Value::Kind::Tuple)
            fail(path_, std::string("data.pkl: ") + what + " is not a tuple");
        std::vector<int64_t> out;
        for (const auto& x : v->items) out.push_back(as_int(x, what));
        return out;
    }
    ValuePtr reduce(const ValuePtr& fn, const ValuePtr& args) {
        if (fn->kind != Value::Kind::Global || args->kind != Value::Kind::Tuple)
            fail(path_, "data.pkl: REDUCE of something that is not an allowed global");
        if (fn->s == "collections.OrderedDict") {
            if (!args->items.empty()) fail(path_, "data.pkl: OrderedDict with arguments");
            return make(Value::Kind::Dict);
        }
        if (fn->s == "torch._utils._rebuild_parameter") {
            if (args->items.empty() || args->items[0]->kind != Value::Kind::Tensor)
                fail(path_, "data.pkl: _rebuild_parameter without a tensor");
            return args->items[0];
        }
        if (fn->s == "torch._utils._rebuild_tensor_v2") {
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            if (args->items.size() < 4 || args->items[0]->kind != Value::Kind::Storage)
                fail(path_, "data.pkl: _rebuild_tensor_v2 with unexpected arguments");
            auto v = make(Value::Kind::Tensor);
            v->tensor.storage = args->items[0]->storage;
            const int64_t offset = as_int(args->items[1], "storage offset");
            if (offset < 0) fail(path_, "data.pkl: negative storage offset");
            v->tensor.offset = static_cast<uint64_t>(offset);
            v->tensor.shape = int_tuple(args->items[2], "size");
            v->tensor.strides = int_tuple(args->items[3], "stride");
            if (v->tensor.shape.size() != v->tensor.strides.size())
                fail(path_, "data.pkl: size and stride differ in length");
            return v;
        }
        fail(path_, "data.pkl: REDUCE of '" + fn->s + "' is not allowed");
    }

    std::string path_;
    const uint8_t* p_;
    uint64_t n_;
    uint64_t at_ = 0;
    std::vector<ValuePtr> stack_;
    std::vector<ValuePtr> memo_;
    uint64_t made_ = 0;
};

// The tensors of nested dicts as "outer.inner.name". A dict may be shared (memo) under many
// keys: entries are counted as visited, so 30 keys to one dict 9 levels deep is refused, not
// walked 30^9 times.
void flatten(const std::string& file, const ValuePtr& dict, const std::string& prefix, int depth,
             std::vector<std::pair<std::string, TensorRef>>* out, uint64_t* visited) {
    if (depth > 8) fail(file, "data.pkl: dicts nested too deeply");
    for (const auto& [k, v] : dict->dict) {
        if (++*visited > 4'000'000) fail(file, "data.pkl: too many entries (shared dicts?)");
        if (k->kind != Value::Kind::String) continue;  // not a tensor name
        const std::string name = prefix.empty() ? k->s : prefix + "." + k->s;
        if (v->kind == Value::Kind::Tensor)
            out->emplace_back(name, v->tensor);
        else if (v->kind == Value::Kind::Dict)
            flatten(file, v, name, depth + 1, out, visited);
        // numbers, strings, None (an optimizer's step, a config value) are skipped
    }
}

}  // namespace

std::unique_ptr<SafetensorsFile> open_torch_checkpoint(const std::string& path) {
    auto f = SafetensorsFile::map(path, 22);
    const auto* bytes = static_cast<const uint8_t*>(f->map_);
    const uint64_t n = f->map_size_;
    const auto entries = read_zip(path, bytes, n);
    // Entries are "<archive name>/data.pkl" and "<archive name>/data/<key>".
    std::string prefix;
    for (const auto& [name, e] : entries) {
        const size_t at = name.find('/');
        if (at != std::string::npos && name.compare(at, std::string::npos, "/data.pkl") == 0) {
            prefix = name.substr(0, at + 1);
            break;
        }
    }
    if (prefix.empty()) fail(path, "zip file without data.pkl: not a torch.save checkpoint");
    const ZipEntry pkl = entries.at(prefix + "data.pkl");
    const ValuePtr root = Unpickler(path, bytes + pkl.data, pkl.size).run();
    if (root->kind != Value::Kind::Dict) fail(path, "data.pkl does not hold a dict of tensors");
    std::vector<std::pair<std::string, TensorRef>> tensors;
    uint64_t visited = 0;
    flatten(path, root, "", 0, &tensors, &visited);

    for (const auto& [name, t] : tensors) {
        const auto it = entries.find(prefix + "data/" + t.storage.key);
        if (it == entries.end())
            fail(path, "tensor '" + name + "': storage " + t.storage.key + " is missing");
        const size_t esize = dtype_size(t.storage.dtype);
        if (t.storage.numel > it->second.size / esize)
            fail(path, "tensor '" + name + "': storage " + t.storage.key + " is shorter than its " +
                           std::to_string(t.storage.numel) + " elements");
        // The last element the view reaches, checked without overflow.
        uint64_t extent = 0, numel = 1;
        bool contiguous = true;
        int64_t expect = 1;
        for (size_t d = t.shape.size(); d-- > 0;) {
            const int64_t size = t.shape[d], stride = t.strides[d];
            if (size < 0 || stride < 0)
                fail(path, "tensor '" + name + "': negative size or stride");
            if (size == 0) numel = 0;
            if (numel && size > int64_t(1) << 40)
                fail(path, "tensor '" + name + "': size too large");
            if (size > 1 && (uint64_t(stride) > (uint64_t(1) << 40)))
                fail(path, "tensor '" + name + "': stride too large");
            // A broadcast view (stride 0) is no weight torch.save writes for a model: it would
            // let a few bytes stand for a tensor of any size (a 19 KB file made a loader
            // allocate 1.75 GB).
            if (size > 1 && stride == 0)
                fail(path, "tensor '" + name + "': stride 0 (a broadcast view) is not a weight");
            // Each step checked: 2^40 rows times a 2^40 stride wraps a 64-bit product.
            uint64_t reach = 0;
            if (size > 0 && (__builtin_mul_overflow(uint64_t(size - 1), uint64_t(stride), &reach) ||
                             __builtin_add_overflow(extent, reach, &extent)))
                fail(path, "tensor '" + name + "': view reaches past its storage");
            numel *= uint64_t(size);
            if (numel > (uint64_t(1) << 40)) fail(path, "tensor '" + name + "': too many elements");
            if (size != 1 && stride != expect) contiguous = false;
            if (__builtin_mul_overflow(expect, size, &expect)) expect = -1;  // not contiguous past here
        }
        if (numel > 0 && (t.offset > t.storage.numel || extent >= t.storage.numel - t.offset))
            fail(path, "tensor '" + name + "': view reaches past its storage (offset " +
                           std::to_string(t.offset) + ", storage of " +
                           std::to_string(t.storage.numel) + " elements)");
        TensorView v;
        v.name = name;
        v.dtype = t.storage.dtype;
        v.shape = t.shape;
        v.data = bytes + it->second.data + t.offset * esize;
        v.nbytes = numel ? (extent + 1) * esize : 0;
        if (!contiguous) v.strides = t.strides;
        v.file = path;
        if (f->index_.count(name)) fail(path, "tensor '" + name + "' appears twice");
        f->index_[name] = f->tensors_.size();
        f->tensors_.push_back(std::move(v));
    }
    return f;
}

}  // namespace rc
