// Packing bitsandbytes NF4 weights into plan buffers and viewing them back, in
// the layout Nf4Storage.h documents.
#include "runtime/exec/Nf4Storage.h"

#include "runtime/support/Error.h"

#include <cstring>

namespace pgc {

namespace {

Nf4Layout layoutOf(const Shape &shape, int64_t blockSize, bool doubleQuant) {
  return Nf4Layout{numElements(shape), blockSize, doubleQuant};
}

void checkBuffer(const Tensor &buffer, const Nf4Layout &layout,
                 std::string_view name) {
  if (buffer.dtype() != DType::U8 || buffer.rank() != 1 ||
      buffer.numel() != layout.totalBytes())
    fail("{}: an nf4 buffer of {} elements (block {}{}) is u8 [{}], got {} {}",
         name, layout.numel, layout.blockSize,
         layout.doubleQuant ? ", double quant" : "", layout.totalBytes(),
         dtypeName(buffer.dtype()), formatShape(buffer.shape()));
}

} // namespace

void packNf4(const quant::Nf4Weight &weight, Tensor &buffer,
             std::string_view name) {
  weight.validate(name);
  Nf4Layout layout =
      layoutOf(weight.shape, weight.blockSize, weight.doubleQuant);
  checkBuffer(buffer, layout, name);
  uint8_t *bytes = buffer.data<uint8_t>();
  std::memset(bytes, 0, buffer.byteSize());
  std::memcpy(bytes, weight.packed.raw(), weight.packed.byteSize());
  uint8_t *stats = bytes + layout.statsOffset();
  if (!weight.doubleQuant) {
    std::memcpy(stats, weight.absmax.raw(), weight.absmax.byteSize());
    return;
  }
  std::memcpy(stats, weight.absmaxScales.raw(), weight.absmaxScales.byteSize());
  stats += weight.absmaxScales.byteSize();
  std::memcpy(stats, &weight.absmaxOffset, 4);
  stats += 4;
  std::memcpy(stats, weight.absmaxCodes.raw(), weight.absmaxCodes.byteSize());
}

quant::Nf4Weight viewNf4(const Tensor &buffer, const Shape &shape,
                         int64_t blockSize, bool doubleQuant,
                         std::string_view name) {
  Nf4Layout layout = layoutOf(shape, blockSize, doubleQuant);
  checkBuffer(buffer, layout, name);
  // Borrowed views never write: the const_cast only satisfies Tensor::borrow.
  auto *bytes = const_cast<uint8_t *>(buffer.data<uint8_t>());
  quant::Nf4Weight weight;
  weight.shape = shape;
  weight.blockSize = blockSize;
  weight.doubleQuant = doubleQuant;
  weight.packed =
      Tensor::borrow(DType::U8, {layout.packedBytes()}, bytes, nullptr);
  uint8_t *stats = bytes + layout.statsOffset();
  if (!doubleQuant) {
    weight.absmax =
        Tensor::borrow(DType::F32, {layout.numBlocks()}, stats, nullptr);
  } else {
    weight.absmaxScales =
        Tensor::borrow(DType::F32, {layout.numBlocks2()}, stats, nullptr);
    stats += 4 * layout.numBlocks2();
    std::memcpy(&weight.absmaxOffset, stats, 4);
    stats += 4;
    weight.absmaxCodes =
        Tensor::borrow(DType::U8, {layout.numBlocks()}, stats, nullptr);
  }
  weight.validate(name);
  return weight;
}

} // namespace pgc
