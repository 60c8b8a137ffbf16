// Tensor shapes: row-major dimension lists, element counts and their printed form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgc {

using Shape = std::vector<int64_t>;

/// Number of elements of a shape (1 for rank 0). Throws pgc::Error on a
/// negative dimension or an element count that overflows int64.
int64_t numElements(const Shape &shape);
/// "[2, 3, 4]".
std::string formatShape(const Shape &shape);

} // namespace pgc
