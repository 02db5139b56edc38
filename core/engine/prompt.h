// A conversation rendered to model positions: the one path from chat messages to token ids and
// image slots, shared by inference (Session) and training.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "regionchat/chat_template.h"
#include "regionchat/tokenizer.h"

namespace rc {

/// Where an image goes in a message's text.
inline const std::string kImageMarker = "<image>";

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

/// Renders `messages` with the template and tokenizes it as LLaVA's tokenizer_image_token does:
/// text between "<image>" markers is tokenized chunk by chunk, the k-th marker becomes
/// `image_tokens[k]` positions (each image's own count: the network decides it). Throws
/// rc::Error when there are more markers than images.
PromptSequence build_prompt_sequence(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                     const std::vector<ChatMessage>& messages,
                                     const std::vector<int64_t>& image_tokens);
/// The same with `image_count` images of `image_tokens` positions each.
PromptSequence build_prompt_sequence(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                     const std::vector<ChatMessage>& messages, int64_t image_tokens,
                                     size_t image_count);

}  // namespace rc
