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
    QPixmap thumbnail(const QImage& image, const QRectF& box, const QRectF& crop) const;

    ImageDocument* doc_;
    QLabel* macroView_;
    QLabel* microView_;
    QLabel* macroAnswer_;
    QLabel* microAnswer_;
    QLabel* verdict_;
    int thumbSize_ = 220;
};

}  // namespace rcui
