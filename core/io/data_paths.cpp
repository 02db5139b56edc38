#include "regionchat/data_paths.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace rc {

namespace fs = std::filesystem;

const char* version() { return REGIONCHAT_VERSION; }

std::string data_dir_for(const std::string& executable) {
    std::error_code ec;
    if (!executable.empty()) {
        // PREFIX/bin/program -> PREFIX/share/regionchat, whatever PREFIX is (/usr, /usr/local,
        // /opt/regionchat, a DESTDIR staging root).
        const fs::path installed =
            fs::path(executable).parent_path().parent_path() / "share" / "regionchat";
        if (fs::is_directory(installed / "models", ec))
            return fs::weakly_canonical(installed, ec).string();
    }
    return REGIONCHAT_SOURCE_RESOURCES_DIR;
}

std::string data_dir() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return data_dir_for(ec ? std::string() : exe.string());
}

std::string embedded_model_dir() {
    if (const char* env = std::getenv("REGIONCHAT_MODEL"); env && *env) return env;
    return (fs::path(data_dir()) / "models" / "shapes-tiny").string();
}

std::string samples_dir() { return (fs::path(data_dir()) / "samples").string(); }

}  // namespace rc
