// The SentencePiece plugin's interface. Debian's libsentencepiece carries its own copy of
// protobuf-lite with exported symbols, and Debian's LibTorch links libprotobuf: in one
// symbol scope they interpose and crash at start-up. So SentencePiece lives in a small
// plugin (libregionchat_spm.so) that tokenizer.cpp dlopens with RTLD_LOCAL | RTLD_DEEPBIND,
// giving each library its own protobuf. Only standard C++ types cross this boundary.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace rc::spm {

constexpr int kApiVersion = 2;

struct Api {
    int version;
    /// Loads a model file; nullptr and *error set on failure.
    void* (*load)(const std::string& path, std::string* error);
    void (*destroy)(void* handle);
    bool (*encode)(void* handle, const std::string& text, std::vector<int>* ids,
                   std::string* error);
    bool (*decode)(void* handle, const std::vector<int>& ids, std::string* text);
    int (*piece_size)(void* handle);
    int (*bos_id)(void* handle);
    int (*eos_id)(void* handle);
    int (*piece_to_id)(void* handle, const std::string& piece);
    /// Loads a model file with its normalizer's add_dummy_prefix turned off (transformers'
    /// legacy=false LLaMA tokenizer does so); nullptr and *error set on failure.
    void* (*load_without_prefix)(const std::string& path, std::string* error);
    /// One SentencePieceTrainer::Train run on in-memory sentences; the model proto bytes go to
    /// *serialized.
    bool (*train)(const std::unordered_map<std::string, std::string>& args,
                  const std::vector<std::string>& sentences, std::string* serialized,
                  std::string* error);
};

}  // namespace rc::spm

extern "C" const rc::spm::Api* regionchat_spm_api();
