// The byte layout of an NF4 parameter buffer in a plan, and packing a quantized
// weight into it and out again.
#pragma once

#include "runtime/quant/Nf4.h"
#include "runtime/support/Tensor.h"

#include <cstdint>
#include <string_view>

namespace pgc {

/// An NF4 parameter lives in one U8 buffer of shape [bytes], little-endian:
///
///   [0, P)              packed codes, P = (numel + 1) / 2; element 2j in the
///                       high nibble of byte j (bitsandbytes' layout)
///   [P, A)              zero padding to A = P rounded up to 4, so that the
///                       floats below are aligned
///   without double quantization:
///   [A, A + 4 nb)       absmax, f32, one per block of the flattened weight
///   with double quantization (nb2 = ceil(nb / 256)):
///   [A, A + 4 nb2)      absmax2, f32, one scale per 256 blocks
///   [.., + 4)           offset, f32, the mean that was subtracted
///   [.., + nb)          qabsmax, u8 indices into the signed dynamic map
///
/// nb = ceil(numel / blockSize): blocks run over the flattened weight, so a
/// row length that is not a multiple of the block size needs nothing special.
struct Nf4Layout {
  int64_t numel = 0;
  int64_t blockSize = 64;
  bool doubleQuant = true;

  int64_t packedBytes() const { return (numel + 1) / 2; }
  int64_t numBlocks() const { return (numel + blockSize - 1) / blockSize; }
  int64_t numBlocks2() const {
    return (numBlocks() + quant::kNf4AbsmaxBlockSize - 1) /
           quant::kNf4AbsmaxBlockSize;
  }
  int64_t statsOffset() const { return (packedBytes() + 3) / 4 * 4; }
  int64_t totalBytes() const {
    return doubleQuant ? statsOffset() + 4 * numBlocks2() + 4 + numBlocks()
                       : statsOffset() + 4 * numBlocks();
  }
};

/// Writes `weight` (quantized with the layout's block size and double
/// quantization) into `buffer`, a U8 tensor of layout.totalBytes() bytes.
void packNf4(const quant::Nf4Weight &weight, Tensor &buffer,
             std::string_view name);

/// A view of `buffer` as an Nf4Weight of logical shape `shape`; the tensors
/// borrow the buffer's bytes, so `buffer` must outlive the result.
quant::Nf4Weight viewNf4(const Tensor &buffer, const Shape &shape,
                         int64_t blockSize, bool doubleQuant,
                         std::string_view name);

} // namespace pgc
