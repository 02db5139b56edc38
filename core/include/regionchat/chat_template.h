// Conversation templates (LLaVA's vicuna_v1 and llama_2, and families' variants) rendered to
// pieces of a prompt.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rc {

struct ChatMessage {
    enum class Role { User, Assistant };
    Role role = Role::User;
    std::string text;  ///< may contain "<image>" markers
};

/// A piece of a rendered prompt. Text is tokenized; Bos/Eos are the tokenizer's ids.
/// "<image>" stays inside text; the engine splits on it.
struct PromptPiece {
    enum class Kind { Text, Bos, Eos };
    Kind kind = Kind::Text;
    std::string text;
    bool is_answer = false;  ///< part of an assistant message (its text and its Eos): the
                             ///< tokens trained on and scored for perplexity
};

class ChatTemplate {
public:
    virtual ~ChatTemplate() = default;
    virtual std::string name() const = 0;
    /// Renders a conversation. When the last message is from the user, the prompt ends ready
    /// for the assistant's answer ("... ASSISTANT:"). Starts with Bos.
    virtual std::vector<PromptPiece> render(const std::vector<ChatMessage>& messages) const = 0;
    /// How "<image>" is tokenised: true, LLaVA's tokenizer_image_token (the text is cut there
    /// and each chunk tokenised on its own); false, as a token inside the text (Pink writes its
    /// image tokens into the prompt, which its tokenizer splits out like added tokens).
    virtual bool image_chunks() const { return true; }
};

/// A template by name: the built-in "vicuna_v1" and "llama_2" and those the model families
/// bring (e.g. "pink"); nullptr for an unknown name. `system` replaces the template's default
/// system message when not empty. Defined with the family registry (regionchat_core).
std::unique_ptr<ChatTemplate> make_chat_template(const std::string& name,
                                                 const std::string& system = {});
/// Only the built-in templates (torch-free code).
std::unique_ptr<ChatTemplate> make_builtin_chat_template(const std::string& name,
                                                         const std::string& system = {});
std::vector<std::string> builtin_chat_templates();

/// llama_2's layout under another name, with a hook that may rewrite the first user message
/// and the system text (a family's own variant, e.g. Pink's "Image: ..." system text).
/// `rewrite(system, first_message)` is called once, for the first user message.
using SystemRewrite = std::function<void(std::string& system, std::string& first_message)>;
std::unique_ptr<ChatTemplate> make_llama2_variant(const std::string& name, std::string system,
                                                  SystemRewrite rewrite, bool image_chunks = true);

/// Concatenates pieces into display text ("<s>", "</s>" for Bos/Eos); for logs and tests.
std::string pieces_to_string(const std::vector<PromptPiece>& pieces);

}  // namespace rc
