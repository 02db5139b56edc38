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

    /// Token ids of `text`, optionally after BOS, as transformers' slow LLaMA tokenizer makes
    /// them: "<s>", "</s>", "<unk>", the added tokens and `extra` (text -> id, e.g. an image
    /// marker -> a placeholder) are split out of the text and the text between them is
    /// encoded piece by piece. The first piece gets SentencePiece's leading "▁"; a piece
    /// after a split token gets it too in legacy mode (transformers' default) and not
    /// otherwise (legacy false, what most LLaMA-2 tokenizer_config.json files say).
    std::vector<int> encode(const std::string& text, bool add_bos = false,
                            const std::vector<std::pair<std::string, int>>& extra = {}) const;
    /// Text of ids; BOS/EOS and out-of-range ids are skipped.
    std::string decode(const std::vector<int>& ids) const;
    int bos_id() const { return bos_; }
    int eos_id() const { return eos_; }
    /// The id generation stops at, when the family's is another token than the model's "</s>"
    /// (Phi-3 chat: "<|end|>", an added token). "</s>" in text stays the model's own.
    void set_eos_id(int id) { eos_ = id; }
    int vocab_size() const;

    /// Tokens added on top of the SentencePiece model (Pink's <im_patch>, <loc>, ...): encode
    /// splits the text at them and encodes the text between them piece by piece, as
    /// transformers' slow LLaMA tokenizer does; decode writes their text, unless `special`
    /// (decode skips them, as batch_decode(skip_special_tokens=True): InternVL's <|user|>,
    /// <IMG_CONTEXT>, ...).
    void add_tokens(const std::vector<std::pair<std::string, int>>& tokens, bool special = false);
    const std::vector<std::pair<std::string, int>>& added_tokens() const { return added_; }
    /// tokenizer_config.json's "legacy" (true when it says nothing, as transformers). Throws
    /// rc::Error when the model cannot be reloaded without its leading "▁".
    void set_legacy(bool legacy);
    bool legacy() const { return legacy_; }
    /// T5TokenizerFast's Metaspace pre-tokenizer: text that ends in a space ends with the lone
    /// "\u2581" piece (SentencePiece itself drops trailing space). Off by default; the T5
    /// families turn it on (LAVIS tokenises with T5TokenizerFast).
    void set_trailing_space_piece(bool on) { trailing_space_ = on; }

    /// Trains a small BPE/unigram model on `sentences` into `model_path` (tests, training).
    /// Ids: unk 0, bos 1, eos 2, no pad, as LLaMA.
    static void train(const std::vector<std::string>& sentences, const std::string& model_path,
                      int vocab_size, const std::vector<std::string>& user_symbols = {});

private:
    Tokenizer() = default;
    void* handle_ = nullptr;  // a SentencePieceProcessor inside the plugin (spm_plugin.h)
    void* plain_ = nullptr;   // the same model without add_dummy_prefix (legacy false)
    std::string path_;
    std::vector<int> encode_pieces(const std::string& text) const;
    std::vector<int> encode_without_prefix(const std::string& text) const;
    std::vector<std::pair<std::string, int>> added_;  // longest text first
    std::vector<int> silent_;                          // special added tokens: not decoded
    bool legacy_ = true;
    bool trailing_space_ = false;
    int space_id_ = -1;  // the "\u2581" piece, -1 when the model has none
    int unk_ = 0;
    int size_ = 0;
    int bos_ = 1;
    int eos_ = 2;
    int sp_eos_ = 2;  // "</s>"
};

}  // namespace rc
