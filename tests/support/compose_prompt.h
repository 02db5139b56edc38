// ui tests: a question as the model reads it, composed by the two halves the app runs.
#pragma once

#include <QList>
#include <QString>

#include "chat/PromptComposer.h"
#include "document/ImageDocument.h"
#include "inference/ImageConversion.h"
#include "regionchat/backend.h"

namespace rcui::testing {

// What the model reads: the window resolves the references (resolveRegionReferences), the
// backend writes them (rc::encode_region_references): the two halves the app runs.
inline QString composePrompt(const QString& question, const ImageDocument& doc,
                      const rc::RegionFormat& format, QString* error,
                      QList<int>* visualIds = nullptr) {
    QList<int> ids;
    const QString resolved = resolveRegionReferences(question, doc, error, &ids);
    if (resolved.isEmpty()) return resolved;
    if (visualIds) *visualIds = ids;
    return QString::fromStdString(rc::encode_region_references(
        resolved.toStdString(), toRegionInputs(regionsWithIds(doc, ids)),
        rc::ImageSize{doc.image().width(), doc.image().height()}, format,
        visualIds ? rc::RegionMode::VisualPrompt : rc::RegionMode::Text));
}

}  // namespace rcui::testing
