// JSON parsing for weight files that rejects what nlohmann::json would silently
// accept (duplicate keys).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace pgc {

/// Parses `text` keeping object keys in file order. Throws pgc::Error
/// "<path>: <what> is not valid JSON: ..." or "<path>: <what> has key "k"
/// twice"; `what` says which part of the file the text is ("header").
nlohmann::ordered_json parseStrictJson(const std::string &path,
                                       std::string_view what,
                                       std::string_view text);

/// `text` in double quotes with control characters, quotes and bytes outside
/// printable ASCII escaped, so that error messages stay on one line.
std::string quotedForMessage(std::string_view text);

} // namespace pgc
