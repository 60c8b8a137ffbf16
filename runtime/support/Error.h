// The runtime's error type: one line that names the thing at fault, caught at the CLI boundary.
#pragma once

#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace pgc {

/// An error a user can act on. The message is a single line that names the
/// file, tensor, parameter or option at fault, and what is wrong with it.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string &message) : std::runtime_error(message) {}
};

/// Throws pgc::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args &&...args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

} // namespace pgc
