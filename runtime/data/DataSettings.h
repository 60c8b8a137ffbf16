// Where pgc keeps a dataset's and tokenizer's own settings (the <image> id,
// the prompt template, the column names): pgc_data.json next to
// tokenizer.model, and the older name it had, which collided with HF's.
#pragma once

#include <string>

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

} // namespace pgc
