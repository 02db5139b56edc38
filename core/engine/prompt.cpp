#include "engine/prompt.h"

#include <algorithm>
#include <string>

#include "regionchat/error.h"

namespace rc {

std::vector<int64_t> tokenize_prompt_text(const Tokenizer& tokenizer, const std::string& text,
                                          bool bos, bool image_chunks) {
    std::vector<int64_t> ids;
    if (!image_chunks) {
        if (bos) ids.push_back(tokenizer.bos_id());
        for (int id : tokenizer.encode(text, false,
                                       {{kImageMarker, int(kImagePlaceholder)},
                                        {kRegionTokenMarker, int(kImagePlaceholder)}}))
            ids.push_back(id);
        return ids;
    }
    // tokenizer_image_token: every chunk is a tokenizer call of its own (its first piece gets
    // the leading "\u2581" in either legacy mode), BOS kept from the first only.
    if (bos) ids.push_back(tokenizer.bos_id());
    for (size_t from = 0;;) {
        bool region = false;
        size_t length = 0;
        const size_t at = next_slot_marker(text, from, &region, &length);
        const std::string chunk =
            text.substr(from, at == std::string::npos ? std::string::npos : at - from);
        for (int id : tokenizer.encode(chunk)) ids.push_back(id);
        if (at == std::string::npos) break;
        ids.push_back(kImagePlaceholder);
        from = at + length;
    }
    return ids;
}

PromptSequence build_prompt_sequence(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                     const std::vector<ChatMessage>& messages,
                                     const std::vector<int64_t>& image_tokens,
                                     AnswerMarks marks) {
    // The conversation as one text, as the model's own code renders and tokenises it (text
    // pieces tokenised apart would differ wherever a "\u2581" or a merge crosses a piece
    // boundary), and where each answer piece lies in it.
    const std::vector<PromptPiece> pieces = chat_template.render(messages);
    std::string text;
    bool bos = false;
    std::vector<std::pair<size_t, size_t>> answers;
    for (size_t i = 0; i < pieces.size(); ++i) {
        const PromptPiece& piece = pieces[i];
        if (i == 0 && piece.kind == PromptPiece::Kind::Bos) {  // the tokenizer's own BOS
            bos = true;
            continue;
        }
        const size_t start = text.size();
        text += piece.kind == PromptPiece::Kind::Bos   ? "<s>"
                : piece.kind == PromptPiece::Kind::Eos ? "</s>"
                                                       : piece.text;
        // An answer's pieces (its text, its Eos) lie end to end: one span, so Last is the
        // whole last message and each message costs two tokenizations, not two a piece.
        if (piece.is_answer && text.size() > start) {
            if (!answers.empty() && answers.back().second == start) answers.back().second = text.size();
            else answers.emplace_back(start, text.size());
        }
    }
    const bool chunks = chat_template.image_chunks();
    const std::vector<int64_t> ids = tokenize_prompt_text(tokenizer, text, bos, chunks);

    // An answer's tokens: those after the longest common prefix of the whole text's tokens and
    // the text's up to the answer, up to that of the text up to the answer's end.
    std::vector<uint8_t> answer(ids.size(), 0);
    auto common = [&](size_t chars) {
        const std::vector<int64_t> p =
            tokenize_prompt_text(tokenizer, text.substr(0, chars), bos, chunks);
        size_t n = 0;
        while (n < p.size() && n < ids.size() && p[n] == ids[n]) ++n;
        return n;
    };
    if (marks == AnswerMarks::None) answers.clear();
    if (marks == AnswerMarks::Last && answers.size() > 1) answers.erase(answers.begin(), answers.end() - 1);
    for (const auto& [a, b] : answers) {
        const size_t first = common(a), end = common(b);
        for (size_t i = first; i < end; ++i) answer[i] = 1;
    }

    const size_t image_count = image_tokens.size();
    PromptSequence seq;
    size_t next_image = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] != kImagePlaceholder) {
            seq.keys.push_back(ids[i]);
            seq.is_answer.push_back(answer[i]);
            continue;
        }
        if (next_image >= image_count)
            throw Error("the conversation has more <image> markers than images");
        const int64_t n = image_tokens[next_image];
        seq.images.push_back(
            {static_cast<int64_t>(seq.keys.size()), static_cast<int>(next_image), n});
        for (int64_t k = 0; k < n; ++k) {
            seq.keys.push_back(-static_cast<int64_t>(next_image) - 1);
            seq.is_answer.push_back(0);
        }
        ++next_image;
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
