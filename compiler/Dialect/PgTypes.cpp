// The !pg.nf4 storage type: parsing, printing and its block-size rules.
#include "compiler/Dialect/Pg.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::pg;

#define GET_TYPEDEF_CLASSES
#include "compiler/Dialect/PgTypes.cpp.inc"

void PgDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "compiler/Dialect/PgTypes.cpp.inc"
      >();
}

int64_t NF4Type::getNumElements() const {
  int64_t count = 1;
  for (int64_t d : getShape())
    count *= d;
  return count;
}

LogicalResult NF4Type::verify(function_ref<InFlightDiagnostic()> emitError,
                              ArrayRef<int64_t> shape, int64_t blockSize,
                              bool doubleQuant) {
  if (shape.empty())
    return emitError() << "nf4 weight must have rank >= 1";
  for (int64_t d : shape)
    if (d <= 0)
      return emitError() << "nf4 weight dimensions must be positive";
  // bitsandbytes accepts power-of-two blocks from 32 to 4096.
  if (blockSize < 32 || blockSize > 4096 || (blockSize & (blockSize - 1)))
    return emitError() << "nf4 block size must be a power of two in [32, "
                          "4096], got "
                       << blockSize;
  return success();
}

// !pg.nf4<128x64, block = 64, double_quant>
Type NF4Type::parse(AsmParser &parser) {
  SmallVector<int64_t> shape;
  int64_t blockSize = 0;
  bool doubleQuant = false;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/false) ||
      parser.parseComma() || parser.parseKeyword("block") ||
      parser.parseEqual() || parser.parseInteger(blockSize))
    return {};
  if (succeeded(parser.parseOptionalComma())) {
    if (parser.parseKeyword("double_quant"))
      return {};
    doubleQuant = true;
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(parser.getNameLoc()); },
                    parser.getContext(), shape, blockSize, doubleQuant);
}

void NF4Type::print(AsmPrinter &printer) const {
  printer << "<";
  llvm::interleave(getShape(), printer, "x");
  printer << ", block = " << getBlockSize();
  if (getDoubleQuant())
    printer << ", double_quant";
  printer << ">";
}
