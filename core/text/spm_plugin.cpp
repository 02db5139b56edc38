// libregionchat_spm.so: SentencePiece behind the plain-C++ table of spm_plugin.h.
#include "text/spm_plugin.h"

#include <cstdint>
#include <fstream>
#include <sstream>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

namespace {

using sentencepiece::SentencePieceProcessor;

SentencePieceProcessor* sp(void* h) {
    return static_cast<SentencePieceProcessor*>(h);
}

// Feeds training sentences from memory so training needs no temporary file.
class VectorSentenceIterator : public sentencepiece::SentenceIterator {
public:
    explicit VectorSentenceIterator(const std::vector<std::string>& sentences)
        : sentences_(sentences) {}
    bool done() const override { return index_ >= sentences_.size(); }
    void Next() override { ++index_; }
    const std::string& value() const override { return sentences_[index_]; }
    sentencepiece::util::Status status() const override { return {}; }

private:
    const std::vector<std::string>& sentences_;
    size_t index_ = 0;
};

// SentencePiece's darts-clone throws (e.g. on a piece it cannot put in its trie); nothing may
// leave the plugin as an exception, so every call into SentencePiece goes through this.
template <class F>
sentencepiece::util::Status guarded(F&& call) {
    try {
        return call();
    } catch (const std::exception& e) {
        return sentencepiece::util::Status(sentencepiece::util::StatusCode::kInternal, e.what());
    } catch (...) {
        return sentencepiece::util::Status(sentencepiece::util::StatusCode::kInternal,
                                           "SentencePiece failed");
    }
}

void* load(const std::string& path, std::string* error) {
    auto* p = new SentencePieceProcessor();
    const auto status = guarded([&] { return p->Load(path); });
    if (!status.ok()) {
        *error = status.ToString();
        delete p;
        return nullptr;
    }
    return p;
}

// Protocol-buffer wire format, enough to rewrite one field of ModelProto.normalizer_spec
// (field 3) without the generated classes: NormalizerSpec.add_dummy_prefix is field 3, a
// varint.
bool read_varint(const std::string& b, size_t* at, uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && *at < b.size(); shift += 7) {
        const auto byte = static_cast<unsigned char>(b[(*at)++]);
        *v |= uint64_t(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return true;
    }
    return false;
}

void write_varint(uint64_t v, std::string* out) {
    do {
        unsigned char byte = v & 0x7f;
        v >>= 7;
        if (v) byte |= 0x80;
        out->push_back(char(byte));
    } while (v);
}

// The message `b` without field `field`; false when it does not parse.
bool drop_field(const std::string& b, uint64_t field, std::string* out) {
    out->clear();
    for (size_t at = 0; at < b.size();) {
        const size_t start = at;
        uint64_t tag = 0, v = 0;
        if (!read_varint(b, &at, &tag)) return false;
        switch (tag & 7) {
            case 0: if (!read_varint(b, &at, &v)) return false; break;
            case 1: at += 8; break;
            case 5: at += 4; break;
            case 2:
                if (!read_varint(b, &at, &v) || v > b.size() - at) return false;
                at += size_t(v);
                break;
            default: return false;
        }
        if (at > b.size()) return false;
        if ((tag >> 3) != field) out->append(b, start, at - start);
    }
    return true;
}

void* load_without_prefix(const std::string& path, std::string* error) {
    std::string bytes;
    {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream all;
        all << in.rdbuf();
        if (!in) {
            *error = "cannot read " + path;
            return nullptr;
        }
        bytes = all.str();
    }
    // Every field but normalizer_spec, then normalizer_spec with add_dummy_prefix = false.
    std::string rest, spec;
    for (size_t at = 0; at < bytes.size();) {
        const size_t start = at;
        uint64_t tag = 0, v = 0;
        bool ok = read_varint(bytes, &at, &tag);
        if (ok && (tag & 7) == 2) {
            ok = read_varint(bytes, &at, &v) && v <= bytes.size() - at;
            if (ok && (tag >> 3) == 3) {
                if (!drop_field(bytes.substr(at, size_t(v)), 3, &spec)) ok = false;
                at += size_t(v);
                if (ok) continue;
            } else if (ok) {
                at += size_t(v);
            }
        } else if (ok && (tag & 7) == 0) {
            ok = read_varint(bytes, &at, &v);
        } else if (ok && ((tag & 7) == 1 || (tag & 7) == 5)) {
            at += (tag & 7) == 1 ? 8 : 4;
            ok = at <= bytes.size();
        } else {
            ok = false;
        }
        if (!ok) {
            *error = path + " is not a SentencePiece model";
            return nullptr;
        }
        rest.append(bytes, start, at - start);
    }
    spec.push_back(char(3 << 3));  // add_dummy_prefix: false
    spec.push_back(0);
    rest.push_back(char((3 << 3) | 2));
    write_varint(spec.size(), &rest);
    rest += spec;
    auto* p = new SentencePieceProcessor();
    const auto status = guarded([&] { return p->LoadFromSerializedProto(rest); });
    if (!status.ok()) {
        *error = status.ToString();
        delete p;
        return nullptr;
    }
    return p;
}

void destroy(void* h) {
    delete sp(h);
}

bool encode(void* h, const std::string& text, std::vector<int>* ids, std::string* error) {
    const auto status = guarded([&] { return sp(h)->Encode(text, ids); });
    if (!status.ok()) *error = status.ToString();
    return status.ok();
}

bool decode(void* h, const std::vector<int>& ids, std::string* text) {
    return guarded([&] { return sp(h)->Decode(ids, text); }).ok();
}

int piece_size(void* h) {
    return sp(h)->GetPieceSize();
}
int bos_id(void* h) {
    return sp(h)->bos_id();
}
int eos_id(void* h) {
    return sp(h)->eos_id();
}
int piece_to_id(void* h, const std::string& piece) {
    return sp(h)->PieceToId(piece);
}

bool train(const std::unordered_map<std::string, std::string>& args,
           const std::vector<std::string>& sentences, std::string* serialized, std::string* error) {
    sentencepiece::SetRandomGeneratorSeed(42);
    VectorSentenceIterator it(sentences);
    serialized->clear();
    const auto status =
        guarded([&] { return sentencepiece::SentencePieceTrainer::Train(args, &it, serialized); });
    if (!status.ok()) *error = status.ToString();
    return status.ok();
}

const rc::spm::Api kApi = {rc::spm::kApiVersion, load,   destroy, encode,
                           decode,               piece_size, bos_id, eos_id,
                           piece_to_id,          load_without_prefix, train};

}  // namespace

extern "C" __attribute__((visibility("default"))) const rc::spm::Api* regionchat_spm_api() {
    return &kApi;
}
