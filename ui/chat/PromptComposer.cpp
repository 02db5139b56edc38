#include "chat/PromptComposer.h"

#include <QRegularExpression>
#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "document/ImageDocument.h"
#include "inference/ImageConversion.h"
#include "regionchat/bench.h"
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

std::string encode(const Region& region, const QSize& size, const rc::RegionFormat& format) {
    const QRectF b = region.box.normalized();
    return format.encode(rc::Box{b.left(), b.top(), b.right(), b.bottom()},
                         rc::ImageSize{size.width(), size.height()});
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

QString composePrompt(const QString& question, const ImageDocument& doc,
                      const rc::RegionFormat& format, QString* error, QList<int>* visualIds) {
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
        if (visualIds) {
            prompt += QStringLiteral("region %1").arg(region->id);
            if (!visualIds->contains(region->id)) visualIds->append(region->id);
        } else {
            prompt += QString::fromStdString(encode(*region, doc.image().size(), format));
        }
        at = ref.start + ref.length;
    }
    prompt += question.mid(at);
    return prompt.trimmed();
}

QString groundingLabel(const QString& question, const QString& answer) {
    static const QRegularExpression tags(QStringLiteral("</?(?:des|ref|loc|p)>"),
                                         QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression subject(
        QStringLiteral(R"(^\s*(?:please\s+)?(?:where\s+(?:is|are)|find|locate)\s+([^?.!\n]+))"),
        QRegularExpression::CaseInsensitiveOption);
    QString q = question;
    q.remove(tags);
    const QRegularExpressionMatch m = subject.match(q);
    if (m.hasMatch()) {
        const QString s = m.captured(1).simplified();
        if (!s.isEmpty()) return s;
    }
    // Box text in any of the formats: [0.1, 0.2, 0.3, 0.4], <loc>...</loc>, (12, 34, 56, 78).
    static const QRegularExpression boxes(
        QStringLiteral(R"(<loc>.*?</loc>|\[\s*[-\d.]+(?:\s*,\s*[-\d.]+){3}\s*\]|)"
                       R"(\(\s*[-\d.]+(?:\s*,\s*[-\d.]+){3}\s*\))"));
    QString a = answer;
    a.remove(boxes);
    a.remove(tags);
    a = a.simplified();
    // Leftover joints such as "at ." or a dangling comma.
    static const QRegularExpression trailing(QStringLiteral(R"([\s,;:.]+$)"));
    a.remove(trailing);
    static const QRegularExpression leading(QStringLiteral(R"(^[\s,;:.]+)"));
    a.remove(leading);
    return a.isEmpty() ? QStringLiteral("box") : a;
}

QImage drawVisualPrompts(const ImageDocument& doc, const QList<int>& ids) {
    const cv::Mat image = toBgrMat(doc.image());
    std::vector<rc::bench::MmvmObject> objects;
    std::vector<cv::Scalar> colours;
    for (int id : ids) {
        const Region* r = doc.region(id);
        if (!r) continue;
        rc::bench::MmvmObject o;
        o.id = id;
        o.width = image.cols;
        o.height = image.rows;
        if (r->hasMask()) {
            // The mask's outer contours become the object's polygons (holes are left out:
            // MMVM's rasterizer clears pixels covered twice, so a hole polygon would cut it).
            std::vector<std::vector<cv::Point>> contours;
            cv::findContours(toMaskMat(r->mask), contours, cv::RETR_EXTERNAL,
                             cv::CHAIN_APPROX_SIMPLE);
            for (const auto& c : contours)
                if (c.size() >= 3) o.polygons.emplace_back(c.begin(), c.end());
        }
        if (o.polygons.empty()) {
            const QRectF b = r->box.normalized();
            o.polygons.push_back({{float(b.left()), float(b.top())},
                                  {float(b.right()), float(b.top())},
                                  {float(b.right()), float(b.bottom())},
                                  {float(b.left()), float(b.bottom())}});
        }
        objects.push_back(std::move(o));
        const QColor c = r->colour.isValid() ? r->colour : regionColour(id);
        colours.emplace_back(c.blue(), c.green(), c.red());
    }
    return toQImage(rc::bench::draw_mmvm_prompt(image, objects, /*query=*/false, colours));
}

}  // namespace rcui
