// Small helpers shared by the benchmark loaders (internal to regionchat_bench).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "regionchat/bench.h"

namespace rc {
namespace bench {
namespace detail {

/// The whole file, or false when it cannot be opened.
bool read_text_file(const std::filesystem::path& path, std::string* out);

/// Splits text into lines, dropping a UTF-8 BOM and the '\r' of CRLF endings.
std::vector<std::string> split_lines(const std::string& text);

/// Splits on every `sep` (empty fields kept).
std::vector<std::string> split(const std::string& s, char sep);

std::string trim(const std::string& s);
std::string to_lower(const std::string& s);
std::string to_upper(const std::string& s);

/// Absolute, lexically normal path (no filesystem access).
std::string absolute_path(const std::filesystem::path& p);

/// True when `p` names an existing regular file (never throws).
bool is_file(const std::filesystem::path& p);
/// True when `p` names an existing directory (never throws).
bool is_dir(const std::filesystem::path& p);

/// Formats a number with `decimals` digits after the point.
std::string fixed(double v, int decimals);

// ---- Files from outside (bench_files.cpp): size caps, paths kept inside the set's folder ----

/// The whole file when it is at most `max_bytes`; false with the reason in `why` otherwise.
bool read_capped_file(const std::filesystem::path& path, uint64_t max_bytes, std::string* out,
                      std::string* why);

/// `name` as a benchmark file writes it, under `base`. Refused (false, `why`) when empty,
/// absolute, or holding a ".." part, so a file cannot point outside its benchmark folder.
bool resolve_inside(const std::filesystem::path& base, const std::string& name,
                    std::filesystem::path* out, std::string* why);

/// JSON text parsed when its arrays and objects nest at most `max_depth` deep; false with the
/// reason otherwise (checked before parsing, so nothing deep is ever built).
bool parse_json(const std::string& text, int max_depth, nlohmann::json* out, std::string* why);

/// A JSON id (string or integer) as text, so "101669" and 101669 join; "" for anything else.
std::string json_id(const nlohmann::json& v);

/// One record of a TSV file as pandas reads it.
struct TsvRecord {
    size_t line = 0;  ///< 1-based line where the record starts
    std::vector<std::string> fields;
    bool unterminated_quote = false;
};

/// TSV as pandas writes and reads it: a field that starts with '"' runs to the closing quote and
/// may hold tabs and newlines; "" inside it is one quote. CRLF endings and a BOM are accepted;
/// blank lines are dropped.
std::vector<TsvRecord> parse_tsv(const std::string& text);

/// Base64 as Python's base64.b64decode reads it by default: characters outside the alphabet
/// are skipped; false when the data ends in an unpadded or impossible quantum.
bool decode_base64(const std::string& text, std::string* out);

/// FNV-1a, 64 bits (names the decoded MMBench images).
uint64_t fnv1a64(const std::string& bytes);

/// Option lines "A. text", "B. text", ... in letter order (what GQA-MCQ and SEED put after the
/// question): the texts after "X. ", or false with the reason (dualfocus_eval.cpp).
bool parse_option_lines(const std::vector<std::string>& lines, std::vector<std::string>* texts,
                        std::string* why);

// ---- Python's str methods, as the reference scripts apply them (py_text.cpp) -------------

/// str.lower() for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals; other
/// characters (and bytes that are not UTF-8) unchanged.
std::string py_lower(const std::string& s);
/// str.strip() with no argument: Unicode whitespace (str.isspace) at both ends.
std::string py_strip(const std::string& s);
/// str.split() with no argument: runs of Unicode whitespace separate, no empty parts.
std::vector<std::string> py_split(const std::string& s);
/// len(str): the number of UTF-8 code points (a stray byte counts as one).
size_t py_len(const std::string& s);
/// The first character (code point) of `s`, "" when empty.
std::string py_first(const std::string& s);
/// str.rstrip(chars).
std::string py_rstrip(const std::string& s, const std::string& chars);
/// Every occurrence of `from` replaced by `to` (str.replace).
std::string replace_all(std::string s, const std::string& from, const std::string& to);

/// Why a data row of a TSV cannot be read ("" when it can): required columns missing from the
/// header (`missing`, as listed), a quote never closed, or not `width` fields.
std::string tsv_row_problem(const TsvRecord& rec, size_t width, const std::string& missing);

/// One line of a LLaVA question file (jsonl) that passed the common checks.
struct QuestionLine {
    const nlohmann::json& j;  ///< the object
    std::string where;        ///< "file:line"
    std::string id;           ///< its "question_id" as text
    size_t number;            ///< the line number
};
/// Walks a question file: every non-blank line parsed (nesting capped at `max_depth`) and
/// checked for a "question_id", an "image" string and a `text_key` string; a bad line is
/// skipped into report->skipped with why. `each` gets the others and returns "" to keep the
/// line or why it skips it. With `unique_ids` a repeated id is skipped (only kept lines count).
void for_each_question_line(const std::string& text, const std::string& file_name,
                            const char* text_key, int max_depth, bool unique_ids,
                            LoadReport* report,
                            const std::function<std::string(const QuestionLine&)>& each);

}  // namespace detail
}  // namespace bench
}  // namespace rc
