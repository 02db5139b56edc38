// Turns what the user typed into what the model reads: region references become boxes in the
// model's region format. Also names the phrase a grounding box answers, for its label.
#pragma once

#include <QImage>
#include <QList>
#include <QString>

namespace rc {
class RegionFormat;
}

namespace rcui {

class ImageDocument;

/// A region reference found in a question: `<region N>` (id = N) or `<region>` (id = 0).
struct RegionReference {
    int start = 0;   ///< offset of '<' in the question
    int length = 0;  ///< length of the whole reference
    int id = 0;      ///< the region number, 0 for a plain `<region>`
};

/// Every `<region N>` / `<region>` in `text`, in order (spaces inside are allowed).
QList<RegionReference> findRegionReferences(const QString& text);

/// Replaces each `<region N>` by region N's box and each plain `<region>` by the selected
/// region's box (none selected: the regions in creation order, one per placeholder), encoded
/// with `format` for the document's image size. On an unknown id, more placeholders than
/// regions, no image, or an empty question: returns "" and sets *error (when given) to a
/// message for the user; on success *error is cleared.
/// Visual prompts (`visualIds` given): each reference becomes "region N" instead, and the ids
/// referred to are appended to *visualIds, for drawing on the image (drawVisualPrompts).
QString composePrompt(const QString& question, const ImageDocument& doc,
                      const rc::RegionFormat& format, QString* error,
                      QList<int>* visualIds = nullptr);

/// The image with regions `ids` drawn the MMVM way (../shared/docs/FORMATS.md): each one's
/// contour (its mask's, else its box's) in a distinct colour and its number in white on a
/// filled box of that colour. Ids not in the document are skipped.
QImage drawVisualPrompts(const ImageDocument& doc, const QList<int>& ids);

/// The phrase a box in `answer` stands for: the subject of "where is/are X?", "find X",
/// "locate X" in `question`; else the answer with its box text removed; else "box".
QString groundingLabel(const QString& question, const QString& answer);

}  // namespace rcui
