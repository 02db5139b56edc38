// Harness helper: the parsers under test read files, so each input is written to one file in
// /dev/shm (memory) first.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace fuzz {

inline std::string scratch(const char* name) {
    return std::string("/dev/shm/regionchat-fuzz-") + std::to_string(getpid()) + "-" + name;
}

inline std::string write(const char* name, const uint8_t* data, size_t size) {
    const std::string path = scratch(name);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) __builtin_trap();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}

}  // namespace fuzz
