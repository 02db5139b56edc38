// LLaVA's conversation templates (llava/conversation.py: conv_vicuna_v1 with SeparatorStyle.TWO
// and conv_llava_llama_2 with SeparatorStyle.LLAMA_2), rendered as prompt pieces so the engine
// can put the tokenizer's BOS/EOS ids where LLaVA's prompt string has "<s>"/"</s>" and knows
// which tokens belong to answers.
#include "regionchat/chat_template.h"

#include <utility>

namespace rc {

namespace {

constexpr const char* kVicunaSystem =
    "A chat between a curious user and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the user's questions.";

constexpr const char* kLlama2System =
    "You are a helpful language and vision assistant. You are able to understand the visual "
    "content that the user provides, and assist the user with a variety of tasks using natural "
    "language.";

// Accumulates prompt text and flushes it into a Text piece before each Bos/Eos or answer.
class PieceBuilder {
public:
    void text(const std::string& s) { pending_ += s; }
    void answer(const std::string& s) {
        flush();
        pieces_.push_back({PromptPiece::Kind::Text, s, true});
    }
    void bos() {
        flush();
        pieces_.push_back({PromptPiece::Kind::Bos, {}, false});
    }
    void eos(bool is_answer) {
        flush();
        pieces_.push_back({PromptPiece::Kind::Eos, {}, is_answer});
    }
    std::vector<PromptPiece> finish() {
        flush();
        return std::move(pieces_);
    }

private:
    void flush() {
        if (pending_.empty()) return;
        pieces_.push_back({PromptPiece::Kind::Text, std::move(pending_), false});
        pending_.clear();
    }
    std::vector<PromptPiece> pieces_;
    std::string pending_;
};

// vicuna_v1 (SeparatorStyle.TWO, sep " ", sep2 "</s>"). LLaVA's prompt string is
//   system + " " + for each message: ROLE + ": " + message + (user ? " " : "</s>")
//   and, when the answer is to be generated, a final "ASSISTANT:".
// Split chosen here: the space after "ASSISTANT:" starts the answer piece, so
//   Text("SYS USER: Q ASSISTANT:"), Text(" A1", answer), Eos(answer), Text("USER: Q2 ...")
// and the answer piece tokenizes to exactly the answer's tokens ("▁A1" through SentencePiece's
// dummy prefix). Concatenated with "<s>"/"</s>" this is LLaVA's string byte for byte.
// An empty last assistant message stands for LLaVA's None: "ASSISTANT:" and nothing after it.
class VicunaV1Template : public ChatTemplate {
public:
    explicit VicunaV1Template(std::string system) : system_(std::move(system)) {}
    std::string name() const override { return "vicuna_v1"; }

    std::vector<PromptPiece> render(const std::vector<ChatMessage>& messages) const override {
        PieceBuilder b;
        b.bos();
        b.text(system_ + " ");
        bool last_is_user = false;
        for (const ChatMessage& m : messages) {
            if (m.role == ChatMessage::Role::User) {
                b.text("USER: " + m.text + " ");
                last_is_user = true;
                continue;
            }
            b.text("ASSISTANT:");
            // The last message empty: the model answers next. An empty answer earlier (the
            // model ended at once) is its Eos alone, so the turns after it are kept.
            if (m.text.empty() && &m == &messages.back()) return b.finish();
            if (!m.text.empty()) b.answer(" " + m.text);
            b.eos(true);
            last_is_user = false;
        }
        if (last_is_user) b.text("ASSISTANT:");
        return b.finish();
    }

private:
    std::string system_;
};

// llama_2 (SeparatorStyle.LLAMA_2, sep "<s>", sep2 "</s>"). LLaVA's prompt string is
//   "<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{q1} [/INST] {a1} </s><s>[INST] {q2} [/INST]"
// (the leading "<s>" is stripped by LLaVA and added back by the tokenizer as BOS).
// Split chosen here: each answer piece is " {a} " with both spaces, then Eos; each user turn is
// Bos + Text("[INST] ... [/INST]"). An empty assistant message renders nothing (LLaVA's None).
// A variant (make_llama2_variant) may rewrite the system text and the first user message.
class Llama2Template : public ChatTemplate {
public:
    Llama2Template(std::string name, std::string system, SystemRewrite rewrite,
                   bool image_chunks = true)
        : name_(std::move(name)),
          system_(std::move(system)),
          rewrite_(std::move(rewrite)),
          image_chunks_(image_chunks) {}
    std::string name() const override { return name_; }
    bool image_chunks() const override { return image_chunks_; }

    std::vector<PromptPiece> render(const std::vector<ChatMessage>& messages) const override {
        PieceBuilder b;
        bool first_user = true;
        bool started = false;
        for (const ChatMessage& m : messages) {
            if (m.role == ChatMessage::Role::User) {
                std::string msg = m.text;
                std::string system = system_;
                if (first_user && rewrite_) rewrite_(system, msg);
                if (first_user && !system.empty())
                    msg = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + msg;
                first_user = false;
                b.bos();
                started = true;
                b.text("[INST] " + msg + " [/INST]");
            } else {
                if (m.text.empty() && &m == &messages.back()) break;
                if (!started) {
                    b.bos();
                    started = true;
                }
                if (!m.text.empty()) b.answer(" " + m.text + " ");
                b.eos(true);
            }
        }
        if (!started) b.bos();
        return b.finish();
    }

private:
    std::string name_;
    std::string system_;
    SystemRewrite rewrite_;
    bool image_chunks_;
};

}  // namespace

std::unique_ptr<ChatTemplate> make_builtin_chat_template(const std::string& name,
                                                         const std::string& system) {
    if (name == "vicuna_v1")
        return std::make_unique<VicunaV1Template>(system.empty() ? kVicunaSystem : system);
    if (name == "llama_2")
        return std::make_unique<Llama2Template>(name, system.empty() ? kLlama2System : system,
                                                nullptr);
    return nullptr;
}

std::vector<std::string> builtin_chat_templates() {
    return {"vicuna_v1", "llama_2"};
}

std::unique_ptr<ChatTemplate> make_llama2_variant(const std::string& name, std::string system,
                                                  SystemRewrite rewrite, bool image_chunks) {
    return std::make_unique<Llama2Template>(name, std::move(system), std::move(rewrite),
                                            image_chunks);
}

std::string pieces_to_string(const std::vector<PromptPiece>& pieces) {
    std::string out;
    for (const PromptPiece& p : pieces) {
        switch (p.kind) {
            case PromptPiece::Kind::Bos:
                out += "<s>";
                break;
            case PromptPiece::Kind::Eos:
                out += "</s>";
                break;
            case PromptPiece::Kind::Text:
                out += p.text;
                break;
        }
    }
    return out;
}

}  // namespace rc
