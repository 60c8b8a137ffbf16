// Where pgc keeps a dataset's and tokenizer's own settings (the <image> id,
// the prompt template, the column names): pgc_data.json next to
// tokenizer.model, and the older name it had, which collided with HF's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgc {

/// The settings file `pgc data synth-vqa` writes and checkpoints and exports
/// carry: pgc's own name, which no Hugging Face tool reads.
inline constexpr const char *kDataSettingsFile = "pgc_data.json";

/// The name pgc used before, kept readable for folders already written. In
/// a Hugging Face folder this name is a `tokenizers` fast-tokenizer file.
inline constexpr const char *kLegacyDataSettingsFile = "tokenizer.json";

/// `dir`/pgc_data.json if it exists; else `dir`/tokenizer.json if that is
/// pgc's settings and not a fast-tokenizer file (which has "model" and
/// "added_tokens"); else "".
std::string findDataSettings(const std::string &dir);

/// What pgc reads from a settings file; absent keys stay unset (the other
/// keys synth-vqa writes, such as model_vocab_size, are for people and
/// scripts).
struct DataSettings {
  std::optional<int64_t> imageTokenId;       ///< >= 0
  std::optional<std::string> promptTemplate; ///< holds "{question}"
  std::optional<std::string> questionColumn; ///< non-empty
  std::optional<std::string> answerColumn;   ///< non-empty
  std::optional<std::string> answersColumn;  ///< non-empty: required column
};

/// Parses a settings file's text. Throws pgc::Error "<what>: ..." for text
/// that is not a JSON object or a key of the wrong type or value.
DataSettings parseDataSettings(std::string_view text, const std::string &what);

/// parseDataSettings of the file at `path`.
DataSettings readDataSettings(const std::string &path);

} // namespace pgc
