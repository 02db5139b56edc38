// Safetensors reader (mmap) and writer. Every number read from a file is checked against the
// file size before it is used, so a damaged or hostile file ends in rc::Error, never in a crash
// or a huge allocation.
#include "regionchat/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/config_reader.h"
#include "regionchat/error.h"

namespace rc {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Real headers are a few hundred KiB even for 70B models; the cap only bounds the JSON parse.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr uint64_t kMaxIndexBytes = 100ull << 20;
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kTorchIndexName = "pytorch_model.bin.index.json";

[[noreturn]] void fail(const std::string& file, const std::string& what) {
    throw Error(file + ": " + what);
}

[[noreturn]] void fail_tensor(const std::string& file, const std::string& tensor,
                              const std::string& what) {
    throw Error(file + ": tensor '" + tensor + "': " + what);
}

// .bin / .pt / .pth are torch.save zip files; everything else is read as safetensors.
std::unique_ptr<SafetensorsFile> open_weights_file(const std::string& path);

std::string errno_text() {
    return std::strerror(errno);
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
    if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
    *out = a * b;
    return true;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Bytes a tensor of `shape` and `dtype` needs; false on a negative dim or on overflow.
// Overflow is checked at every step, so a zero dim after huge ones still counts as overflow
// (the reference implementation does the same).
bool tensor_bytes(const std::vector<int64_t>& shape, DType dtype, uint64_t* bytes,
                  std::string* why) {
    uint64_t numel = 1;
    for (int64_t d : shape) {
        if (d < 0) {
            *why = "negative dimension " + std::to_string(d) + " in shape " + shape_text(shape);
            return false;
        }
        if (!checked_mul(numel, static_cast<uint64_t>(d), &numel) ||
            numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            *why = "shape " + shape_text(shape) + " has more elements than fit in 64 bits";
            return false;
        }
    }
    if (!checked_mul(numel, dtype_size(dtype), bytes)) {
        *why = "shape " + shape_text(shape) + " " + dtype_name(dtype) + " overflows 64-bit sizes";
        return false;
    }
    return true;
}

// A JSON number as a non-negative 64-bit integer; false for floats, negatives and non-numbers.
bool json_u64(const json& v, uint64_t* out) {
    if (v.is_number_unsigned()) {
        *out = v.get<uint64_t>();
        return true;
    }
    if (v.is_number_integer() && v.get<int64_t>() >= 0) {
        *out = static_cast<uint64_t>(v.get<int64_t>());
        return true;
    }
    return false;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; users need the rest.
std::string json_error_text(const std::exception& e) {
    std::string s = e.what();
    const size_t p = s.find("] ");
    return p == std::string::npos ? s : s.substr(p + 2);
}

struct HeaderEntry {
    TensorView view;
    uint64_t begin = 0;
    uint64_t end = 0;
};

HeaderEntry parse_entry(const std::string& file, const std::string& name, const json& e,
                        const uint8_t* data, uint64_t data_size) {
    HeaderEntry out;
    out.view.name = name;
    out.view.file = file;
    if (!e.is_object()) fail_tensor(file, name, "header entry must be an object");

    const auto dt = e.find("dtype");
    if (dt == e.end()) fail_tensor(file, name, "missing 'dtype'");
    if (!dt->is_string()) fail_tensor(file, name, "'dtype' must be a string");
    const std::string& dtname = dt->get_ref<const std::string&>();
    if (!parse_dtype(dtname, &out.view.dtype))
        fail_tensor(file, name, "unknown dtype '" + dtname + "'");

    const auto sh = e.find("shape");
    if (sh == e.end()) fail_tensor(file, name, "missing 'shape'");
    if (!sh->is_array()) fail_tensor(file, name, "'shape' must be an array of integers");
    out.view.shape.reserve(sh->size());  // bounded: each element took header bytes
    for (const json& d : *sh) {
        if (!d.is_number_integer()) fail_tensor(file, name, "'shape' must be an array of integers");
        if (d.is_number_unsigned() &&
            d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            fail_tensor(file, name, "dimension " + cfg::brief(d) + " in 'shape' is too large");
        out.view.shape.push_back(d.get<int64_t>());
    }
    uint64_t need = 0;
    std::string why;
    if (!tensor_bytes(out.view.shape, out.view.dtype, &need, &why)) fail_tensor(file, name, why);

    const auto off = e.find("data_offsets");
    if (off == e.end()) fail_tensor(file, name, "missing 'data_offsets'");
    if (!off->is_array() || off->size() != 2 || !json_u64((*off)[0], &out.begin) ||
        !json_u64((*off)[1], &out.end))
        fail_tensor(file, name,
                    "'data_offsets' must be two non-negative integers, got " + cfg::brief(*off));
    const std::string offs =
        "data_offsets [" + std::to_string(out.begin) + ", " + std::to_string(out.end) + "]";
    if (out.begin > out.end) fail_tensor(file, name, offs + " are not ascending");
    if (out.end > data_size)
        fail_tensor(
            file, name,
            offs + " reach beyond the data block of " + std::to_string(data_size) + " bytes");
    if (out.end - out.begin != need)
        fail_tensor(file, name,
                    offs + " hold " + std::to_string(out.end - out.begin) + " bytes, shape " +
                        shape_text(out.view.shape) + " " + dtname + " needs " +
                        std::to_string(need));
    out.view.data = data + out.begin;
    out.view.nbytes = static_cast<size_t>(need);
    return out;
}

// Parses and validates the header of a mapped file; fills tensors (in data order) and metadata.
void parse_header(const std::string& file, const uint8_t* bytes, uint64_t size,
                  std::vector<TensorView>* tensors, std::map<std::string, std::string>* metadata) {
    if (size < 8)
        fail(file,
             "file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    if (n > size - 8)
        fail(file, "header length " + std::to_string(n) + " is larger than the file (" +
                       std::to_string(size) + " bytes)");
    if (n > kMaxHeaderBytes)
        fail(file, "header length " + std::to_string(n) + " exceeds the limit of " +
                       std::to_string(kMaxHeaderBytes) + " bytes");

    const char* text = reinterpret_cast<const char*>(bytes + 8);
    // nlohmann keeps the last of duplicate keys; a SAX pass records the first duplicate to
    // reject the file (nlohmann's callback parser took 16.5 s for 200 k entries: quadratic).
    struct DuplicateKeys : nlohmann::json_sax<json> {
        int depth = 0;
        std::set<std::string> seen;
        std::string duplicate;
        bool null() override { return true; }
        bool boolean(bool) override { return true; }
        bool number_integer(number_integer_t) override { return true; }
        bool number_unsigned(number_unsigned_t) override { return true; }
        bool number_float(number_float_t, const string_t&) override { return true; }
        bool string(string_t&) override { return true; }
        bool binary(binary_t&) override { return true; }
        bool start_object(std::size_t) override { return ++depth, true; }
        bool end_object() override { return --depth, true; }
        bool start_array(std::size_t) override { return ++depth, true; }
        bool end_array() override { return --depth, true; }
        bool key(string_t& k) override {
            if (depth == 1 && !seen.insert(k).second && duplicate.empty()) duplicate = k;
            return true;
        }
        bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
            return false;
        }
    } keys;
    json header;
    try {
        header = json::parse(text, text + n);
    } catch (const json::exception& e) {
        fail(file, "header is not valid JSON: " + json_error_text(e));
    }
    if (!header.is_object()) fail(file, "header must be a JSON object");
    json::sax_parse(text, text + n, &keys);
    if (!keys.duplicate.empty()) fail(file, "header names '" + keys.duplicate + "' twice");

    const uint8_t* data = bytes + 8 + n;
    const uint64_t data_size = size - 8 - n;
    std::vector<HeaderEntry> entries;
    entries.reserve(header.size());
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (it->is_null()) continue;
            if (!it->is_object()) fail(file, "'__metadata__' must be an object of strings");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string())
                    fail(file, "'__metadata__' value for '" + m.key() + "' must be a string");
                (*metadata)[m.key()] = m->get<std::string>();
            }
            continue;
        }
        entries.push_back(parse_entry(file, it.key(), *it, data, data_size));
    }

    // Data order makes loading read the mapping front to back; it also makes the overlap
    // check a single pass (each range must start at or after the end of the one before).
    std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const HeaderEntry* prev = nullptr;
    for (const HeaderEntry& e : entries) {
        if (e.begin == e.end) continue;  // empty tensors own no bytes
        if (prev && e.begin < prev->end)
            fail_tensor(file, e.view.name,
                        "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                            "] overlap tensor '" + prev->view.name + "' [" +
                            std::to_string(prev->begin) + ", " + std::to_string(prev->end) + "]");
        prev = &e;
    }
    tensors->reserve(entries.size());
    for (HeaderEntry& e : entries) tensors->push_back(std::move(e.view));
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A shard named by index.json must stay inside the model folder.
bool shard_name_is_safe(const std::string& shard) {
    if (shard.empty() || shard.front() == '/') return false;
    std::stringstream parts(shard);
    std::string part;
    while (std::getline(parts, part, '/'))
        if (part == "..") return false;
    return true;
}

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

std::string read_small_file(const std::string& path, uint64_t limit) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) fail(path, "cannot read: " + ec.message());
    if (size > limit)
        fail(path, "file is " + std::to_string(size) + " bytes, more than the limit of " +
                       std::to_string(limit));
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open: " + errno_text());
    std::string text(static_cast<size_t>(size), '\0');
    in.read(&text[0], static_cast<std::streamsize>(size));
    if (static_cast<uintmax_t>(in.gcount()) != size) fail(path, "cannot read the whole file");
    return text;
}

// weight_map of an index.json: tensor name -> shard file name, each checked.
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
    const std::string text = read_small_file(index_path, kMaxIndexBytes);
    json index;
    try {
        index = json::parse(text);
    } catch (const json::exception& e) {
        fail(index_path, "not valid JSON: " + json_error_text(e));
    }
    if (!index.is_object()) fail(index_path, "must be a JSON object");
    const auto wm = index.find("weight_map");
    if (wm == index.end()) fail(index_path, "missing 'weight_map'");
    if (!wm->is_object()) fail(index_path, "'weight_map' must be an object");
    if (wm->empty()) fail(index_path, "'weight_map' is empty");
    std::map<std::string, std::string> out;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
        if (!it->is_string())
            fail(index_path, "weight_map entry for '" + it.key() + "' must be a file name");
        const std::string& shard = it->get_ref<const std::string&>();
        if (!shard_name_is_safe(shard))
            fail(index_path, "shard path '" + shard + "' for tensor '" + it.key() +
                                 "' leaves the model folder");
        out[it.key()] = shard;
    }
    return out;
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail(path, "write failed: " + errno_text());
        p += w;
        n -= static_cast<size_t>(w);
    }
}

}  // namespace

size_t dtype_size(DType t) {
    switch (t) {
        case DType::F64:
        case DType::I64:
            return 8;
        case DType::F32:
        case DType::I32:
            return 4;
        case DType::F16:
        case DType::BF16:
        case DType::I16:
            return 2;
        case DType::I8:
        case DType::U8:
        case DType::Bool:
            return 1;
    }
    return 1;
}

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32:
            return "F32";
        case DType::F16:
            return "F16";
        case DType::BF16:
            return "BF16";
        case DType::F64:
            return "F64";
        case DType::I64:
            return "I64";
        case DType::I32:
            return "I32";
        case DType::I16:
            return "I16";
        case DType::I8:
            return "I8";
        case DType::U8:
            return "U8";
        case DType::Bool:
            return "BOOL";
    }
    return "?";
}

bool parse_dtype(const std::string& name, DType* out) {
    static const std::pair<const char*, DType> kNames[] = {
        {"F32", DType::F32}, {"F16", DType::F16},  {"BF16", DType::BF16}, {"F64", DType::F64},
        {"I64", DType::I64}, {"I32", DType::I32},  {"I16", DType::I16},   {"I8", DType::I8},
        {"U8", DType::U8},   {"BOOL", DType::Bool}};
    for (const auto& [n, t] : kNames) {
        if (name == n) {
            if (out) *out = t;
            return true;
        }
    }
    return false;
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // validated against overflow when the file was opened
    return n;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::map(const std::string& path, uint64_t min_size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, "cannot open: " + errno_text());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const std::string why = errno_text();
        ::close(fd);
        fail(path, "cannot stat: " + why);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, "not a regular file");
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < min_size) {
        ::close(fd);
        fail(path, "file is " + std::to_string(size) + " bytes, too short for a header");
    }
    if (size > std::numeric_limits<size_t>::max()) {
        ::close(fd);
        fail(path, "file is too large to map");
    }
    void* map = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
    const std::string map_error = map == MAP_FAILED ? errno_text() : std::string();
    ::close(fd);  // the mapping keeps the file alive
    if (map == MAP_FAILED) fail(path, "cannot map: " + map_error);
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->path_ = path;
    f->map_ = map;  // from here the destructor unmaps, also when validation throws
    f->map_size_ = static_cast<size_t>(size);
    return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    auto f = map(path, 8);
    parse_header(path, static_cast<const uint8_t*>(f->map_), f->map_size_, &f->tensors_,
                 &f->metadata_);
    for (size_t i = 0; i < f->tensors_.size(); ++i) f->index_[f->tensors_[i].name] = i;
    return f;
}

namespace {
std::unique_ptr<SafetensorsFile> open_weights_file(const std::string& path) {
    for (const char* ext : {".bin", ".pt", ".pth"})
        if (ends_with(path, ext)) return open_torch_checkpoint(path);
    return SafetensorsFile::open(path);
}
}  // namespace

void SafetensorsArchive::merge(std::unique_ptr<SafetensorsArchive> other,
                               const std::string& keep_prefix, const std::string& add_prefix) {
    for (const auto& [name, view] : other->by_name_) {
        if (name.compare(0, keep_prefix.size(), keep_prefix) != 0) continue;
        const auto [it, inserted] = by_name_.emplace(add_prefix + name, view);
        if (!inserted)
            fail(view->file, "tensor '" + it->first + "' is also in " + it->second->file);
    }
    for (auto& f : other->files_) files_.push_back(std::move(f));
}

size_t SafetensorsArchive::overlay(std::unique_ptr<SafetensorsArchive> other) {
    size_t replaced = 0;
    for (const auto& [name, view] : other->by_name_) {
        auto [it, inserted] = by_name_.emplace(name, view);
        if (!inserted) {
            it->second = view;
            ++replaced;
        }
    }
    for (auto& f : other->files_) files_.push_back(std::move(f));
    return replaced;
}

bool SafetensorsFile::release(const uint8_t* data, size_t n) const {
    const auto* base = static_cast<const uint8_t*>(map_);
    if (!map_ || data < base || n > map_size_ || data - base > ptrdiff_t(map_size_ - n))
        return false;
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const uintptr_t first = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
    const uintptr_t last = (reinterpret_cast<uintptr_t>(data) + n) / page * page;
    if (last > first)  // read-only private mapping: dropped pages are re-read from the file
        ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    return true;
}

void SafetensorsArchive::release(const TensorView& view) const {
    for (const auto& f : files_)
        if (f->release(view.data, view.nbytes)) return;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(map_, map_size_);
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::unique_ptr<SafetensorsArchive> SafetensorsArchive::open(const std::string& dir_or_file) {
    std::unique_ptr<SafetensorsArchive> a(new SafetensorsArchive());
    auto add = [&a](std::unique_ptr<SafetensorsFile> file) {
        for (const TensorView& t : file->tensors()) {
            const auto [it, inserted] = a->by_name_.emplace(t.name, &t);
            if (!inserted) fail(t.file, "tensor '" + t.name + "' is also in " + it->second->file);
        }
        a->files_.push_back(std::move(file));
    };
    auto open_index = [&](const fs::path& folder, const std::string& index_path) {
        const std::map<std::string, std::string> weight_map = read_weight_map(index_path);
        std::map<std::string, const SafetensorsFile*> shards;  // sorted: stable open order
        for (const auto& [tensor, shard] : weight_map) shards.emplace(shard, nullptr);
        for (auto& [shard, opened] : shards) {
            const fs::path p = folder / shard;
            if (!is_file(p)) {
                const std::string& name = shard;  // a structured binding is not captured before C++20
                const auto user = std::find_if(weight_map.begin(), weight_map.end(),
                                               [&](const auto& kv) { return kv.second == name; });
                fail(index_path, "shard '" + shard + "' (holding tensor '" + user->first +
                                     "') is missing: " + p.string());
            }
            auto file = open_weights_file(p.string());
            opened = file.get();
            add(std::move(file));
        }
        for (const auto& [tensor, shard] : weight_map)
            if (!shards.at(shard)->find(tensor))
                fail(index_path, "tensor '" + tensor + "' is listed in shard '" + shard +
                                     "' but that file does not hold it");
    };

    const fs::path root(dir_or_file);
    std::error_code ec;
    const fs::file_status st = fs::status(root, ec);
    if (ec || !fs::exists(st)) fail(dir_or_file, "no such file or folder");

    if (fs::is_regular_file(st)) {
        if (ends_with(dir_or_file, ".index.json"))
            open_index(root.parent_path(), dir_or_file);
        else
            add(open_weights_file(dir_or_file));
        return a;
    }
    if (!fs::is_directory(st)) fail(dir_or_file, "not a file or folder");

    if (is_file(root / kIndexName)) {
        open_index(root, (root / kIndexName).string());
    } else if (is_file(root / "model.safetensors")) {
        add(SafetensorsFile::open((root / "model.safetensors").string()));
    } else if (is_file(root / kTorchIndexName)) {  // the original LLaVA layout
        open_index(root, (root / kTorchIndexName).string());
    } else if (is_file(root / "pytorch_model.bin")) {
        add(open_torch_checkpoint((root / "pytorch_model.bin").string()));
    } else {
        std::vector<std::string> found;
        for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
            if (ends_with(it->path().filename().string(), ".safetensors") && is_file(it->path()))
                found.push_back(it->path().string());
        if (ec) fail(dir_or_file, "cannot list folder: " + ec.message());
        if (found.empty())
            fail(dir_or_file, std::string("no ") + kIndexName + ", model.safetensors, " +
                                  kTorchIndexName +
                                  ", pytorch_model.bin or other *.safetensors file");
        std::sort(found.begin(), found.end());
        for (const std::string& p : found) add(SafetensorsFile::open(p));
    }
    return a;
}

const TensorView* SafetensorsArchive::find(const std::string& name) const {
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsArchive::names() const {
    std::vector<std::string> out;
    out.reserve(by_name_.size());
    for (const auto& kv : by_name_) out.push_back(kv.first);
    return out;
}

uint64_t SafetensorsArchive::total_bytes() const {
    uint64_t sum = 0;
    for (const auto& kv : by_name_) sum += kv.second->nbytes;
    return sum;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    // ordered_json keeps the caller's tensor order in the header.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        nlohmann::ordered_json m = nlohmann::ordered_json::object();
        for (const auto& [k, v] : metadata) m[k] = v;
        header["__metadata__"] = std::move(m);
    }
    std::set<std::string> names;
    uint64_t offset = 0;
    for (const TensorToWrite& t : tensors) {
        if (t.name.empty() || t.name == "__metadata__")
            fail(path, "invalid tensor name '" + t.name + "'");
        if (!names.insert(t.name).second) fail_tensor(path, t.name, "name used twice");
        uint64_t need = 0;
        std::string why;
        if (!tensor_bytes(t.shape, t.dtype, &need, &why)) fail_tensor(path, t.name, why);
        if (t.nbytes != need)
            fail_tensor(path, t.name,
                        "nbytes " + std::to_string(t.nbytes) + " but shape " + shape_text(t.shape) +
                            " " + dtype_name(t.dtype) + " needs " + std::to_string(need));
        if (need > 0 && !t.data) fail_tensor(path, t.name, "data is null");
        header[t.name] = {{"dtype", dtype_name(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + need}}};
        offset += need;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception& e) {  // e.g. a name that is not UTF-8
        fail(path, "cannot write header: " + json_error_text(e));
    }
    // Pad with spaces (valid JSON whitespace) so the data block starts 8-byte aligned.
    text.append((8 - text.size() % 8) % 8, ' ');
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t(text.size()) >> (8 * i));

    // Write a temporary file and rename it, so readers never see a half-written file.
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(tmp, "cannot create: " + errno_text());
    try {
        write_all(fd, len, sizeof len, tmp);
        write_all(fd, text.data(), text.size(), tmp);
        for (const TensorToWrite& t : tensors) write_all(fd, t.data, t.nbytes, tmp);
        if (::fsync(fd) != 0) fail(tmp, "fsync failed: " + errno_text());
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (::close(fd) != 0) {
        const std::string why = errno_text();
        ::unlink(tmp.c_str());
        fail(tmp, "close failed: " + why);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = errno_text();
        ::unlink(tmp.c_str());
        fail(path, "cannot rename " + tmp + ": " + why);
    }
}

}  // namespace rc
