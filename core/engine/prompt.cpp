#include "engine/prompt.h"

#include <string>

#include "regionchat/error.h"

namespace rc {

PromptSequence build_prompt_sequence(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                     const std::vector<ChatMessage>& messages,
                                     const std::vector<int64_t>& image_tokens) {
    const size_t image_count = image_tokens.size();
    PromptSequence seq;
    size_t next_image = 0;
    auto push = [&](int64_t key, bool answer) {
        seq.keys.push_back(key);
        seq.is_answer.push_back(answer);
    };
    for (const auto& piece : chat_template.render(messages)) {
        if (piece.kind == PromptPiece::Kind::Bos) {
            push(tokenizer.bos_id(), piece.is_answer);
            continue;
        }
        if (piece.kind == PromptPiece::Kind::Eos) {
            push(tokenizer.eos_id(), piece.is_answer);
            continue;
        }
        size_t from = 0;
        while (true) {
            const size_t at = piece.text.find(kImageMarker, from);
            const std::string chunk =
                piece.text.substr(from, at == std::string::npos ? std::string::npos : at - from);
            if (!chunk.empty())
                for (int id : tokenizer.encode(chunk)) push(id, piece.is_answer);
            if (at == std::string::npos) break;
            if (next_image >= image_count)
                throw Error("the conversation has more <image> markers than images");
            const int64_t n = image_tokens[next_image];
            seq.images.push_back(
                {static_cast<int64_t>(seq.keys.size()), static_cast<int>(next_image), n});
            for (int64_t i = 0; i < n; ++i)
                push(-static_cast<int64_t>(next_image) - 1, false);
            ++next_image;
            from = at + kImageMarker.size();
        }
    }
    return seq;
}

PromptSequence build_prompt_sequence(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                     const std::vector<ChatMessage>& messages, int64_t image_tokens,
                                     size_t image_count) {
    return build_prompt_sequence(chat_template, tokenizer, messages,
                                 std::vector<int64_t>(image_count, image_tokens));
}

}  // namespace rc
