// SentencePiece wrapping: status codes become pgc::Error naming the model file.
#include "runtime/data/Tokenizer.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unordered_map>

namespace pgc {

Tokenizer Tokenizer::load(const std::string &path) {
  std::vector<char> bytes = readFile(path);
  return fromSerialized(std::string(bytes.begin(), bytes.end()), path);
}

Tokenizer Tokenizer::fromSerialized(const std::string &bytes,
                                    const std::string &name) {
  auto processor = std::make_shared<sentencepiece::SentencePieceProcessor>();
  auto status = processor->LoadFromSerializedProto(bytes);
  if (!status.ok())
    fail("{}: not a SentencePiece model: {}", name, status.ToString());
  if (processor->GetPieceSize() <= 0)
    fail("{}: SentencePiece model has no pieces", name);
  Tokenizer tokenizer;
  tokenizer.processor_ = std::move(processor);
  tokenizer.name_ = name;
  return tokenizer;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  auto status = processor_->Encode(text, &ids);
  if (!status.ok())
    fail("{}: cannot encode text: {}", name_, status.ToString());
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids) const {
  std::vector<int> narrow;
  narrow.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= vocabSize())
      fail("{}: cannot decode id {}: the vocabulary has {} pieces", name_, id,
           vocabSize());
    narrow.push_back(static_cast<int>(id));
  }
  std::string text;
  auto status = processor_->Decode(narrow, &text);
  if (!status.ok())
    fail("{}: cannot decode ids: {}", name_, status.ToString());
  return text;
}

int64_t Tokenizer::vocabSize() const { return processor_->GetPieceSize(); }
int64_t Tokenizer::padId() const { return processor_->pad_id(); }
int64_t Tokenizer::eosId() const { return processor_->eos_id(); }
int64_t Tokenizer::bosId() const { return processor_->bos_id(); }
int64_t Tokenizer::unkId() const { return processor_->unk_id(); }

std::optional<int64_t> Tokenizer::pieceId(std::string_view piece) const {
  int id = processor_->PieceToId(piece);
  // PieceToId answers unk_id for unknown pieces.
  if (id == processor_->unk_id() && piece != processor_->IdToPiece(id))
    return std::nullopt;
  return id;
}

std::string Tokenizer::piece(int64_t id) const {
  if (id < 0 || id >= vocabSize())
    fail("{}: no piece {}: the vocabulary has {} pieces", name_, id,
         vocabSize());
  return processor_->IdToPiece(static_cast<int>(id));
}

namespace {

class SentenceList : public sentencepiece::SentenceIterator {
public:
  explicit SentenceList(const std::vector<std::string> &sentences)
      : sentences_(sentences) {}
  bool done() const override { return next_ >= sentences_.size(); }
  void Next() override { ++next_; }
  const std::string &value() const override { return sentences_[next_]; }
  sentencepiece::util::Status status() const override { return {}; }

private:
  const std::vector<std::string> &sentences_;
  size_t next_ = 0;
};

} // namespace

std::string trainTokenizer(const std::vector<std::string> &sentences,
                           const TokenizerTrainingOptions &options) {
  if (sentences.empty())
    fail("cannot train a tokenizer on an empty corpus");
  std::string symbols;
  for (const std::string &symbol : options.userSymbols)
    symbols += (symbols.empty() ? "" : ",") + symbol;
  std::unordered_map<std::string, std::string> arguments = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(options.vocabSize)},
      {"pad_id", "0"},
      {"eos_id", "1"},
      {"bos_id", "2"},
      {"unk_id", "3"},
      {"user_defined_symbols", symbols},
      // Identity normalisation, as Gemma's tokenizer: NFKC would turn "\n"
      // into a space before the user symbol could match it.
      {"normalization_rule_name", "identity"},
      {"character_coverage", "1.0"},
      {"hard_vocab_limit", "false"},
      {"num_threads", "1"},
      {"minloglevel", "2"},
  };
  SentenceList list(sentences);
  std::string model;
  auto status =
      sentencepiece::SentencePieceTrainer::Train(arguments, &list, &model);
  if (!status.ok())
    fail("SentencePiece training failed: {}", status.ToString());
  return model;
}

} // namespace pgc
