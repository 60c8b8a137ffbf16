// An arena: one large device allocation handed out in aligned pieces, so the
// step's buffers cost no cuMemAlloc.
#pragma once

#include "runtime/cuda/Device.h"

#include <cstddef>
#include <map>
#include <optional>

namespace pgc::cuda {

/// The bookkeeping of an arena, independent of any device so that it can be
/// tested anywhere: first-fit over a free list kept sorted by offset, with
/// neighbouring free ranges merged on release.
class ArenaAllocator {
public:
  static constexpr size_t kMinimumAlignment = 256;
  explicit ArenaAllocator(size_t capacity,
                          size_t alignment = kMinimumAlignment);

  /// Offset of a new range of `bytes` (rounded up to the alignment), or
  /// nullopt when no free range is large enough.
  std::optional<size_t> allocate(size_t bytes);
  /// Returns a range from allocate(); throws pgc::Error for an unknown offset.
  void release(size_t offset);
  void releaseAll();

  size_t capacity() const { return capacity_; }
  size_t alignment() const { return alignment_; }
  size_t bytesInUse() const { return bytesInUse_; }
  size_t largestFreeRange() const;

private:
  size_t capacity_;
  size_t alignment_;
  size_t bytesInUse_ = 0;
  std::map<size_t, size_t> freeRanges_; // offset -> size
  std::map<size_t, size_t> usedRanges_; // offset -> size
};

/// An ArenaAllocator over one DeviceBuffer.
class DeviceArena {
public:
  DeviceArena(const Context &context, size_t capacity);
  /// Device address of `bytes` bytes; throws pgc::Error naming `what` and the
  /// sizes when the arena is full.
  api::CUdeviceptr allocate(size_t bytes, const char *what);
  void release(api::CUdeviceptr address);
  void releaseAll() { allocator_.releaseAll(); }
  const ArenaAllocator &allocator() const { return allocator_; }

private:
  DeviceBuffer buffer_;
  ArenaAllocator allocator_;
};

} // namespace pgc::cuda
