#include "chat/ChatHtml.h"

#include "chat/PromptComposer.h"
#include "document/ImageDocument.h"

namespace rcui {

namespace {

QString escaped(const QString& text) {
    QString html = text.toHtmlEscaped();
    html.replace(QLatin1Char('\n'), QStringLiteral("<br>"));
    return html;
}

QString chip(const QString& href, const QString& text, const QColor& fill) {
    // Non-breaking spaces pad the chip; Qt's rich text has no padding on inline elements.
    return QStringLiteral(
               "<a href=\"%1\" style=\"text-decoration:none; color:%2; background-color:%3;\">"
               "&nbsp;%4&nbsp;</a>")
        .arg(href, chipTextColour(fill).name(), fill.name(), text.toHtmlEscaped());
}

QString muted(const QString& html) {
    return QStringLiteral("<span style=\"color:#7a7f87; font-size:small;\">%1</span>").arg(html);
}

QString message(const QString& who, const QString& body, const QString& background) {
    return QStringLiteral(
               "<table width=\"100%\" cellspacing=\"0\" cellpadding=\"6\" "
               "style=\"margin-bottom:6px;\"><tr><td bgcolor=\"%1\" style=\"color:#1d1f23;\">"
               "<span style=\"color:#7a7f87; font-size:small;\"><b>%2</b></span><br>"
               "%3</td></tr></table>")
        .arg(background, who, body);
}

}  // namespace

QColor groundingChipColour() {
    return QColor(255, 190, 40);
}

QColor chipTextColour(const QColor& fill) {
    const double luma = 0.299 * fill.redF() + 0.587 * fill.greenF() + 0.114 * fill.blueF();
    return luma > 0.55 ? QColor(20, 20, 20) : QColor(255, 255, 255);
}

QString userTextHtml(const QString& text, const ImageDocument& doc) {
    QString html;
    int at = 0;
    for (const RegionReference& ref : findRegionReferences(text)) {
        html += escaped(text.mid(at, ref.start - at));
        if (ref.id) {
            const Region* r = doc.region(ref.id);
            const QColor fill = r && r->colour.isValid() ? r->colour : regionColour(ref.id);
            html += chip(QStringLiteral("region:%1").arg(ref.id),
                         QObject::tr("region %1").arg(ref.id), fill);
        } else {
            html += chip(QStringLiteral("region:0"), QObject::tr("region"), QColor(150, 155, 165));
        }
        at = ref.start + ref.length;
    }
    return html + escaped(text.mid(at));
}

QString assistantHtml(const ChatEntry& e, int firstBox) {
    QString body;
    if (!e.text.isEmpty())
        body += escaped(e.text);
    else if (e.streaming)
        body += muted(QObject::tr("thinking…"));
    if (e.streaming && !e.text.isEmpty())
        body += QStringLiteral("<span style=\"color:#7a7f87;\">▍</span>");
    if (e.stopped)
        body +=
            QStringLiteral(" ") + muted(QStringLiteral("<i>%1</i>").arg(QObject::tr("(stopped)")));
    if (!e.error.isEmpty())
        body +=
            QStringLiteral("<br><span style=\"color:#d03030;\">%1</span>").arg(escaped(e.error));
    if (!e.boxes.isEmpty()) {
        QStringList chips;
        for (int i = 0; i < e.boxes.size(); ++i) {
            const int g = firstBox + i;
            chips << chip(QStringLiteral("box:%1").arg(g), QStringLiteral("▭ ") + e.boxes[i].label,
                          groundingChipColour()) +
                         QStringLiteral("&nbsp;") +
                         QStringLiteral(
                             "<a href=\"make:%1\" style=\"color:#5b8def; "
                             "font-size:small;\">%2</a>")
                             .arg(g)
                             .arg(QObject::tr("make region"));
        }
        body += QStringLiteral("<br>") + chips.join(QStringLiteral("&nbsp;&nbsp; "));
    }
    QStringList notes;
    if (e.focus.valid && !e.focus.scored) {
        notes << QObject::tr("dual focus: %1 answer (%2)")
                     .arg(e.focus.microWon ? QObject::tr("zoomed") : QObject::tr("whole-image"),
                          e.focus.decidedBy.isEmpty() ? QObject::tr("no box")
                                                      : e.focus.decidedBy.toHtmlEscaped());
    } else if (e.focus.valid) {
        notes << (e.focus.microWon
                      ? QObject::tr("dual focus: zoomed answer chosen (NLL %1 vs %2)")
                      : QObject::tr("dual focus: whole-image answer kept (NLL %2 vs %1)"))
                     .arg(e.focus.microNll, 0, 'f', 2)
                     .arg(e.focus.macroNll, 0, 'f', 2);
    }
    if (e.tokensPerSecond > 0 && !e.streaming)
        notes << QObject::tr("%1 tokens/s").arg(e.tokensPerSecond, 0, 'f', 1);
    if (!notes.isEmpty()) body += QStringLiteral("<br>") + muted(notes.join(QStringLiteral(" · ")));
    return body;
}

QString conversationHtml(const ImageDocument& doc) {
    if (doc.chat().isEmpty()) {
        return muted(
            QObject::tr("Ask a question about the image. Mark a region with the box or "
                        "point tool and refer to it as &lt;region&gt; or by clicking "
                        "its chip below."));
    }
    QString html;
    int firstBox = 0;
    for (const ChatEntry& e : doc.chat()) {
        if (e.role == ChatEntry::Role::User) {
            html +=
                message(QObject::tr("You"), userTextHtml(e.text, doc), QStringLiteral("#e9f0fb"));
        } else {
            html += message(QObject::tr("Model"), assistantHtml(e, firstBox),
                            QStringLiteral("#f6f6f4"));
            firstBox += e.boxes.size();
        }
    }
    return html;
}

}  // namespace rcui
