// `pgc quantize`: bitsandbytes NF4 quantization of every tensor of a
// safetensors file, with error statistics.
#include "tools/pgc/Commands.h"

#include "runtime/quant/DynamicMap.h"
#include "runtime/quant/Nf4.h"
#include "runtime/support/Error.h"
#include "runtime/weights/Safetensors.h"

#include <cmath>
#include <fmt/format.h>

namespace pgc::cli {
namespace {

struct QuantizeOptions {
  std::string input;
  std::string output;
  int64_t block = 64;
  bool doubleQuant = false;
  bool dequant = false;
};

struct ErrorStats {
  double maxAbs = 0, sumSquares = 0, sumSquaresRef = 0;
  int64_t count = 0;
};

int runQuantize(const QuantizeOptions &options) {
  SafetensorsFile file = SafetensorsFile::open(options.input);
  std::vector<std::pair<std::string, Tensor>> outputs;
  quant::Nf4Options nf4;
  nf4.blockSize = options.block;
  nf4.doubleQuant = options.doubleQuant;
  if (file.tensors().empty())
    fail("{}: no tensors to quantize", options.input);
  for (const TensorInfo &info : file.tensors()) {
    if (!info.loadable || !isFloat(info.dtype))
      fail("{}: tensor '{}' is {}, not a float tensor", options.input,
           info.name, info.storedDType);
    if (numElements(info.shape) == 0)
      fail("{}: tensor '{}' is empty", options.input, info.name);
    Tensor source = file.tensor(info.name);
    // bitsandbytes quantizes f32 and bf16 as they are; f16/f64 go via f32.
    if (source.dtype() != DType::F32 && source.dtype() != DType::BF16)
      source = source.to(DType::F32);
    quant::Nf4Weight weight = quant::quantizeNf4(source, nf4, info.name);
    int64_t count = weight.numel();
    outputs.emplace_back(info.name + ".nf4", weight.packed.clone());
    if (weight.doubleQuant) {
      outputs.emplace_back(info.name + ".qabsmax", weight.absmaxCodes.clone());
      outputs.emplace_back(info.name + ".absmax2", weight.absmaxScales.clone());
      Tensor offset(DType::F32, {});
      offset.data<float>()[0] = weight.absmaxOffset;
      outputs.emplace_back(info.name + ".offset", offset);
    } else {
      outputs.emplace_back(info.name + ".absmax", weight.absmax.clone());
    }
    Tensor restored = quant::dequantizeNf4(weight, DType::F32);
    ErrorStats stats;
    for (int64_t i = 0; i < count; ++i) {
      double ref = source.at(i), got = restored.data<float>()[i];
      stats.maxAbs = std::max(stats.maxAbs, std::fabs(got - ref));
      stats.sumSquares += (got - ref) * (got - ref);
      stats.sumSquaresRef += ref * ref;
    }
    double rmse = std::sqrt(stats.sumSquares / count);
    double relative = stats.sumSquaresRef > 0
                          ? std::sqrt(stats.sumSquares / stats.sumSquaresRef)
                          : 0.0;
    fmt::print("{} {} {}: {} blocks, max |err| {:.6g}, rmse {:.6g}, relative "
               "rms {:.4f}\n",
               info.name, info.storedDType, formatShape(info.shape),
               weight.numBlocks(), stats.maxAbs, rmse, relative);
    if (options.dequant)
      outputs.emplace_back(info.name, restored);
  }
  std::map<std::string, std::string> metadata = {
      {"format", "pgc-nf4"},
      {"block_size", std::to_string(options.block)},
      {"double_quant", options.doubleQuant ? "true" : "false"}};
  writeSafetensors(options.output, outputs, metadata);
  fmt::print("wrote {}: {} tensors from {}\n", options.output, outputs.size(),
             file.tensors().size());
  return 0;
}

CommandAction registerQuantize(CLI::App &app) {
  auto options = std::make_shared<QuantizeOptions>();
  CLI::App *sub = app.add_subcommand(
      "quantize", "NF4-quantize every tensor of a safetensors file as "
                  "bitsandbytes does (packed codes + absmax per block)");
  sub->add_option("input", options->input, "Input .safetensors")->required();
  sub->add_option("-o,--output", options->output, "Output .safetensors")
      ->required();
  sub->add_option("--block", options->block,
                  "Block size (a power of two in [32, 4096])")
      ->capture_default_str();
  sub->add_flag("--double-quant", options->doubleQuant,
                "Quantize the absmax values to 8 bits in blocks of 256");
  sub->add_flag("--dequant", options->dequant,
                "Also write each tensor dequantized (f32, original shape)");
  return [sub, options]() -> int {
    if (!sub->parsed())
      return 1;
    if (options->block < 32 || options->block > 4096 ||
        (options->block & (options->block - 1)))
      fail("--block {} must be a power of two in [32, 4096]", options->block);
    if (options->output == options->input)
      fail("-o {}: must differ from the input", options->output);
    return runQuantize(*options);
  };
}

CommandRegistration registration(45, registerQuantize);

} // namespace
} // namespace pgc::cli
