// The tokenizer and image-processor settings files that transformers'
// PaliGemmaProcessor.from_pretrained reads next to tokenizer.model, written
// from pgc's processor so that an exported or checkpoint folder loads in HF.
#pragma once

#include "models/paligemma/processor/PaliGemmaProcessor.h"
#include "runtime/support/FileUtil.h"

#include <string>
#include <vector>

namespace pgc {

/// tokenizer_config.json (GemmaTokenizer, <bos> added and <eos> not, the
/// special tokens and <image> at the processor's id in added_tokens_decoder,
/// processor_class PaliGemmaProcessor), special_tokens_map.json and
/// preprocessor_config.json (SiglipImageProcessor: the processor's image
/// size, bicubic resampling, 1/255 rescale, mean and std 0.5, and the image
/// sequence length). Never a tokenizer.json: in an HF folder that name is a
/// `tokenizers` fast-tokenizer file, which transformers builds itself from
/// tokenizer.model.
std::vector<FolderFile> hfProcessorFiles(const PaliGemmaProcessor &processor);

/// The names hfProcessorFiles writes, in its order.
std::vector<std::string> hfProcessorFileNames();

} // namespace pgc
