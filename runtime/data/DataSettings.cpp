// Telling pgc's settings file from a Hugging Face tokenizer.json of the same
// name, so that an HF model folder used as --tokenizer is not misread.
#include "runtime/data/DataSettings.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <filesystem>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace pgc {

std::string findDataSettings(const std::string &dir) {
  std::error_code error;
  fs::path current = fs::path(dir) / kDataSettingsFile;
  if (fs::is_regular_file(current, error))
    return current.string();
  fs::path legacy = fs::path(dir) / kLegacyDataSettingsFile;
  if (!fs::is_regular_file(legacy, error))
    return {};
  std::vector<char> bytes = readFile(legacy.string());
  nlohmann::json json =
      nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  // A fast-tokenizer file (or anything else) is not ours: ignore it, as the
  // folder's tokenizer.model is what pgc tokenizes with.
  if (!json.is_object() || json.contains("model") ||
      json.contains("added_tokens") || !json.contains("image_token_id"))
    return {};
  return legacy.string();
}

} // namespace pgc
