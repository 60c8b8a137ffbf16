// Greedy answer generation with the static-shape `forward` entry point, and
// the processor set-up that reads batch, sequence and image sizes from the
// artifact.
#pragma once

#include "models/paligemma/processor/HfProcessorFiles.h"
#include "models/paligemma/processor/PaliGemmaProcessor.h"
#include "runtime/data/ImageFolder.h"
#include "runtime/exec/Session.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pgc::train {

/// What a compiled PaliGemma step fixes: read from `forward`'s input shapes
/// and from the parameters (the position embedding has one row per image
/// token; embed_tokens one row per vocabulary entry).
struct ArtifactShapes {
  int64_t batch = 0;
  int64_t seqLen = 0; // image tokens included
  int64_t imageSize = 0;
  int64_t imageSeqLength = 0;
  int64_t vocabSize = 0;
};
/// Throws pgc::Error naming `what` when the plan is not a PaliGemma step.
ArtifactShapes readArtifactShapes(const Plan &plan, const std::string &what);

/// The tokenizer, the processor built for the artifact's shapes and the
/// dataset columns, from a tokenizer.model path or a folder holding one
/// (with the optional pgc_data.json that `pgc data synth-vqa` writes, or
/// its older name tokenizer.json: the <image> id, the prompt template and
/// the column names; runtime/data/DataSettings.h).
struct ModelIO {
  ArtifactShapes shapes;
  PaliGemmaProcessor processor;
  VqaColumns columns;
  std::string tokenizerModelPath;
  std::string settingsPath; ///< "" when the folder has none
};
ModelIO setUpModelIO(const Plan &plan, const std::string &artifactName,
                     const std::string &tokenizerPathOrDir);

/// What a model folder needs to tokenize and preprocess as `io` does, for
/// pgc and for transformers: tokenizer.model, pgc_data.json (the settings
/// `io` read, with the <image> id, special ids, prompt template and columns
/// in effect), and hfProcessorFiles (tokenizer_config.json,
/// special_tokens_map.json, preprocessor_config.json). Checkpoints and
/// exports write these.
std::vector<FolderFile> tokenizerFolderFiles(const ModelIO &io);

/// Where the tokenizer lives for a data folder: the folder itself, or its
/// parent (split folders such as DIR/train). Empty when neither has one.
std::string findTokenizerFor(const std::string &dataDir);

struct GenerationRequest {
  Tensor pixelValues; // F32 [3, S, S]
  std::string question;
};

/// Greedy decoding: each row holds the generation prompt (truncated as
/// training truncates, so that `maxNewTokens` fit after it; see
/// measureSequenceLengths), padded to the artifact's length; every round runs
/// `forward` on the whole batch, takes
/// the argmax of the logits at each row's last real position and appends
/// it (token type 1, attended), until <eos>, `maxNewTokens` or the end of
/// the row. Requests are processed `shapes.batch` at a time; unused rows of
/// the last batch repeat the first request. Returns the decoded answers.
std::vector<std::string>
generateAnswers(Session &session, const ModelIO &io,
                const std::vector<GenerationRequest> &requests,
                int64_t maxNewTokens);

} // namespace pgc::train
