// First-fit arena bookkeeping and its device-memory wrapper.
#include "runtime/cuda/Arena.h"

#include "runtime/support/Error.h"

namespace pgc::cuda {

ArenaAllocator::ArenaAllocator(size_t capacity, size_t alignment)
    : capacity_(capacity), alignment_(alignment) {
  if (alignment < kMinimumAlignment || (alignment & (alignment - 1)) != 0)
    fail("arena alignment {}: must be a power of two of at least {}", alignment,
         kMinimumAlignment);
  capacity_ -= capacity_ % alignment_;
  releaseAll();
}

std::optional<size_t> ArenaAllocator::allocate(size_t bytes) {
  size_t rounded = (bytes + alignment_ - 1) / alignment_ * alignment_;
  if (rounded == 0)
    rounded = alignment_;
  for (auto it = freeRanges_.begin(); it != freeRanges_.end(); ++it) {
    if (it->second < rounded)
      continue;
    size_t offset = it->first;
    size_t remaining = it->second - rounded;
    freeRanges_.erase(it);
    if (remaining > 0)
      freeRanges_.emplace(offset + rounded, remaining);
    usedRanges_.emplace(offset, rounded);
    bytesInUse_ += rounded;
    return offset;
  }
  return std::nullopt;
}

void ArenaAllocator::release(size_t offset) {
  auto used = usedRanges_.find(offset);
  if (used == usedRanges_.end())
    fail("arena: release of offset {} that was not allocated", offset);
  size_t size = used->second;
  usedRanges_.erase(used);
  bytesInUse_ -= size;
  auto next = freeRanges_.lower_bound(offset);
  if (next != freeRanges_.end() && offset + size == next->first) {
    size += next->second;
    next = freeRanges_.erase(next);
  }
  if (next != freeRanges_.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == offset) {
      previous->second += size;
      return;
    }
  }
  freeRanges_.emplace(offset, size);
}

void ArenaAllocator::releaseAll() {
  usedRanges_.clear();
  freeRanges_.clear();
  bytesInUse_ = 0;
  if (capacity_ > 0)
    freeRanges_.emplace(0, capacity_);
}

size_t ArenaAllocator::largestFreeRange() const {
  size_t largest = 0;
  for (const auto &[offset, size] : freeRanges_)
    largest = std::max(largest, size);
  return largest;
}

DeviceArena::DeviceArena(const Context &context, size_t capacity)
    : buffer_(context, capacity), allocator_(capacity) {
  if (buffer_.address() % ArenaAllocator::kMinimumAlignment != 0)
    fail("device arena: cuMemAlloc returned an address aligned to less than "
         "{} bytes",
         ArenaAllocator::kMinimumAlignment);
}

api::CUdeviceptr DeviceArena::allocate(size_t bytes, const char *what) {
  std::optional<size_t> offset = allocator_.allocate(bytes);
  if (!offset)
    fail("{}: device arena cannot fit {} bytes ({} of {} in use, largest free "
         "range {})",
         what, bytes, allocator_.bytesInUse(), allocator_.capacity(),
         allocator_.largestFreeRange());
  return buffer_.address() + *offset;
}

void DeviceArena::release(api::CUdeviceptr address) {
  if (address < buffer_.address())
    fail("device arena: release of address {:#x} outside the arena", address);
  allocator_.release(address - buffer_.address());
}

} // namespace pgc::cuda
