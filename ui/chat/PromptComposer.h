// Turns what the user typed into a question with numbered region references (the backend
// writes the regions for its model). Also names the phrase a grounding box answers.
#pragma once

#include <QImage>
#include <QList>
#include <QString>

#include "document/Region.h"

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

/// The question with every region reference written `<region N>`: `<region N>` as typed
/// (spaces and case forgiven), a plain `<region>` as the selected region, else the regions in
/// creation order, one per placeholder. The ids referred to, in order of first use, go to
/// *ids (when given). On an unknown id, more placeholders than regions, no image, or an empty
/// question: returns "" and sets *error (when given) to a message for the user; on success
/// *error is cleared. How a region reaches the model (its format, or drawn as a visual
/// prompt) is the backend's business (rc::ChatBackend), not the window's.
QString resolveRegionReferences(const QString& question, const ImageDocument& doc,
                                QString* error, QList<int>* ids = nullptr);

/// The document's regions with the given ids, in that order (unknown ids skipped).
QList<Region> regionsWithIds(const ImageDocument& doc, const QList<int>& ids);

/// The image with regions `ids` drawn the MMVM way (rc::draw_visual_prompts): what a model
/// sees with visual prompts on.
QImage drawVisualPrompts(const ImageDocument& doc, const QList<int>& ids);

/// The label of a grounding box in `answer` (rc::grounding_label).
QString groundingLabel(const QString& question, const QString& answer);

}  // namespace rcui
