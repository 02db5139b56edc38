// MMBench dev as DualFocus evaluates it (dualfocus/eval/model_vqa_mmbench.py on
// mmbench_dev_20230712.tsv) and as MMBench scores it (VLMEvalKit's circular evaluation): the TSV
// with base64 images, can_infer, and the circular, vanilla and per-row accuracies.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "bench/bench_util.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace fs = std::filesystem;

namespace rc {
namespace bench {

using detail::trim;

namespace {

constexpr long long kCircular = 1000000;  // copies of question i have index i + k * 1e6

// What pandas.read_table reads as NaN by default, and DualFocus' is_none on top ("nan" and
// "none" in any case): such a hint is no hint, such an option ends the option list.
bool is_none(const std::string& v) {
    static const std::set<std::string> na = {"",         "#N/A", "#N/A N/A", "#NA",    "-1.#IND",
                                             "-1.#QNAN", "-NaN", "-nan",     "1.#IND", "1.#QNAN",
                                             "<NA>",     "N/A",  "NA",       "NULL",   "NaN",
                                             "None",     "n/a",  "nan",      "null"};
    const std::string l = detail::to_lower(v);
    return na.count(v) > 0 || l == "nan" || l == "none";
}

bool parse_index(const std::string& s, long long* out) {
    const std::string t = trim(s);
    if (t.empty() || t.size() > 15) return false;
    for (const char c : t)
        if (c < '0' || c > '9') return false;
    *out = std::stoll(t);
    return true;
}

std::string image_extension(const std::string& bytes) {
    if (bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return ".png";
    if (bytes.compare(0, 2, "\xFF\xD8") == 0) return ".jpg";
    if (bytes.compare(0, 4, "GIF8") == 0) return ".gif";
    if (bytes.compare(0, 2, "BM") == 0) return ".bmp";
    if (bytes.size() >= 12 && bytes.compare(0, 4, "RIFF") == 0 && bytes.compare(8, 4, "WEBP") == 0)
        return ".webp";
    return ".img";
}

// Writes `bytes` to `path` unless the file already holds them; a temporary name and a rename
// keep concurrent loads from ever seeing half a file.
bool write_once(const fs::path& path, const std::string& bytes) {
    std::string existing, why;
    if (detail::is_file(path) && detail::read_capped_file(path, bytes.size(), &existing, &why) &&
        existing == bytes)
        return true;
    return write_file_atomically(path.string(), bytes, nullptr);
}

fs::path find_tsv(const std::string& root) {
    const fs::path p(root);
    if (detail::is_file(p)) return p;
    if (!detail::is_dir(p))
        throw Error("MMBench root '" + root + "' is neither a folder nor a .tsv");
    std::vector<fs::path> tsvs;
    std::error_code ec;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".tsv" && detail::is_file(it->path()))
            tsvs.push_back(it->path());
    std::sort(tsvs.begin(), tsvs.end());
    if (tsvs.size() == 1) return tsvs[0];
    for (const fs::path& t : tsvs)
        if (t.filename() == "mmbench_dev_20230712.tsv") return t;
    if (tsvs.empty()) throw Error("MMBench: no .tsv file in '" + root + "'");
    std::string names;
    for (const fs::path& t : tsvs) names += (names.empty() ? "" : ", ") + t.filename().string();
    throw Error("MMBench: several .tsv files in '" + root + "' (" + names + "); name one");
}

// The decoded images of one load, by hash of their bytes: the rows sharing an image share
// one decode check and one file.
struct ImageCache {
    fs::path dir;
    const LoadLimits* limits = nullptr;
    std::map<uint64_t, std::pair<std::string, std::string>> done;  // hash -> (path, error)

    // The file holding the image of `field` (base64), or false with the reason.
    bool store(const std::string& field, const std::string& name, std::string* path,
               std::string* why) {
        std::string bytes;
        if (!detail::decode_base64(field, &bytes)) {
            *why = "the image is not valid base64";
            return false;
        }
        const uint64_t hash = detail::fnv1a64(bytes);
        auto found = done.find(hash);
        if (found == done.end()) {
            std::string error, file;
            ImageLoadLimits il;
            il.max_pixels = limits->max_image_pixels;
            il.max_file_bytes = limits->max_image_field_bytes;
            try {
                decode_image(bytes, name, il);  // the header-checked decoder with its limits
                char hex[17];
                std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
                const fs::path out = dir / (std::string(hex) + "-" + std::to_string(bytes.size()) +
                                            image_extension(bytes));
                if (write_once(out, bytes))
                    file = detail::absolute_path(out);
                else
                    error = "cannot write the decoded image to " + out.string();
            } catch (const std::exception& e) {
                error = e.what();
            }
            found = done.emplace(hash, std::make_pair(file, error)).first;
        }
        *path = found->second.first;
        *why = found->second.second;
        return why->empty();
    }
};

}  // namespace

LoadReport load_mmbench(const std::string& root, const LoadLimits& limits) {
    const fs::path tsv = find_tsv(root);
    std::string text, why;
    if (!detail::read_capped_file(tsv, limits.max_file_bytes, &text, &why))
        throw Error("MMBench: " + why);
    const std::string tsv_name = tsv.filename().string();
    std::vector<detail::TsvRecord> records = detail::parse_tsv(text);
    text = std::string();
    LoadReport report;
    if (records.empty()) return report;

    ImageCache cache;
    cache.limits = &limits;
    std::error_code ec;
    cache.dir = limits.image_cache_dir.empty() ? fs::temp_directory_path(ec) / "regionchat-mmbench"
                                               : fs::path(limits.image_cache_dir);
    fs::create_directories(cache.dir, ec);
    if (!detail::is_dir(cache.dir))
        throw Error("MMBench: cannot create the image folder '" + cache.dir.string() + "'");

    std::map<std::string, size_t> column;
    for (size_t k = 0; k < records[0].fields.size(); ++k)
        column.emplace(trim(records[0].fields[k]), k);
    std::string missing;
    for (const char* name : {"index", "question", "A", "B", "answer", "image"})
        if (!column.count(name)) missing += std::string(missing.empty() ? "" : ", ") + name;
    const size_t width = records[0].fields.size();
    auto field = [&](const detail::TsvRecord& rec, const char* name) -> const std::string& {
        static const std::string none;
        const auto it = column.find(name);
        return it == column.end() ? none : rec.fields[it->second];
    };

    // VLMEvalKit writes a repeated image once: another row's field is that row's index.
    std::map<std::string, size_t> row_of_index;
    if (missing.empty())
        for (size_t r = 1; r < records.size(); ++r)
            if (records[r].fields.size() == width && field(records[r], "image").size() > 64)
                row_of_index.emplace(trim(field(records[r], "index")), r);

    std::set<long long> seen;
    for (size_t r = 1; r < records.size(); ++r) {
        detail::TsvRecord& rec = records[r];
        const std::string where = tsv_name + ":" + std::to_string(rec.line);
        auto skip = [&](const std::string& w) { report.skipped.push_back(where + ": " + w); };
        if (const std::string why = detail::tsv_row_problem(rec, width, missing); !why.empty()) {
            skip(why);
            continue;
        }
        BenchCase c;
        c.format = "mmbench";
        c.source = where;
        long long index = 0;
        if (!parse_index(field(rec, "index"), &index)) {
            skip("index '" + field(rec, "index").substr(0, 40) + "' is not a whole number");
            continue;
        }
        if (seen.count(index)) {
            skip("index " + std::to_string(index) + " repeated");
            continue;
        }
        c.question_id = std::to_string(index);
        c.circular_group = index % kCircular;
        c.id = "mmbench:" + c.question_id;
        c.question = field(rec, "question");
        if (!is_none(field(rec, "hint"))) c.hint = field(rec, "hint");
        for (const char* letter : {"A", "B", "C", "D"}) {  // get_options: up to the first none
            if (!column.count(letter) || is_none(field(rec, letter))) break;
            c.options.push_back(field(rec, letter));
        }
        if (c.options.size() < 2) {
            skip("fewer than two options");
            continue;
        }
        for (size_t k = 0; k < c.options.size(); ++k)
            c.choices += std::string(k ? "\n" : "") + char('A' + k) + ". " + c.options[k];
        c.answer = trim(field(rec, "answer"));
        if (c.answer.size() != 1 || c.answer[0] < 'A' ||
            c.answer[0] >= char('A' + c.options.size())) {
            skip("answer '" + c.answer.substr(0, 40) + "' is not one of the option letters A-" +
                 std::string(1, char('A' + c.options.size() - 1)));
            continue;
        }
        const std::string category = trim(field(rec, "category"));
        c.task = category.empty() || is_none(category) ? "mmbench" : category;

        const std::string* image = &field(rec, "image");
        if (image->size() <= 64) {
            const auto ref = row_of_index.find(trim(*image));
            if (ref == row_of_index.end()) {
                skip("the image is neither base64 nor the index of a row with one");
                continue;
            }
            image = &field(records[ref->second], "image");
        }
        if (image->size() > limits.max_image_field_bytes) {
            skip("the image is " + std::to_string(image->size()) +
                 " bytes of base64, more than the " + std::to_string(limits.max_image_field_bytes) +
                 "-byte limit");
            continue;
        }
        std::string path;
        if (!cache.store(*image, tsv_name + " index " + c.question_id, &path, &why)) {
            skip(why);
            continue;
        }
        c.images = {path};
        c.image_names = {tsv_name + "#" + c.question_id};
        seen.insert(index);
        report.cases.push_back(std::move(c));
    }
    return report;
}

MmbenchScore score_mmbench(const std::vector<CaseResult>& results) {
    MmbenchScore s;
    struct Group {
        bool has_main = false;
        bool all_right = true;
        std::string category;
    };
    std::map<long long, Group> groups;
    for (const CaseResult& r : results) {
        const BenchCase& c = r.bench_case;
        if (c.format != "mmbench") continue;
        const bool hit = dualfocus_case_score(c, r.prediction) > 0;
        ++s.rows;
        s.rows_correct += hit;
        Group& g = groups[c.circular_group];
        g.all_right = g.all_right && hit;
        if (c.question_id == std::to_string(c.circular_group)) {  // the main row: index < 1e6
            g.has_main = true;
            g.category = c.task;
            ++s.main_rows;
            s.main_correct += hit;
        }
    }
    // As VLMEvalKit: one group per main row, holding every row with its index % 1e6.
    for (const auto& [id, g] : groups) {
        if (!g.has_main) continue;
        ++s.groups;
        s.groups_correct += g.all_right;
        auto& cat = s.per_category[g.category];
        cat.first += g.all_right;
        ++cat.second;
    }
    s.circular = s.groups > 0 ? double(s.groups_correct) / s.groups : 0.0;
    s.vanilla = s.main_rows > 0 ? double(s.main_correct) / s.main_rows : 0.0;
    s.per_row = s.rows > 0 ? double(s.rows_correct) / s.rows : 0.0;
    return s;
}

}  // namespace bench
}  // namespace rc
