// Reading benchmark files we did not write: size caps, image paths kept inside the set's
// folder, JSON nesting checked before parsing, pandas-style TSV, Python-style base64.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

#include "bench/bench_util.h"

namespace fs = std::filesystem;

namespace rc {
namespace bench {

bool write_file_atomically(const std::string& path, const std::string& bytes, std::string* why) {
    static std::atomic<unsigned> counter{0};
    const fs::path target(path);
    const fs::path tmp = target.parent_path() /
                         ("." + target.filename().string() + ".tmp-" + std::to_string(getpid()) +
                          "-" + std::to_string(counter++));
    auto fail = [&](const std::string& what) {
        if (why) *why = path + ": " + what + " (" + std::strerror(errno) + ")";
        ::unlink(tmp.c_str());
        return false;
    };
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail("cannot create a temporary file next to it");
    for (size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            return fail("cannot write");
        }
        done += size_t(n);
    }
    if (::fsync(fd) != 0) {
        ::close(fd);
        return fail("cannot sync");
    }
    if (::close(fd) != 0) return fail("cannot close");
    if (::rename(tmp.c_str(), target.c_str()) != 0) return fail("cannot replace it");
    return true;
}
namespace detail {

bool read_capped_file(const fs::path& path, uint64_t max_bytes, std::string* out,
                      std::string* why) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) {
        *why = "cannot read '" + path.string() + "': " + ec.message();
        return false;
    }
    if (size > max_bytes) {
        *why = "'" + path.string() + "' is " + std::to_string(size) + " bytes, more than the " +
               std::to_string(max_bytes) + "-byte limit";
        return false;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        *why = "cannot open '" + path.string() + "'";
        return false;
    }
    out->assign(static_cast<size_t>(size), '\0');
    in.read(&(*out)[0], static_cast<std::streamsize>(size));
    const bool whole = static_cast<uintmax_t>(in.gcount()) == size;
    if (!whole || in.peek() != std::char_traits<char>::eof()) {
        *why = "'" + path.string() + "' changed while it was read";
        return false;
    }
    return true;
}

bool resolve_inside(const fs::path& base, const std::string& name, fs::path* out,
                    std::string* why) {
    if (trim(name).empty()) {
        *why = "empty image path";
        return false;
    }
    if (name.find('\0') != std::string::npos) {
        *why = "image path holds a NUL byte";
        return false;
    }
    const fs::path p(name);
    if (p.is_absolute() || p.has_root_name() || p.has_root_directory() || name[0] == '\\') {
        *why = "absolute image path " + name + " refused (paths must stay inside the benchmark)";
        return false;
    }
    for (const fs::path& part : p) {
        if (part == "..") {
            *why = "image path " + name + " leaves the benchmark folder (\"..\"); refused";
            return false;
        }
    }
    *out = (base / p).lexically_normal();
    return true;
}

bool parse_json(const std::string& text, int max_depth, nlohmann::json* out, std::string* why) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                *why = "JSON nested more than " + std::to_string(max_depth) + " deep";
                return false;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    *out = nlohmann::json::parse(text, nullptr, false);
    if (out->is_discarded()) {
        *why = "not valid JSON";
        return false;
    }
    return true;
}

std::string json_id(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_integer()) return std::to_string(v.get<long long>());
    if (v.is_number_unsigned()) return std::to_string(v.get<unsigned long long>());
    return {};
}

std::vector<TsvRecord> parse_tsv(const std::string& text) {
    std::vector<TsvRecord> records;
    size_t i = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
    size_t line = 1;
    const size_t n = text.size();
    auto lines_in = [&](size_t from, size_t to) {
        size_t k = 0;
        for (size_t p = from; p < to; ++p) k += text[p] == '\n';
        return k;
    };
    while (i < n) {
        TsvRecord rec;
        rec.line = line;
        for (;;) {  // one field per iteration
            std::string field;
            if (i < n && text[i] == '"') {
                ++i;
                bool closed = false;
                while (i < n) {
                    const size_t q = text.find('"', i);
                    const size_t stop = q == std::string::npos ? n : q;
                    line += lines_in(i, stop);
                    field.append(text, i, stop - i);
                    if (q == std::string::npos) {
                        i = n;
                        break;
                    }
                    i = q + 1;
                    if (i < n && text[i] == '"') {  // "" inside quotes is one quote
                        field += '"';
                        ++i;
                    } else {
                        closed = true;
                        break;
                    }
                }
                if (!closed) rec.unterminated_quote = true;
            }
            size_t end = text.find_first_of("\t\n", i);
            if (end == std::string::npos) end = n;
            field.append(text, i, end - i);
            i = end;
            if (!field.empty() && field.back() == '\r' && (i >= n || text[i] == '\n'))
                field.pop_back();
            rec.fields.push_back(std::move(field));
            if (i < n && text[i] == '\t') {
                ++i;
                continue;
            }
            break;
        }
        if (i < n && text[i] == '\n') {
            ++i;
            ++line;
        }
        if (rec.fields.size() == 1 && trim(rec.fields[0]).empty()) continue;  // blank line
        records.push_back(std::move(rec));
    }
    return records;
}

bool decode_base64(const std::string& text, std::string* out) {
    auto value = [](unsigned char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    out->clear();
    out->reserve(text.size() / 4 * 3 + 3);  // bounded by the text already in memory
    // As CPython's binascii.a2b_base64 outside strict mode: bytes come out as sextets arrive;
    // a pad sequence completing a quantum of 2 or 3 ends the data (the rest is ignored); other
    // "=" and characters outside the alphabet are skipped; a partial quantum at the end fails.
    uint32_t left = 0;
    int quad = 0, pads = 0;
    for (const char ch : text) {
        const unsigned char c = static_cast<unsigned char>(ch);
        if (c == '=') {
            if (quad >= 2 && quad + ++pads >= 4) return true;
            continue;
        }
        const int v = value(c);
        if (v < 0) continue;
        pads = 0;
        switch (quad) {
            case 0:
                left = static_cast<uint32_t>(v);
                quad = 1;
                break;
            case 1:
                out->push_back(static_cast<char>(((left << 2) | (v >> 4)) & 0xFF));
                left = static_cast<uint32_t>(v) & 0x0F;
                quad = 2;
                break;
            case 2:
                out->push_back(static_cast<char>(((left << 4) | (v >> 2)) & 0xFF));
                left = static_cast<uint32_t>(v) & 0x03;
                quad = 3;
                break;
            default:
                out->push_back(static_cast<char>(((left << 6) | static_cast<uint32_t>(v)) & 0xFF));
                left = 0;
                quad = 0;
                break;
        }
    }
    return quad == 0;
}

uint64_t fnv1a64(const std::string& bytes) {
    uint64_t h = 1469598103934665603ull;
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

void for_each_question_line(const std::string& text, const std::string& file_name,
                            const char* text_key, int max_depth, bool unique_ids,
                            LoadReport* report,
                            const std::function<std::string(const QuestionLine&)>& each) {
    std::set<std::string> seen;
    std::string why;
    const std::vector<std::string> lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
        if (trim(lines[i]).empty()) continue;
        const std::string where = file_name + ":" + std::to_string(i + 1);
        auto skip = [&](const std::string& w) { report->skipped.push_back(where + ": " + w); };
        nlohmann::json j;
        if (!parse_json(lines[i], max_depth, &j, &why)) {
            skip(why);
            continue;
        }
        if (!j.is_object() || !j.contains("question_id") || json_id(j["question_id"]).empty()) {
            skip("no \"question_id\"");
            continue;
        }
        if (!j.contains("image") || !j["image"].is_string()) {
            skip("no \"image\" string");
            continue;
        }
        if (!j.contains(text_key) || !j[text_key].is_string()) {
            skip(std::string("no \"") + text_key + "\" string");
            continue;
        }
        const std::string id = json_id(j["question_id"]);
        if (unique_ids && seen.count(id)) {
            skip("question_id " + id + " repeated");
            continue;
        }
        const std::string rejected = each(QuestionLine{j, where, id, i + 1});
        if (!rejected.empty()) {
            skip(rejected);
            continue;
        }
        seen.insert(id);
    }
}

std::string tsv_row_problem(const TsvRecord& rec, size_t width, const std::string& missing) {
    if (!missing.empty()) return "missing column(s) " + missing;
    if (rec.unterminated_quote) return "a quoted field is never closed";
    if (rec.fields.size() != width)
        return "expected " + std::to_string(width) + " columns, found " +
               std::to_string(rec.fields.size());
    return {};
}

}  // namespace detail
}  // namespace bench
}  // namespace rc
