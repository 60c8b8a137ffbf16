// The evaluation loop of `pgc run`: loss batches, then generation and scoring.
#include "runtime/train/EvaluationRun.h"

#include "runtime/data/Image.h"
#include "runtime/support/Error.h"

#include <cmath>
#include <fmt/format.h>

namespace pgc::train {

TensorMap modelInputs(const Batch &batch) {
  return {{"pixel_values", batch.pixelValues},
          {"input_ids", batch.inputIds},
          {"attention_mask", batch.attentionMask},
          {"token_type_ids", batch.tokenTypeIds},
          {"labels", batch.labels}};
}

namespace {

// Untrained models answer with newlines and the like: keep the log one line
// per sample.
std::string printable(const std::string &text) {
  std::string out;
  for (char c : text) {
    if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out;
}

} // namespace

EvalResult evaluateVqa(Session &session, const ModelIO &io,
                       const VqaDataset &validation, int64_t maxSamples,
                       int64_t maxNewTokens) {
  EvalResult result;
  size_t count = validation.size();
  if (maxSamples > 0)
    count = std::min(count, static_cast<size_t>(maxSamples));
  const size_t B = static_cast<size_t>(io.shapes.batch);
  double lossSum = 0;
  size_t batches = 0;
  for (size_t first = 0; first + B <= count; first += B) {
    std::vector<const VqaExample *> rows;
    for (size_t i = first; i < first + B; ++i)
      rows.push_back(&validation[i]);
    Batch batch = io.processor.collate(rows);
    lossSum += session.run("forward", modelInputs(batch)).at("loss").at(0);
    ++batches;
  }
  result.loss = batches ? lossSum / static_cast<double>(batches) : NAN;

  std::vector<GenerationRequest> requests;
  for (size_t i = 0; i < count; ++i) {
    const VqaExample &example = validation[i];
    RgbImage image;
    try {
      image = decodeImageFile(example.imagePath);
    } catch (const Error &e) {
      fail("{}: {}", example.source, e.what());
    }
    requests.push_back({io.processor.pixelValues(image), example.question});
  }
  std::vector<std::string> answers =
      generateAnswers(session, io, requests, maxNewTokens);
  for (size_t i = 0; i < count; ++i) {
    const VqaExample &example = validation[i];
    result.tally.add(answers[i], example.answer, example.answers);
    result.predictions.push_back(answers[i]);
    if (result.samples.size() < 3)
      result.samples.push_back(
          fmt::format("{} -> '{}' (reference '{}')", example.question,
                      printable(answers[i]), example.answer));
  }
  return result;
}

nlohmann::json evalRecord(const EvalResult &eval) {
  nlohmann::json record = {{"eval_loss", eval.loss},
                           {"eval_accuracy", eval.tally.exactMatch()},
                           {"eval_samples", eval.tally.examples}};
  if (eval.tally.withAnswers) {
    record["eval_vqa_accuracy"] = eval.tally.vqaAccuracy();
    record["eval_vqa_samples"] = eval.tally.withAnswers;
  }
  return record;
}

std::string evalSummary(const EvalResult &eval) {
  std::string vqa;
  if (eval.tally.withAnswers)
    vqa = fmt::format("  vqa_accuracy {:.4f} (over the {} with >= {} "
                      "answers)",
                      eval.tally.vqaAccuracy(), eval.tally.withAnswers,
                      kMinVqaAnswers);
  return fmt::format("loss {:.4f}  accuracy {:.4f}{}  ({} examples)", eval.loss,
                     eval.tally.exactMatch(), vqa, eval.tally.examples);
}

std::string predictionsJsonl(const EvalResult &eval,
                             const VqaDataset &validation) {
  std::string lines;
  for (size_t i = 0; i < eval.predictions.size(); ++i)
    lines += nlohmann::json{{"index", i},
                            {"question", validation[i].question},
                            {"prediction", eval.predictions[i]},
                            {"answer", validation[i].answer}}
                 .dump() +
             "\n";
  return lines;
}

} // namespace pgc::train
