// BERT's WordPiece tokenizer, uncased (transformers' BertTokenizer: BasicTokenizer with
// do_lower_case, then greedy longest-match WordPiece with "##" continuations), for RegionVLM's
// Q-Former text (its region point strings and questions). No Debian C++ package does
// WordPiece, so it is ours; tested against transformers' own ids (tests/reference/wordpiece).
// Unicode: lower-casing and accent stripping (NFD, combining marks dropped) cover Latin-1 and
// Latin Extended-A (U+00C0-U+017F), Greek and Cyrillic capitals; other letters pass unchanged.
// Punctuation is ASCII's plus the Unicode punctuation blocks (General Punctuation, Latin-1's,
// CJK's); CJK ideographs are split one per token, as BERT does.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace rc {

class WordPiece {
public:
    /// vocab.txt: one token per line, its id the line number. Throws rc::Error naming the file
    /// when it is missing, over 16 MiB, empty or without [UNK].
    static WordPiece load(const std::string& vocab_path);
    /// From tokens in id order (tests).
    explicit WordPiece(std::vector<std::string> tokens);

    /// Ids of `text` without [CLS]/[SEP] (add_special_tokens=False). BERT's special tokens
    /// ([UNK] [SEP] [PAD] [CLS] [MASK]) and tokens added with add_token ([DEC]) are split out of
    /// the text first and kept whole.
    std::vector<int> encode(const std::string& text) const;
    /// The pieces before they become ids (for messages and tests).
    std::vector<std::string> tokenize(const std::string& text) const;
    /// Adds a token after the vocabulary (LAVIS adds "[DEC]" as BOS); returns its id.
    int add_token(const std::string& token);
    int id(const std::string& token) const;  ///< -1 when absent
    int size() const { return int(tokens_.size()); }

private:
    std::vector<std::string> basic(const std::string& text) const;
    void wordpiece(const std::string& word, std::vector<std::string>* out) const;

    std::vector<std::string> tokens_;
    std::unordered_map<std::string, int> ids_;
    std::vector<std::string> added_;
    int unk_ = -1;
};

}  // namespace rc
