// One message of the conversation as the window shows and saves it.
#pragma once

#include <QList>
#include <QRectF>
#include <QString>

namespace rcui {

/// A box the model named in an answer, drawn as a labelled overlay.
struct GroundingBox {
    QRectF box;     ///< image pixels
    QString label;  ///< the phrase it answers (the question's subject or the answer text)
    bool operator==(const GroundingBox& o) const { return box == o.box && label == o.label; }
};

/// What the DualFocus pipeline produced for one question (core/engine dual_focus).
struct FocusInfo {
    bool valid = false;
    QString macroAnswer, microAnswer;
    double macroNll = 0, microNll = 0;
    bool microWon = false;
    bool scored = false;  ///< both answers were scored (perplexity decided)
    QString pipeline;     ///< "TextVQA open-ended", "GQA multiple-choice", ... (whose wording)
    QString decidedBy;    ///< why the answer was chosen ("perplexity", "no box", ...)
    QRectF box;       ///< the box pass's box (image pixels); empty when none was found
    QRectF cropRect;  ///< the square crop actually cut (image pixels)
    bool operator==(const FocusInfo& o) const {
        return valid == o.valid && macroAnswer == o.macroAnswer && microAnswer == o.microAnswer &&
               microWon == o.microWon && scored == o.scored && pipeline == o.pipeline &&
               decidedBy == o.decidedBy && box == o.box && cropRect == o.cropRect;
    }
};

struct ChatEntry {
    enum class Role { User, Assistant };
    Role role = Role::User;
    QString text;               ///< what the user typed (with <region> references) or the answer
    QString prompt;             ///< user: the text sent to the model (regions encoded)
    QList<GroundingBox> boxes;  ///< assistant: boxes parsed from the answer
    QString error;              ///< assistant: why it failed, if it did
    bool streaming = false;     ///< assistant: tokens still arriving
    bool stopped = false;       ///< assistant: the user pressed Stop
    FocusInfo focus;            ///< assistant: dual-focus details, when that mode answered
    double tokensPerSecond = 0;

    bool operator==(const ChatEntry& o) const {
        return role == o.role && text == o.text && prompt == o.prompt && boxes == o.boxes &&
               error == o.error && stopped == o.stopped && focus == o.focus;
    }
};

}  // namespace rcui
