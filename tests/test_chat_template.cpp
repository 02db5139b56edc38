// Chat templates: LLaVA's vicuna_v1 and llama_2 prompts, exact strings and piece structure.
#include <QtTest>

#include <string>
#include <vector>

#include "regionchat/chat_template.h"

using rc::ChatMessage;
using rc::PromptPiece;

namespace {

const std::string kVicunaSys =
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives "
    "helpful, detailed, and polite answers to the user's questions.";
const std::string kLlamaSys =
    "You are a helpful language and vision assistant. You are able to understand the visual "
    "content that the user provides, and assist the user with a variety of tasks using natural "
    "language.";

ChatMessage user(const std::string& t) {
    return {ChatMessage::Role::User, t};
}
ChatMessage assistant(const std::string& t) {
    return {ChatMessage::Role::Assistant, t};
}

std::vector<PromptPiece> render(const std::string& name, const std::vector<ChatMessage>& msgs,
                                const std::string& system = {}) {
    auto tmpl = rc::make_chat_template(name, system);
    if (!tmpl) return {};
    return tmpl->render(msgs);
}

// Compact description of the pieces: B, E, T"..." and a '*' for answer pieces.
std::string describe(const std::vector<PromptPiece>& pieces) {
    std::string out;
    for (const PromptPiece& p : pieces) {
        if (!out.empty()) out += " | ";
        switch (p.kind) {
            case PromptPiece::Kind::Bos:
                out += "B";
                break;
            case PromptPiece::Kind::Eos:
                out += "E";
                break;
            case PromptPiece::Kind::Text:
                out += "T\"" + p.text + "\"";
                break;
        }
        if (p.is_answer) out += "*";
    }
    return out;
}

}  // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT

private slots:
    void names();
    void unknownNameIsNull();
    void vicunaOneTurn();
    void vicunaTwoTurns();
    void vicunaThreeTurns();
    void vicunaEndsWithAnswer();
    void emptyAnswerKeepsLaterTurns();
    void vicunaCustomSystem();
    void llamaOneTurn();
    void llamaTwoTurns();
    void llamaThreeTurns();
    void llamaCustomSystem();
    void answerFlagsOnlyOnAssistantParts();
    void piecesToString();
};

void TestChatTemplate::names() {
    QCOMPARE(rc::make_chat_template("vicuna_v1")->name(), std::string("vicuna_v1"));
    QCOMPARE(rc::make_chat_template("llama_2")->name(), std::string("llama_2"));
}

void TestChatTemplate::unknownNameIsNull() {
    QVERIFY(rc::make_chat_template("chatml") == nullptr);
    QVERIFY(rc::make_chat_template("") == nullptr);
    QVERIFY(rc::make_chat_template("Vicuna_v1") == nullptr);
}

void TestChatTemplate::vicunaOneTurn() {
    const auto pieces = render("vicuna_v1", {user("<image>\nWhat is this?")});
    QCOMPARE(rc::pieces_to_string(pieces),
             "<s>" + kVicunaSys + " USER: <image>\nWhat is this? ASSISTANT:");
    QCOMPARE(describe(pieces),
             "B | T\"" + kVicunaSys + " USER: <image>\nWhat is this? ASSISTANT:\"");
}

void TestChatTemplate::vicunaTwoTurns() {
    const auto pieces = render("vicuna_v1", {user("<image>\nQ"), assistant("A1"), user("Q2")});
    QCOMPARE(rc::pieces_to_string(pieces),
             "<s>" + kVicunaSys + " USER: <image>\nQ ASSISTANT: A1</s>USER: Q2 ASSISTANT:");
    QCOMPARE(describe(pieces), "B | T\"" + kVicunaSys +
                                   " USER: <image>\nQ ASSISTANT:\" | T\" A1\"* | E* | "
                                   "T\"USER: Q2 ASSISTANT:\"");
}

void TestChatTemplate::vicunaThreeTurns() {
    const auto pieces = render("vicuna_v1", {user("<image>\nQ1"), assistant("A1"), user("Q2"),
                                             assistant("A2"), user("Q3")});
    QCOMPARE(rc::pieces_to_string(pieces),
             "<s>" + kVicunaSys +
                 " USER: <image>\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT: A2</s>USER: Q3 "
                 "ASSISTANT:");
    QCOMPARE(static_cast<int>(pieces.size()), 8);
    QCOMPARE(pieces[5].text, std::string(" A2"));
    QVERIFY(pieces[5].is_answer);
    QCOMPARE(pieces[7].text, std::string("USER: Q3 ASSISTANT:"));
}

void TestChatTemplate::vicunaEndsWithAnswer() {
    // A finished conversation (training, perplexity scoring) ends with the answer's Eos.
    const auto pieces = render("vicuna_v1", {user("Q"), assistant("yes")});
    QCOMPARE(rc::pieces_to_string(pieces), "<s>" + kVicunaSys + " USER: Q ASSISTANT: yes</s>");
    QCOMPARE(pieces.back().kind, PromptPiece::Kind::Eos);
    QVERIFY(pieces.back().is_answer);
    // An empty assistant message is LLaVA's None: the prompt stops at "ASSISTANT:".
    QCOMPARE(rc::pieces_to_string(render("vicuna_v1", {user("Q"), assistant("")})),
             "<s>" + kVicunaSys + " USER: Q ASSISTANT:");
}

void TestChatTemplate::emptyAnswerKeepsLaterTurns() {
    // A model that ended its answer at once leaves an empty assistant message in the middle of
    // the conversation; the question after it must still be asked (it was dropped before).
    QCOMPARE(rc::pieces_to_string(render("vicuna_v1", {user("Q"), assistant(""), user("Q2")})),
             "<s>" + kVicunaSys + " USER: Q ASSISTANT:</s>USER: Q2 ASSISTANT:");
    QCOMPARE(rc::pieces_to_string(render("llama_2", {user("Q"), assistant(""), user("Q2")}, "S")),
             std::string("<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nQ [/INST]</s><s>[INST] Q2 [/INST]"));
    // The empty Eos is the model's own (an answer piece), as a non-empty answer's is.
    const auto pieces = render("vicuna_v1", {user("Q"), assistant(""), user("Q2")});
    QCOMPARE(describe(pieces), "B | T\"" + kVicunaSys + " USER: Q ASSISTANT:\" | E* | "
                               "T\"USER: Q2 ASSISTANT:\"");
}

void TestChatTemplate::vicunaCustomSystem() {
    QCOMPARE(rc::pieces_to_string(render("vicuna_v1", {user("hi")}, "Be brief.")),
             std::string("<s>Be brief. USER: hi ASSISTANT:"));
    QCOMPARE(rc::pieces_to_string(render("vicuna_v1", {user("hi")}, "")),
             "<s>" + kVicunaSys + " USER: hi ASSISTANT:");
}

void TestChatTemplate::llamaOneTurn() {
    const auto pieces = render("llama_2", {user("<image>\nWhat is this?")});
    const std::string expected =
        "<s>[INST] <<SYS>>\n" + kLlamaSys + "\n<</SYS>>\n\n<image>\nWhat is this? [/INST]";
    QCOMPARE(rc::pieces_to_string(pieces), expected);
    QCOMPARE(describe(pieces), "B | T\"[INST] <<SYS>>\n" + kLlamaSys +
                                   "\n<</SYS>>\n\n<image>\nWhat is this? [/INST]\"");
}

void TestChatTemplate::llamaTwoTurns() {
    const auto pieces = render("llama_2", {user("<image>\nQ"), assistant("A1"), user("Q2")});
    const std::string expected = "<s>[INST] <<SYS>>\n" + kLlamaSys +
                                 "\n<</SYS>>\n\n<image>\nQ [/INST] A1 </s><s>[INST] Q2 [/INST]";
    QCOMPARE(rc::pieces_to_string(pieces), expected);
    QCOMPARE(describe(pieces), "B | T\"[INST] <<SYS>>\n" + kLlamaSys +
                                   "\n<</SYS>>\n\n<image>\nQ [/INST]\" | T\" A1 \"* | E* | B | "
                                   "T\"[INST] Q2 [/INST]\"");
}

void TestChatTemplate::llamaThreeTurns() {
    const auto pieces =
        render("llama_2", {user("Q1"), assistant("A1"), user("Q2"), assistant("A2"), user("Q3")});
    QCOMPARE(rc::pieces_to_string(pieces),
             "<s>[INST] <<SYS>>\n" + kLlamaSys +
                 "\n<</SYS>>\n\nQ1 [/INST] A1 </s><s>[INST] Q2 [/INST] A2 </s><s>[INST] Q3 "
                 "[/INST]");
    // The system block appears once, in the first user turn only.
    const std::string all = rc::pieces_to_string(pieces);
    QCOMPARE(all.find("<<SYS>>"), all.rfind("<<SYS>>"));
    int bos = 0;
    for (const auto& p : pieces) bos += p.kind == PromptPiece::Kind::Bos;
    QCOMPARE(bos, 3);
}

void TestChatTemplate::llamaCustomSystem() {
    QCOMPARE(rc::pieces_to_string(render("llama_2", {user("hi"), assistant("hello")}, "Be brief.")),
             std::string("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nhi [/INST] hello </s>"));
}

void TestChatTemplate::answerFlagsOnlyOnAssistantParts() {
    for (const char* name : {"vicuna_v1", "llama_2"}) {
        const auto pieces =
            render(name, {user("alpha"), assistant("beta"), user("gamma"), assistant("delta")});
        std::string answers;
        int answer_eos = 0;
        for (const auto& p : pieces) {
            if (p.kind == PromptPiece::Kind::Bos) QVERIFY(!p.is_answer);
            if (p.kind == PromptPiece::Kind::Eos) {
                QVERIFY(p.is_answer);
                ++answer_eos;
            }
            if (p.kind == PromptPiece::Kind::Text) {
                if (p.is_answer)
                    answers += p.text + "|";
                else
                    QVERIFY(p.text.find("beta") == std::string::npos &&
                            p.text.find("delta") == std::string::npos);
            }
        }
        QCOMPARE(answer_eos, 2);
        if (std::string(name) == "vicuna_v1")
            QCOMPARE(answers, std::string(" beta| delta|"));
        else
            QCOMPARE(answers, std::string(" beta | delta |"));
        QCOMPARE(pieces.front().kind, PromptPiece::Kind::Bos);
    }
}

void TestChatTemplate::piecesToString() {
    std::vector<PromptPiece> pieces = {{PromptPiece::Kind::Bos, "ignored", false},
                                       {PromptPiece::Kind::Text, "a b", false},
                                       {PromptPiece::Kind::Eos, "", true},
                                       {PromptPiece::Kind::Text, "c", true}};
    QCOMPARE(rc::pieces_to_string(pieces), std::string("<s>a b</s>c"));
    QCOMPARE(rc::pieces_to_string({}), std::string());
}

QTEST_APPLESS_MAIN(TestChatTemplate)
#include "test_chat_template.moc"
