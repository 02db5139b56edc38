// Where RegionChat's read-only data is: the embedded model and the samples. An installed
// program (PREFIX/bin/regionchat) reads PREFIX/share/regionchat; a program run from its build
// tree reads the source tree's resources/ (its path compiled in). Torch-free and Qt-free.
#pragma once

#include <string>

namespace rc {

/// The version of RegionChat (the CMake project's), e.g. "0.1.0".
const char* version();

/// PREFIX/share/regionchat when the running program is installed (the folder above its
/// executable's folder holds share/regionchat/models), else the source tree's resources/.
std::string data_dir();

/// The embedded model's folder: $REGIONCHAT_MODEL when set, else data_dir()/models/shapes-tiny.
std::string embedded_model_dir();

/// The sample images and benchmark sets: data_dir()/samples.
std::string samples_dir();

/// data_dir() for a given executable path (what data_dir() uses; tests pass their own).
std::string data_dir_for(const std::string& executable);

}  // namespace rc
