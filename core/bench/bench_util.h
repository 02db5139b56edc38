// Small helpers shared by the benchmark loaders (internal to regionchat_bench).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

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

}  // namespace detail
}  // namespace bench
}  // namespace rc
