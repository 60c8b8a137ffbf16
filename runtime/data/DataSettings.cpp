// Telling pgc's settings file from a Hugging Face tokenizer.json of the same
// name, so that an HF model folder used as --tokenizer is not misread.
#include "runtime/data/DataSettings.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <filesystem>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace pgc {

DataSettings parseDataSettings(std::string_view text, const std::string &what) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object())
    fail("{}: not a JSON object", what);
  DataSettings settings;
  auto stringKey = [&](const char *key) -> std::optional<std::string> {
    auto it = json.find(key);
    if (it == json.end())
      return std::nullopt;
    if (!it->is_string() || it->get_ref<const std::string &>().empty())
      fail("{}: '{}' must be a non-empty string", what, key);
    return it->get<std::string>();
  };
  if (auto it = json.find("image_token_id"); it != json.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      fail("{}: 'image_token_id' must be a non-negative integer, not {}", what,
           it->dump());
    settings.imageTokenId = it->get<int64_t>();
  }
  settings.promptTemplate = stringKey("prompt_template");
  if (settings.promptTemplate &&
      settings.promptTemplate->find("{question}") == std::string::npos)
    fail("{}: 'prompt_template' has no {{question}}", what);
  settings.questionColumn = stringKey("question_column");
  settings.answerColumn = stringKey("answer_column");
  settings.answersColumn = stringKey("answers_column");
  return settings;
}

DataSettings readDataSettings(const std::string &path) {
  std::vector<char> bytes = readFile(path);
  return parseDataSettings(std::string_view(bytes.data(), bytes.size()), path);
}

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
