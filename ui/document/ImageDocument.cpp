#include "document/ImageDocument.h"

namespace rcui {

ImageDocument::ImageDocument(QObject* parent) : QObject(parent) {
    connect(&undo_, &QUndoStack::cleanChanged, this, [this](bool clean) {
        if (!clean) setModified(true);
    });
}

void ImageDocument::setImage(const QImage& image, const QString& path) {
    image_ = image;
    imagePath_ = path;
    imageHash_.clear();
    pair_ = ImagePair();
    undo_.clear();
    regions_.clear();
    proposals_.clear();
    maxId_ = 0;
    selected_ = 0;
    chat_.clear();
    highlighted_ = -1;
    lastFocus_ = FocusInfo();
    lastFocusCrop_ = QImage();
    modified_ = false;
    emit imageChanged();
    emit chatCleared();
    emit focusChanged();
    emit proposalsChanged();
}

void ImageDocument::setProposals(const QList<ProposalMask>& proposals) {
    proposals_ = proposals;
    emit proposalsChanged();
}

const Region* ImageDocument::region(int id) const {
    const int i = indexOf(id);
    return i < 0 ? nullptr : &regions_[i];
}

int ImageDocument::indexOf(int id) const {
    for (int i = 0; i < regions_.size(); ++i)
        if (regions_[i].id == id) return i;
    return -1;
}

int ImageDocument::nextRegionId() {
    return ++maxId_;
}

void ImageDocument::insertRegion(int index, const Region& region) {
    maxId_ = std::max(maxId_, region.id);
    regions_.insert(std::clamp(index, 0, int(regions_.size())), region);
    setModified(true);
    emit regionAdded(region.id);
}

void ImageDocument::removeRegion(int id) {
    const int i = indexOf(id);
    if (i < 0) return;
    regions_.removeAt(i);
    if (selected_ == id) setSelectedRegion(0);
    setModified(true);
    emit regionRemoved(id);
}

void ImageDocument::replaceRegion(const Region& region) {
    const int i = indexOf(region.id);
    if (i < 0) return;
    regions_[i] = region;
    setModified(true);
    emit regionChanged(region.id);
}

void ImageDocument::setSelectedRegion(int id) {
    if (id == selected_) return;
    selected_ = id;
    emit selectionChanged(id);
}

void ImageDocument::appendEntry(const ChatEntry& entry) {
    chat_.append(entry);
    setModified(true);
    emit entryAdded(chat_.size() - 1);
}

void ImageDocument::updateEntry(int index, const ChatEntry& entry) {
    if (index < 0 || index >= chat_.size()) return;
    chat_[index] = entry;
    setModified(true);
    emit entryChanged(index);
}

void ImageDocument::clearChat() {
    chat_.clear();
    highlighted_ = -1;
    setModified(true);
    emit chatCleared();
}

QList<GroundingBox> ImageDocument::groundingBoxes() const {
    QList<GroundingBox> all;
    for (const auto& e : chat_)
        if (e.role == ChatEntry::Role::Assistant) all += e.boxes;
    return all;
}

void ImageDocument::setHighlightedBox(int index) {
    if (index == highlighted_) return;
    highlighted_ = index;
    emit highlightChanged(index);
}

void ImageDocument::setLastFocus(const FocusInfo& info, const QImage& crop) {
    lastFocus_ = info;
    lastFocusCrop_ = crop;
    emit focusChanged();
}

void ImageDocument::setModified(bool m) {
    if (m == modified_) return;
    modified_ = m;
    emit modifiedChanged(m);
}

}  // namespace rcui
