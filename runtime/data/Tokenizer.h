// A SentencePiece tokenizer (Debian's libsentencepiece) read from
// tokenizer.model, and a trainer for small ones.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
} // namespace sentencepiece

namespace pgc {

/// Encodes text to token ids and back. The special ids (pad, eos, bos, unk)
/// are the model's own; -1 where the model has none. Copies share the model;
/// encode and decode may run on several threads at once.
class Tokenizer {
public:
  /// Throws pgc::Error "<path>: ..." if the file is missing or not a
  /// SentencePiece model.
  static Tokenizer load(const std::string &path);
  /// From a serialized ModelProto; `name` names it in errors.
  static Tokenizer fromSerialized(const std::string &bytes,
                                  const std::string &name);

  /// Plain text to ids: no bos/eos added (the PaliGemma processor places
  /// them itself, as HF does with add_bos_token=False).
  std::vector<int64_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int64_t> &ids) const;

  /// The number of SentencePiece pieces; ids run 0 .. vocabSize()-1.
  int64_t vocabSize() const;
  int64_t padId() const;
  int64_t eosId() const;
  int64_t bosId() const;
  int64_t unkId() const;
  /// The id of a whole piece such as "\n", or nullopt if the model has none.
  std::optional<int64_t> pieceId(std::string_view piece) const;
  std::string piece(int64_t id) const;
  const std::string &name() const { return name_; }

private:
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> processor_;
  std::string name_;
};

/// Options for training a small BPE tokenizer with PaliGemma's special ids:
/// pad 0, eos 1, bos 2 (as in Gemma), unk 3, then user symbols.
struct TokenizerTrainingOptions {
  /// Upper bound; training stops earlier if the corpus has fewer merges.
  int vocabSize = 256;
  /// Whole pieces that never merge or normalise away; "\n" must be one so
  /// that the prefix/suffix separator survives as its own token.
  std::vector<std::string> userSymbols = {"\n"};
};

/// Trains a BPE SentencePiece model on `sentences` (single-threaded, so the
/// result is a deterministic function of its input) and returns the
/// serialized model, ready to write as tokenizer.model.
std::string trainTokenizer(const std::vector<std::string> &sentences,
                           const TokenizerTrainingOptions &options = {});

} // namespace pgc
