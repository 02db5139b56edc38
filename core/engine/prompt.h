// A conversation rendered to model positions: the one path from chat messages to token ids and
// image slots, shared by inference (Session) and training.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "regionchat/chat_template.h"
#include "regionchat/tokenizer.h"

namespace rc {

/// Where an image goes in a message's text.
inline const std::string kImageMarker = "<image>";
/// Where one region's row goes (a family that reads region tokens: CoLVA's <VPT_CONTEXT>). In a
/// prompt it takes a slot like an image of one row: image and region markers take the
/// conversation's slots in the order they stand in the text.
inline const std::string kRegionTokenMarker = "<region_token>";

/// The first image or region-token marker at or after `from` (npos when there is none);
/// `*region` says which, `*length` its size.
inline size_t next_slot_marker(const std::string& text, size_t from, bool* region, size_t* length) {
    const size_t img = text.find(kImageMarker, from), reg = text.find(kRegionTokenMarker, from);
    *region = reg < img;
    *length = *region ? kRegionTokenMarker.size() : kImageMarker.size();
    return std::min(img, reg);
}

/// One key per position: text positions hold the token id; the image_tokens positions of image
/// k hold -(k + 1), so comparing keys also compares images.
struct PromptSequence {
    std::vector<int64_t> keys;
    std::vector<uint8_t> is_answer;  ///< position belongs to an assistant message (loss, scoring)
    struct Span {
        int64_t start;
        int image;
        int64_t length;  ///< positions the image takes (the network's count for it)
    };
    std::vector<Span> images;
};

/// Where an image marker stands in tokenize_prompt_text's ids (LLaVA's IMAGE_TOKEN_INDEX).
constexpr int64_t kImagePlaceholder = -200;

/// The ids of one text with "<image>" markers as the family's own code tokenises it:
/// `image_chunks` (LLaVA's tokenizer_image_token) cuts the text at each marker and encodes
/// every chunk on its own; otherwise the text is encoded at once with the marker split out
/// like an added token (Pink). One kImagePlaceholder per marker; BOS first when `bos`.
std::vector<int64_t> tokenize_prompt_text(const Tokenizer& tokenizer, const std::string& text,
                                          bool bos, bool image_chunks);

/// Which assistant messages build_prompt_sequence marks in is_answer. Each costs two more
/// tokenizations of the text up to it, so a long conversation marked whole costs its turns
/// squared: asking marks none, scoring the last.
enum class AnswerMarks { All, Last, None };

/// Renders `messages` with the template into one text and tokenizes it as the model's own code
/// does (tokenize_prompt_text with the template's image_chunks()); the k-th marker becomes
/// `image_tokens[k]` positions (each image's own count: the network decides it). Answer pieces
/// are marked by where their text lies (as `marks` says; the others' positions stay 0). Throws
/// rc::Error when there are more markers than images.
PromptSequence build_prompt_sequence(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                     const std::vector<ChatMessage>& messages,
                                     const std::vector<int64_t>& image_tokens,
                                     AnswerMarks marks = AnswerMarks::All);
/// The same with `image_count` images of `image_tokens` positions each.
PromptSequence build_prompt_sequence(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                     const std::vector<ChatMessage>& messages, int64_t image_tokens,
                                     size_t image_count);

}  // namespace rc
