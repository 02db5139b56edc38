// The one exception type core/ throws: a message a user can read, naming the file or key at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace rc {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace rc
