// Greedy generation over `forward` and the artifact-driven processor set-up.
#include "runtime/train/Generation.h"

#include "runtime/data/DataSettings.h"
#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace pgc::train {

namespace {

constexpr const char *kPositionEmbedding =
    "vision_tower.vision_model.embeddings.position_embedding.weight";
constexpr const char *kEmbedTokens = "language_model.model.embed_tokens.weight";

const Shape &inputShape(const Plan &plan, const PlanEntryPoint &entry,
                        const std::string &name, const std::string &what) {
  for (size_t i = 0; i < entry.inputNames.size(); ++i)
    if (entry.inputNames[i] == name)
      return plan.buffers[entry.inputs[i]].shape;
  fail("{}: entry point 'forward' has no input '{}': not a PaliGemma step",
       what, name);
}

const Shape &parameterShape(const Plan &plan, const char *name,
                            const std::string &what) {
  const PlanParameter *param = plan.findParameter(name);
  if (!param)
    fail("{}: no parameter '{}': not a PaliGemma step", what, name);
  return param->nf4 ? param->nf4->shape : plan.buffers[param->buffer].shape;
}

} // namespace

ArtifactShapes readArtifactShapes(const Plan &plan, const std::string &what) {
  const PlanEntryPoint *forward = plan.findEntryPoint("forward");
  if (!forward)
    fail("{}: no 'forward' entry point", what);
  const Shape &ids = inputShape(plan, *forward, "input_ids", what);
  const Shape &pixels = inputShape(plan, *forward, "pixel_values", what);
  if (ids.size() != 2 || pixels.size() != 4 || pixels[2] != pixels[3])
    fail("{}: input_ids must be [B, L] and pixel_values [B, 3, S, S]", what);
  ArtifactShapes shapes;
  shapes.batch = ids[0];
  shapes.seqLen = ids[1];
  shapes.imageSize = pixels[2];
  shapes.imageSeqLength = parameterShape(plan, kPositionEmbedding, what)[0];
  shapes.vocabSize = parameterShape(plan, kEmbedTokens, what)[0];
  return shapes;
}

std::string findTokenizerFor(const std::string &dataDir) {
  for (fs::path dir : {fs::path(dataDir), fs::path(dataDir).parent_path()})
    if (!dir.empty() && fs::is_regular_file(dir / "tokenizer.model"))
      return dir.string();
  return {};
}

ModelIO setUpModelIO(const Plan &plan, const std::string &artifactName,
                     const std::string &tokenizerPathOrDir) {
  ArtifactShapes shapes = readArtifactShapes(plan, artifactName);
  fs::path modelPath = tokenizerPathOrDir;
  if (fs::is_directory(modelPath))
    modelPath /= "tokenizer.model";
  Tokenizer tokenizer = Tokenizer::load(modelPath.string());

  PaliGemmaProcessorConfig config;
  config.imageSeqLength = shapes.imageSeqLength;
  config.imageSize = static_cast<int>(shapes.imageSize);
  config.maxLength = shapes.seqLen;
  config.imageTokenId = tokenizer.vocabSize();
  VqaColumns columns;
  fs::path jsonPath = findDataSettings(modelPath.parent_path().string());
  if (!jsonPath.empty()) {
    DataSettings settings = readDataSettings(jsonPath.string());
    config.imageTokenId = settings.imageTokenId.value_or(config.imageTokenId);
    config.promptTemplate =
        settings.promptTemplate.value_or(config.promptTemplate);
    columns.question = settings.questionColumn.value_or(columns.question);
    columns.answer = settings.answerColumn.value_or(columns.answer);
    // A set that names its answers column promises it on every row.
    if (settings.answersColumn) {
      columns.answers = *settings.answersColumn;
      columns.answersRequired = true;
    }
  }
  if (config.imageTokenId >= shapes.vocabSize ||
      tokenizer.vocabSize() > shapes.vocabSize)
    fail("{}: tokenizer {} has {} pieces and <image> id {}, but the model's "
         "vocabulary has {} entries",
         artifactName, modelPath.string(), tokenizer.vocabSize(),
         config.imageTokenId, shapes.vocabSize);
  return {shapes, PaliGemmaProcessor(std::move(tokenizer), config), columns,
          modelPath.string(), jsonPath.string()};
}

std::vector<FolderFile> tokenizerFolderFiles(const ModelIO &io) {
  auto copied = [](const std::string &path, const char *name) {
    std::vector<char> bytes = readFile(path);
    return FolderFile{name, std::string(bytes.data(), bytes.size())};
  };
  std::vector<FolderFile> files = {
      copied(io.tokenizerModelPath, "tokenizer.model")};
  // The settings the run used, so that the folder alone prompts and scores
  // as it did: what the settings file said (its other keys kept, and read
  // from tokenizer.json in an older folder) with the values in effect.
  nlohmann::ordered_json settings = nlohmann::ordered_json::object();
  if (!io.settingsPath.empty()) {
    std::vector<char> bytes = readFile(io.settingsPath);
    settings = nlohmann::ordered_json::parse(bytes.begin(), bytes.end());
  }
  const Tokenizer &tokenizer = io.processor.tokenizer();
  const PaliGemmaProcessorConfig &config = io.processor.config();
  settings["image_token_id"] = config.imageTokenId;
  settings["pad_token_id"] = tokenizer.padId();
  settings["eos_token_id"] = tokenizer.eosId();
  settings["bos_token_id"] = tokenizer.bosId();
  settings["unk_token_id"] = tokenizer.unkId();
  settings["prompt_template"] = config.promptTemplate;
  settings["question_column"] = io.columns.question;
  settings["answer_column"] = io.columns.answer;
  if (io.columns.answersRequired)
    settings["answers_column"] = io.columns.answers;
  files.push_back({kDataSettingsFile, settings.dump(2) + "\n"});
  for (FolderFile &file : hfProcessorFiles(io.processor))
    files.push_back(std::move(file));
  return files;
}

std::vector<std::string>
generateAnswers(Session &session, const ModelIO &io,
                const std::vector<GenerationRequest> &requests,
                int64_t maxNewTokens) {
  const ArtifactShapes &shapes = io.shapes;
  const TokenLayout &layout = io.processor.layout();
  const int64_t B = shapes.batch, L = shapes.seqLen;
  const int64_t pixelCount = 3 * shapes.imageSize * shapes.imageSize;
  std::vector<std::string> answers;
  for (size_t first = 0; first < requests.size(); first += B) {
    TensorMap inputs = {
        {"pixel_values",
         Tensor(DType::F32, {B, 3, shapes.imageSize, shapes.imageSize})},
        {"input_ids", Tensor(DType::I64, {B, L})},
        {"attention_mask", Tensor(DType::I64, {B, L})},
        {"token_type_ids", Tensor(DType::I64, {B, L})},
        {"labels", Tensor(DType::I64, {B, L})},
    };
    int64_t *ids = inputs["input_ids"].data<int64_t>();
    int64_t *mask = inputs["attention_mask"].data<int64_t>();
    int64_t *types = inputs["token_type_ids"].data<int64_t>();
    std::fill_n(ids, B * L, layout.padId);
    std::fill_n(mask, B * L, 0);
    std::fill_n(types, B * L, layout.padTokenTypeId);
    std::fill_n(inputs["labels"].data<int64_t>(), B * L, -100);
    std::vector<int64_t> length(B);
    std::vector<std::vector<int64_t>> generated(B);
    std::vector<bool> done(B, false);
    for (int64_t b = 0; b < B; ++b) {
      size_t index = first + b < requests.size() ? first + b : first;
      const GenerationRequest &request = requests[index];
      if (request.pixelValues.numel() != pixelCount)
        fail("generation: the image of request {} has {} values, expected "
             "3 x {} x {}",
             index, request.pixelValues.numel(), shapes.imageSize,
             shapes.imageSize);
      std::memcpy(inputs["pixel_values"].data<float>() + b * pixelCount,
                  request.pixelValues.to(DType::F32).data<float>(),
                  pixelCount * sizeof(float));
      // Cut as training cuts, leaving maxNewTokens of room: a prompt the
      // training loop accepted never stops an evaluation.
      EncodedText prompt = io.processor.encodePrompt(
          request.question, "request " + std::to_string(index), maxNewTokens);
      length[b] = static_cast<int64_t>(prompt.inputIds.size());
      for (int64_t t = 0; t < length[b]; ++t) {
        ids[b * L + t] = prompt.inputIds[t];
        mask[b * L + t] = 1;
        types[b * L + t] = prompt.tokenTypeIds[t];
      }
      done[b] = first + b >= requests.size();
    }
    while (!std::all_of(done.begin(), done.end(), [](bool d) { return d; })) {
      Tensor logits = session.run("forward", inputs).at("logits");
      if (logits.dtype() != DType::F32)
        logits = logits.to(DType::F32);
      const int64_t V = logits.dim(-1);
      // Only ids the tokenizer can decode compete: the rows past its pieces
      // (<image>, the padding of the embedding table) are never answers.
      const int64_t pieces = std::min(V, io.processor.tokenizer().vocabSize());
      for (int64_t b = 0; b < B; ++b) {
        if (done[b])
          continue;
        const float *row = logits.data<float>() + (b * L + length[b] - 1) * V;
        int64_t token = std::max_element(row, row + pieces) - row;
        if (token == layout.eosId) {
          done[b] = true;
          continue;
        }
        generated[b].push_back(token);
        ids[b * L + length[b]] = token;
        mask[b * L + length[b]] = 1;
        types[b * L + length[b]] = 1;
        ++length[b];
        done[b] = length[b] >= L ||
                  static_cast<int64_t>(generated[b].size()) >= maxNewTokens;
      }
    }
    for (int64_t b = 0; b < B && first + b < requests.size(); ++b)
      answers.push_back(io.processor.tokenizer().decode(generated[b]));
  }
  return answers;
}

} // namespace pgc::train
