// The single source of truth of the window: the image, its regions and the conversation.
// Views listen to its signals; tools change regions only through QUndoCommands pushed on
// its undo stack (see AddRegionCommand and friends, one per file).
#pragma once

#include <QImage>
#include <QList>
#include <QObject>
#include <QString>
#include <QUndoStack>

#include "document/ChatEntry.h"
#include "document/Region.h"

namespace rcui {

class ImageDocument : public QObject {
    Q_OBJECT

public:
    explicit ImageDocument(QObject* parent = nullptr);

    // --- image ---
    /// Replaces the image: clears regions, chat and undo history. `path` may be empty.
    void setImage(const QImage& image, const QString& path);
    const QImage& image() const { return image_; }
    QString imagePath() const { return imagePath_; }
    /// SHA-256 of the file's bytes (set by whoever loaded it), for session files.
    QString imageHash() const { return imageHash_; }
    void setImageHash(const QString& hash) { imageHash_ = hash; }
    bool hasImage() const { return !image_.isNull(); }
    /// Two images side by side as one canvas (File > Open Image Pair…, for models that compare
    /// regions across images: CoLVA): the first at x 0, the second at x `split`, both at the
    /// top and at their own size. split 0: the document is one image. setImage() clears it.
    struct ImagePair {
        QString secondPath, secondHash;
        QSize first, second;
        int split = 0;
    };
    void setPair(const ImagePair& pair) { pair_ = pair; }
    const ImagePair& pair() const { return pair_; }
    bool isPair() const { return pair_.split > 0; }

    // --- regions (mutators are for undo commands; tools push commands instead) ---
    const QList<Region>& regions() const { return regions_; }
    /// The region with this id, or nullptr.
    const Region* region(int id) const;
    /// Index in regions() or -1.
    int indexOf(int id) const;
    /// A fresh id (1 + the largest ever used in this document).
    int nextRegionId();
    void insertRegion(int index, const Region& region);
    void removeRegion(int id);
    void replaceRegion(const Region& region);  ///< same id, new geometry
    QUndoStack* undoStack() { return &undo_; }

    // --- proposals (candidates for the pick tool; not undoable, cleared with the image) ---
    const QList<ProposalMask>& proposals() const { return proposals_; }
    void setProposals(const QList<ProposalMask>& proposals);

    // --- selection (not undoable) ---
    int selectedRegion() const { return selected_; }
    void setSelectedRegion(int id);  ///< 0: none

    // --- conversation ---
    const QList<ChatEntry>& chat() const { return chat_; }
    void appendEntry(const ChatEntry& entry);
    void updateEntry(int index, const ChatEntry& entry);
    void clearChat();
    /// Grounding boxes of every assistant message, in order (what the canvas draws).
    QList<GroundingBox> groundingBoxes() const;
    /// The focused grounding box (hover/click on a chip), -1 for none: index into groundingBoxes().
    int highlightedBox() const { return highlighted_; }
    void setHighlightedBox(int index);

    // --- dual focus view ---
    const FocusInfo& lastFocus() const { return lastFocus_; }
    const QImage& lastFocusCrop() const { return lastFocusCrop_; }
    void setLastFocus(const FocusInfo& info, const QImage& crop);

    bool isModified() const { return modified_; }
    void setModified(bool m);

signals:
    void imageChanged();
    void regionAdded(int id);
    void regionRemoved(int id);
    void regionChanged(int id);
    void selectionChanged(int id);
    void proposalsChanged();
    void entryAdded(int index);
    void entryChanged(int index);
    void chatCleared();
    void highlightChanged(int index);
    void focusChanged();
    void modifiedChanged(bool modified);

private:
    QImage image_;
    QString imagePath_, imageHash_;
    ImagePair pair_;
    QList<Region> regions_;
    QList<ProposalMask> proposals_;
    int maxId_ = 0;
    int selected_ = 0;
    QList<ChatEntry> chat_;
    int highlighted_ = -1;
    FocusInfo lastFocus_;
    QImage lastFocusCrop_;
    QUndoStack undo_;
    bool modified_ = false;
};

}  // namespace rcui
