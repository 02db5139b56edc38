// The Focus panel: what the DualFocus pipeline did for the last question — the macro view
// with the crop's box, the micro crop, both answers with their perplexities, and the winner.
#pragma once

#include <QWidget>

class QLabel;

namespace rcui {

class ImageDocument;

class FocusPanel : public QWidget {
    Q_OBJECT

public:
    explicit FocusPanel(ImageDocument* doc, QWidget* parent = nullptr);
    void setPresentationMode(bool on);

private:
    void refresh();
    /// The image's thumbnail with the box and crop drawn; null while it is being scaled.
    QPixmap thumbnail(const QImage& image, const QRectF& box, const QRectF& crop);
    /// Scales `image` to the thumbnail size on a pool thread (120 ms for 12 Mpx), then refreshes.
    void scaleInBackground(const QImage& image);

    ImageDocument* doc_;
    QLabel* macroView_;
    QLabel* microView_;
    QLabel* macroAnswer_;
    QLabel* microAnswer_;
    QLabel* verdict_;
    int thumbSize_ = 220;
    QImage scaled_;                          // the document's image at thumbSize_, RGB32
    qint64 scaledKey_ = 0, pendingKey_ = 0;  // cacheKey() of the image scaled, being scaled
    int scaledSize_ = 0, pendingSize_ = 0;
};

}  // namespace rcui
