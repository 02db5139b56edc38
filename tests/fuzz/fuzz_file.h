// Harness helper: the parsers under test read files, so each input is written to one file in
// /dev/shm (memory) first.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fuzz {

/// FUZZ_VERBOSE=1: harnesses print why an input was refused (to check that seeds are accepted:
/// `FUZZ_VERBOSE=1 build-fuzz/fuzz_configs tests/fuzz/corpus/fuzz_configs/*`).
inline bool verbose() {
    static const bool v = std::getenv("FUZZ_VERBOSE") != nullptr;
    return v;
}

inline void refused(const char* what) {
    if (verbose()) std::fprintf(stderr, "refused: %s\n", what);
}

inline std::string scratch(const char* name) {
    return std::string("/dev/shm/regionchat-fuzz-") + std::to_string(getpid()) + "-" + name;
}

/// Writes `size` bytes to `path` (a failure is the harness's, so it traps).
inline void put(const std::string& path, const void* data, size_t size) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) __builtin_trap();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
}

inline std::string write(const char* name, const uint8_t* data, size_t size) {
    const std::string path = scratch(name);
    put(path, data, size);
    return path;
}

}  // namespace fuzz
