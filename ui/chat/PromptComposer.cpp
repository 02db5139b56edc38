#include "chat/PromptComposer.h"

#include <QRegularExpression>
#include <algorithm>

#include "document/ImageDocument.h"
#include "inference/ImageConversion.h"
#include "regionchat/backend.h"
#include "regionchat/region_format.h"

namespace rcui {

namespace {

const QRegularExpression& referencePattern() {
    static const QRegularExpression re(QStringLiteral(R"(<\s*region(?:\s+(\d+))?\s*>)"),
                                       QRegularExpression::CaseInsensitiveOption);
    return re;
}

QString fail(QString* error, const QString& message) {
    if (error) *error = message;
    return QString();
}

QString idList(const QList<Region>& regions) {
    QStringList ids;
    for (const Region& r : regions) ids << QString::number(r.id);
    return ids.join(QStringLiteral(", "));
}


}  // namespace

QList<RegionReference> findRegionReferences(const QString& text) {
    QList<RegionReference> refs;
    auto it = referencePattern().globalMatch(text);
    while (it.hasNext()) {
        const QRegularExpressionMatch m = it.next();
        refs.append({static_cast<int>(m.capturedStart()), static_cast<int>(m.capturedLength()),
                     m.captured(1).isEmpty() ? 0 : m.captured(1).toInt()});
    }
    return refs;
}

QString resolveRegionReferences(const QString& question, const ImageDocument& doc,
                                QString* error, QList<int>* ids) {
    if (error) error->clear();
    if (question.trimmed().isEmpty())
        return fail(error, QObject::tr("Type a question about the image first."));
    const QList<RegionReference> refs = findRegionReferences(question);
    if (refs.isEmpty()) return question.trimmed();
    if (!doc.hasImage())
        return fail(error, QObject::tr("Open an image before referring to a region."));

    // Plain <region>: the selected region, else the regions in creation (id) order.
    QList<Region> byCreation = doc.regions();
    std::sort(byCreation.begin(), byCreation.end(),
              [](const Region& a, const Region& b) { return a.id < b.id; });
    const Region* selected = doc.region(doc.selectedRegion());
    const qsizetype plain =
        std::count_if(refs.begin(), refs.end(), [](const RegionReference& r) { return !r.id; });
    if (!selected && plain > byCreation.size()) {
        if (byCreation.isEmpty())
            return fail(error, QObject::tr("The question refers to <region>, but no region is "
                                           "marked. Draw a box or click a point on the image "
                                           "first."));
        return fail(error, QObject::tr("The question has %1 <region> references but only %2 "
                                       "region(s) are marked. Mark more regions or write "
                                       "<region N> with a region's number.")
                               .arg(plain)
                               .arg(byCreation.size()));
    }

    QString prompt;
    int at = 0, nextPlain = 0;
    for (const RegionReference& ref : refs) {
        const Region* region = nullptr;
        if (ref.id) {
            region = doc.region(ref.id);
            if (!region) {
                return fail(
                    error,
                    byCreation.isEmpty()
                        ? QObject::tr("There is no region %1: no region is marked.").arg(ref.id)
                        : QObject::tr("There is no region %1 (regions: %2).")
                              .arg(ref.id)
                              .arg(idList(byCreation)));
            }
        } else {
            region = selected ? selected : &byCreation[nextPlain++];
        }
        prompt += question.mid(at, ref.start - at);
        prompt += QStringLiteral("<region %1>").arg(region->id);
        if (ids && !ids->contains(region->id)) ids->append(region->id);
        at = ref.start + ref.length;
    }
    prompt += question.mid(at);
    return prompt.trimmed();
}

QString groundingLabel(const QString& question, const QString& answer) {
    return QString::fromStdString(
        rc::grounding_label(question.toStdString(), answer.toStdString()));
}

QList<Region> regionsWithIds(const ImageDocument& doc, const QList<int>& ids) {
    QList<Region> out;
    for (int id : ids)
        if (const Region* r = doc.region(id)) out.append(*r);
    return out;
}

QImage drawVisualPrompts(const ImageDocument& doc, const QList<int>& ids) {
    return toQImage(rc::draw_visual_prompts(toBgrMat(doc.image()),
                                            toRegionInputs(regionsWithIds(doc, ids))));
}

}  // namespace rcui
