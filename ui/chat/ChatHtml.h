// The conversation as rich text for the chat panel's QTextBrowser. Links carry what a click
// means: "box:G" (grounding box G, a global index into ImageDocument::groundingBoxes()),
// "make:G" (turn box G into a region) and "region:N" (region number N).
#pragma once

#include <QColor>
#include <QString>

#include "document/ChatEntry.h"

namespace rcui {

class ImageDocument;

/// The colour of grounding-box chips (the boxes the model answered with).
QColor groundingChipColour();
/// Black or white, whichever reads better on `fill`.
QColor chipTextColour(const QColor& fill);
/// A user's text with each <region N> / <region> shown as a chip in the region's colour.
QString userTextHtml(const QString& text, const ImageDocument& doc);
/// One assistant message; its boxes are numbered from `firstBox` (global index).
QString assistantHtml(const ChatEntry& entry, int firstBox);
/// The whole conversation (or a hint when it is empty).
QString conversationHtml(const ImageDocument& doc);

}  // namespace rcui
