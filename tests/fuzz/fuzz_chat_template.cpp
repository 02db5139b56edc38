// Hostile conversations: the input split at NUL bytes into alternating user/assistant messages
// (with "<image>" markers, "</s>", template syntax), rendered by every built-in template.
#include <string>
#include <vector>

#include "regionchat/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<rc::ChatMessage> msgs;
    std::string cur;
    for (size_t i = 0; i <= size; ++i) {
        if (i == size || data[i] == 0) {
            rc::ChatMessage m;
            m.role = msgs.size() % 2 ? rc::ChatMessage::Role::Assistant : rc::ChatMessage::Role::User;
            m.text = cur;
            msgs.push_back(m);
            cur.clear();
            if (msgs.size() > 64) break;
        } else {
            cur += char(data[i]);
        }
    }
    for (const std::string& name : rc::builtin_chat_templates()) {
        auto t = rc::make_builtin_chat_template(name, msgs.empty() ? "" : msgs.front().text);
        if (t) (void)rc::pieces_to_string(t->render(msgs));
    }
    return 0;
}
