// SentencePiece tokenizer with LLaMA's BOS/EOS handling. SentencePiece itself runs in a
// plugin library (see core/text/spm_plugin.h); Tokenizer is not copyable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rc {

class Tokenizer {
public:
    /// Loads `tokenizer.model`. Throws rc::Error naming the file when it is missing or bad.
    static std::unique_ptr<Tokenizer> load(const std::string& path);
    ~Tokenizer();

    /// Token ids of `text` (SentencePiece adds the leading-space piece), optionally after BOS.
    std::vector<int> encode(const std::string& text, bool add_bos = false) const;
    /// Text of ids; BOS/EOS and out-of-range ids are skipped.
    std::string decode(const std::vector<int>& ids) const;
    int bos_id() const { return bos_; }
    int eos_id() const { return eos_; }
    int vocab_size() const;

    /// Tokens added on top of the SentencePiece model (Pink's <im_patch>, <loc>, ...): encode
    /// splits the text at them and encodes the text between them piece by piece, as
    /// transformers' slow LLaMA tokenizer does; decode writes their text.
    void add_tokens(const std::vector<std::pair<std::string, int>>& tokens);
    const std::vector<std::pair<std::string, int>>& added_tokens() const { return added_; }

    /// Trains a small BPE/unigram model on `sentences` into `model_path` (tests, training).
    /// Ids: unk 0, bos 1, eos 2, no pad, as LLaMA.
    static void train(const std::vector<std::string>& sentences, const std::string& model_path,
                      int vocab_size, const std::vector<std::string>& user_symbols = {});

private:
    Tokenizer() = default;
    void* handle_ = nullptr;  // a SentencePieceProcessor inside the plugin (spm_plugin.h)
    std::vector<int> encode_pieces(const std::string& text) const;
    std::vector<std::pair<std::string, int>> added_;  // longest text first
    int size_ = 0;
    int bos_ = 1;
    int eos_ = 2;
};

}  // namespace rc
