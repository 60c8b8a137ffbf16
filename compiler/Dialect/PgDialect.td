// The pg dialect: tensors, the NF4 storage type and the op base class.
#ifndef PGC_DIALECT_PG_DIALECT_TD
#define PGC_DIALECT_PG_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Pg_Dialect : Dialect {
  let name = "pg";
  let cppNamespace = "::mlir::pg";
  let summary = "Tensor ops for training PaliGemma-class models";
  let description = [{
    The pg dialect describes a model's forward pass and, after the training
    passes, its backward pass and optimizer update. Values are statically
    shaped ranked tensors of bf16, f16, f32, f64, i32, i64 or i1; quantized
    frozen weights use the `!pg.nf4` storage type. Parameters are `pg.param`
    ops that carry the Hugging Face checkpoint name.
  }];
  let useDefaultTypePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerTypes();
  }];
}

class Pg_Op<string mnemonic, list<Trait> traits = []>
    : Op<Pg_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

def Pg_NF4Type : TypeDef<Pg_Dialect, "NF4"> {
  let mnemonic = "nf4";
  let summary = "bitsandbytes NF4 storage of a frozen weight";
  let description = [{
    A weight of logical shape `shape`, stored as 4-bit NF4 codes (two per
    byte, first element in the high nibble) with one absmax per block of
    `blockSize` elements of the row-major flattened weight. With
    `double_quant`, the absmax values minus their mean are themselves
    quantized to 8 bits in blocks of 256 (bitsandbytes' nested statistics).

    Example: `!pg.nf4<2048x2048, block = 64, double_quant>`
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$shape,
                        "int64_t":$blockSize, "bool":$doubleQuant);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumElements() const;
    /// Bytes of packed codes: two 4-bit codes per byte.
    int64_t getPackedBytes() const { return (getNumElements() + 1) / 2; }
    int64_t getNumBlocks() const {
      return (getNumElements() + getBlockSize() - 1) / getBlockSize();
    }
  }];
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Pg_FloatElement : AnyTypeOf<[BF16, F16, F32, F64]>;
def Pg_IntElement : AnyTypeOf<[I32, I64]>;

def Pg_FloatTensor : StaticShapeTensorOf<[BF16, F16, F32, F64]>;
def Pg_IntTensor : StaticShapeTensorOf<[I32, I64]>;
def Pg_BoolTensor : StaticShapeTensorOf<[I1]>;
def Pg_NumericTensor : StaticShapeTensorOf<[BF16, F16, F32, F64, I32, I64]>;
def Pg_Tensor : StaticShapeTensorOf<[BF16, F16, F32, F64, I32, I64, I1]>;
def Pg_MaskTensor : StaticShapeTensorOf<[BF16, F16, F32, F64, I1]>;
def Pg_ParamType : AnyTypeOf<[Pg_FloatTensor, Pg_NF4Type]>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Pg_CmpEq : I32EnumAttrCase<"eq", 0>;
def Pg_CmpNe : I32EnumAttrCase<"ne", 1>;
def Pg_CmpLt : I32EnumAttrCase<"lt", 2>;
def Pg_CmpLe : I32EnumAttrCase<"le", 3>;
def Pg_CmpGt : I32EnumAttrCase<"gt", 4>;
def Pg_CmpGe : I32EnumAttrCase<"ge", 5>;
def Pg_ComparePredicate : I32EnumAttr<"ComparePredicate",
    "elementwise comparison predicate",
    [Pg_CmpEq, Pg_CmpNe, Pg_CmpLt, Pg_CmpLe, Pg_CmpGt, Pg_CmpGe]> {
  let cppNamespace = "::mlir::pg";
}

#endif // PGC_DIALECT_PG_DIALECT_TD
