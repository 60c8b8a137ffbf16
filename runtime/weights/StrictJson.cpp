// Duplicate-key detection for JSON headers, and quoting of untrusted names in
// one-line error messages.
#include "runtime/weights/StrictJson.h"

#include "runtime/support/Error.h"

#include <set>
#include <vector>

namespace pgc {

std::string quotedForMessage(std::string_view text) {
  // Names come from untrusted files; cap them so a huge key cannot flood a
  // message.
  constexpr size_t kMaxShown = 200;
  std::string result = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '"' || byte == '\\')
      result += fmt::format("\\{}", static_cast<char>(byte));
    else if (byte < 0x20 || byte >= 0x7f)
      result += fmt::format("\\x{:02x}", byte);
    else
      result += static_cast<char>(byte);
  }
  if (text.size() > kMaxShown)
    result += "...";
  return result + "\"";
}

nlohmann::ordered_json parseStrictJson(const std::string &path,
                                       std::string_view what,
                                       std::string_view text) {
  using Json = nlohmann::ordered_json;
  // One set of keys per object being parsed; nlohmann keeps only one of two
  // equal keys, which would let a file say two things about one tensor.
  std::vector<std::set<std::string>> keysOfOpenObjects;
  auto rejectDuplicates = [&](int, Json::parse_event_t event, Json &parsed) {
    switch (event) {
    case Json::parse_event_t::object_start:
      keysOfOpenObjects.emplace_back();
      break;
    case Json::parse_event_t::object_end:
      keysOfOpenObjects.pop_back();
      break;
    case Json::parse_event_t::key: {
      const auto &key = parsed.get_ref<const std::string &>();
      if (!keysOfOpenObjects.back().insert(key).second)
        fail("{}: {} has key {} twice", path, what, quotedForMessage(key));
      break;
    }
    default:
      break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), rejectDuplicates);
  } catch (const nlohmann::json::exception &e) {
    // nlohmann's message quotes the input it last read; keep it one line.
    std::string message = e.what();
    for (char &c : message)
      if (static_cast<unsigned char>(c) < 0x20 ||
          static_cast<unsigned char>(c) >= 0x7f)
        c = '?';
    fail("{}: {} is not valid JSON: {}", path, what, message);
  }
}

} // namespace pgc
