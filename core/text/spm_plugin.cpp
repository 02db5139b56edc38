// libregionchat_spm.so: SentencePiece behind the plain-C++ table of spm_plugin.h.
#include "text/spm_plugin.h"

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

void* load(const std::string& path, std::string* error) {
    auto* p = new SentencePieceProcessor();
    const auto status = p->Load(path);
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
    const auto status = sp(h)->Encode(text, ids);
    if (!status.ok()) *error = status.ToString();
    return status.ok();
}

bool decode(void* h, const std::vector<int>& ids, std::string* text) {
    return sp(h)->Decode(ids, text).ok();
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
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, serialized);
    if (!status.ok()) *error = status.ToString();
    return status.ok();
}

const rc::spm::Api kApi = {rc::spm::kApiVersion, load,   destroy, encode,      decode,
                           piece_size,           bos_id, eos_id,  piece_to_id, train};

}  // namespace

extern "C" __attribute__((visibility("default"))) const rc::spm::Api* regionchat_spm_api() {
    return &kApi;
}
