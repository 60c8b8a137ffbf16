// The emitted kernel's text: signature (parameter order and types), splat
// literals, outputs, and the errors that name the step at fault.
#include "KernelCases.h"

#include "runtime/exec/Session.h"
#include "runtime/support/CounterRng.h"
#include "runtime/support/Error.h"

#include <cstring>
#include <fmt/format.h>
#include <gtest/gtest.h>

namespace pgc::codegen::testing {
namespace {

std::string errorOf(const Plan &plan, const ElementwiseGroup &group) {
  try {
    emitElementwiseKernel(plan, group);
  } catch (const Error &e) {
    return e.what();
  }
  return "(no error)";
}

std::string signatureOf(const std::string &source) {
  size_t begin = source.find("extern \"C\" __global__ void");
  size_t end = source.find(')', begin);
  return source.substr(begin, end + 1 - begin);
}

TEST(CudaElementwise, FusibleOpsAreTheElementwiseSet) {
  for (const char *op :
       {"add", "sub", "mul", "div", "max", "min", "neg", "exp", "log", "sqrt",
        "rsqrt", "tanh", "gelu_tanh", "gelu_tanh_grad", "compare", "select",
        "cast", "dropout", "broadcast"})
    EXPECT_TRUE(isFusibleElementwise(op)) << op;
  for (const char *op :
       {"matmul", "reduce_sum", "copy", "softmax", "iota", "pg.add", ""})
    EXPECT_FALSE(isFusibleElementwise(op)) << op;
}

TEST(CudaElementwise, SignatureListsInputsThenOutputsThenCount) {
  CaseBuilder b("k", 10);
  uint32_t x = b.input(DType::BF16), y = b.input(DType::F32);
  uint32_t xf = b.step("cast", {x}, DType::F32);
  uint32_t s = b.step("add", {y, xf}, DType::F32);
  uint32_t h = b.step("cast", {s}, DType::F16);
  b.output(h);
  b.output(s);
  KernelCase c = b.finish();
  // y is read first, so it is the first input.
  ASSERT_EQ(c.group.inputs, (std::vector<uint32_t>{x, y}));
  std::string source = emitElementwiseKernel(c.plan, c.group);
  EXPECT_EQ(signatureOf(source),
            "extern \"C\" __global__ void k(const __nv_bfloat16 *in0, const "
            "float *in1, __half *out0, float *out1, long long count)");
  EXPECT_EQ(kernelArguments(c.plan, c.group),
            (std::vector<uint32_t>{x, y, h, s}));
  EXPECT_NE(source.find("#include <cuda_bf16.h>"), std::string::npos);
  EXPECT_NE(source.find("#include <cuda_fp16.h>"), std::string::npos);
  // Both outputs are stored, in order, each once.
  EXPECT_NE(source.find("out0[i] = __float2half_rn("), std::string::npos);
  EXPECT_NE(source.find("out1[i] = "), std::string::npos);
}

TEST(CudaElementwise, EachDTypeHasItsStorageType) {
  struct Expected {
    DType dtype;
    const char *type;
  };
  for (Expected e :
       {Expected{DType::BF16, "__nv_bfloat16"}, Expected{DType::F16, "__half"},
        Expected{DType::F32, "float"}, Expected{DType::F64, "double"},
        Expected{DType::I32, "int"}, Expected{DType::I64, "long long"},
        Expected{DType::U8, "unsigned char"},
        Expected{DType::Bool, "unsigned char"}}) {
    CaseBuilder b("k", 4);
    uint32_t x = b.input(e.dtype), y = b.input(e.dtype);
    b.step("max", {x, y}, e.dtype);
    KernelCase c = b.finish();
    EXPECT_EQ(signatureOf(emitElementwiseKernel(c.plan, c.group)),
              fmt::format("extern \"C\" __global__ void k(const {0} *in0, "
                          "const {0} *in1, {0} *out0, long long count)",
                          e.type))
        << dtypeName(e.dtype);
  }
}

TEST(CudaElementwise, SplatConstantsBecomeLiteralsNotParameters) {
  CaseBuilder b("k", 8);
  uint32_t x = b.input(DType::F32);
  uint32_t one = b.splat(DType::BF16, 1.5);
  uint32_t xb = b.step("cast", {x}, DType::BF16);
  uint32_t y = b.step("mul", {xb, one}, DType::BF16);
  // A constant whose elements differ stays a parameter.
  std::vector<uint8_t> ramp(8 * 4);
  for (int i = 0; i < 8; ++i) {
    float v = static_cast<float>(i);
    std::memcpy(ramp.data() + 4 * i, &v, 4);
  }
  uint32_t table = b.constant(DType::F32, {8}, ramp);
  uint32_t yf = b.step("cast", {y}, DType::F32);
  b.step("add", {yf, table}, DType::F32);
  KernelCase c = b.finish();
  ASSERT_EQ(c.group.inputs, (std::vector<uint32_t>{x, one, table}));
  EXPECT_TRUE(isSplatConstant(c.plan.buffers[one]));
  EXPECT_FALSE(isSplatConstant(c.plan.buffers[table]));
  EXPECT_FALSE(isSplatConstant(c.plan.buffers[x]));
  std::string source = emitElementwiseKernel(c.plan, c.group);
  EXPECT_EQ(signatureOf(source),
            "extern \"C\" __global__ void k(const float *in0, const float "
            "*in1, float *out0, long long count)");
  EXPECT_EQ(kernelArguments(c.plan, c.group),
            (std::vector<uint32_t>{x, table, c.group.outputs[0]}));
  // bf16 1.5 is 0x3fc0, widened to the f32 bits 0x3fc00000.
  EXPECT_NE(source.find("__uint_as_float(0x3fc00000u)"), std::string::npos)
      << source;
}

TEST(CudaElementwise, SplatLiteralsKeepEveryBitPattern) {
  CaseBuilder b("k", 3);
  uint32_t x = b.input(DType::F64);
  uint32_t negativeZero = b.splat(DType::F64, -0.0);
  uint32_t i32 = b.splat(DType::I32, -2147483648.0);
  uint32_t i64 = b.input(DType::I64);
  b.step("add", {x, negativeZero}, DType::F64);
  b.step("add", {b.step("cast", {i64}, DType::I32), i32}, DType::I32);
  KernelCase c = b.finish();
  std::string source = emitElementwiseKernel(c.plan, c.group);
  EXPECT_NE(
      source.find("__longlong_as_double((long long)0x8000000000000000ull)"),
      std::string::npos)
      << source;
  EXPECT_NE(source.find("(-2147483647 - 1)"), std::string::npos) << source;
}

TEST(CudaElementwise, IntermediatesStayInRegistersRoundedToTheirDType) {
  CaseBuilder b("k", 16);
  uint32_t x = b.input(DType::BF16), y = b.input(DType::BF16);
  uint32_t t = b.step("mul", {x, y}, DType::BF16);
  b.step("add", {t, x}, DType::BF16);
  KernelCase c = b.finish();
  std::string source = emitElementwiseKernel(c.plan, c.group);
  // One output parameter: the product is not stored, but rounded to bf16
  // before the sum reads it, as the unfused plan stores and reloads it.
  EXPECT_EQ(source.find("out1"), std::string::npos);
  EXPECT_NE(source.find("__bfloat162float(__float2bfloat16_rn(__fmul_rn("),
            std::string::npos)
      << source;
  EXPECT_NE(source.find("__bfloat162float(__float2bfloat16_rn(__fadd_rn("),
            std::string::npos)
      << source;
}

TEST(CudaElementwise, NoFastMathOrContractibleArithmetic) {
  for (const KernelCase &c : allKernelCases(4)) {
    std::string source = emitElementwiseKernel(c.plan, c.group);
    for (const char *fast : {"__expf", "__logf", "__tanhf", "rsqrtf(",
                             "__fdividef", "__frsqrt_rn", "fmaf("})
      EXPECT_EQ(source.find(fast), std::string::npos) << c.name << ": " << fast;
  }
}

TEST(CudaElementwise, DropoutReadsItsKeyOnceAndHashesTheSite) {
  CaseBuilder b("k", 32);
  uint32_t x = b.input(DType::F32), key = b.key();
  b.step("dropout", {x, key}, DType::F32,
         {{"p", realAttribute(0.25)}, {"site", textAttribute("lora.v_proj")}});
  KernelCase c = b.finish();
  std::string source = emitElementwiseKernel(c.plan, c.group);
  EXPECT_EQ(signatureOf(source),
            "extern \"C\" __global__ void k(const float *in0, const long long "
            "*in1, float *out0, long long count)");
  EXPECT_NE(
      source.find(fmt::format("0x{:016x}ull", rng::hashName("lora.v_proj"))),
      std::string::npos);
  EXPECT_NE(source.find("namespace pgc::rng"), std::string::npos);
  // p and the scale 1 / (1 - p) as exact hexadecimal literals.
  EXPECT_NE(source.find("0x1p-2)"), std::string::npos) << source;
  EXPECT_NE(source.find("0x1.555556p+0f"), std::string::npos) << source;
}

TEST(CudaElementwise, IdenticalGroupsOfDifferentLayersShareOneSource) {
  auto layer = [](int padding) {
    CaseBuilder b("k", 64);
    for (int i = 0; i < padding; ++i)
      b.input(DType::F64);
    uint32_t x = b.input(DType::BF16), y = b.input(DType::BF16);
    b.step("mul", {b.step("gelu_tanh", {x}, DType::BF16), y}, DType::BF16);
    KernelCase c = b.finish();
    return emitElementwiseKernel(c.plan, c.group);
  };
  EXPECT_EQ(layer(0), layer(5));
}

TEST(CudaElementwise, EveryCaseEmits) {
  std::vector<KernelCase> cases = allKernelCases(16);
  EXPECT_GT(cases.size(), 150u);
  for (const KernelCase &c : cases) {
    std::string source = emitElementwiseKernel(c.plan, c.group);
    EXPECT_NE(source.find("extern \"C\" __global__ void " + c.name + "("),
              std::string::npos)
        << c.name;
  }
}

// The GPU test's oracle: every case's plan runs unfused on the CPU executor
// with the test's random inputs (no integer division by zero, valid plans).
TEST(CudaElementwise, EveryCaseRunsOnTheCpuExecutor) {
  for (const KernelCase &c : allKernelCases(4099)) {
    const PlanEntryPoint &entry = c.plan.entryPoints[0];
    TensorMap inputs;
    for (size_t k = 0; k < entry.inputs.size(); ++k) {
      const PlanBuffer &buffer = c.plan.buffers[entry.inputs[k]];
      inputs[entry.inputNames[k]] =
          randomTensor(buffer.dtype, buffer.shape, 7 + k);
    }
    try {
      Session session(c.plan);
      TensorMap outputs = session.run("group", inputs);
      EXPECT_EQ(outputs.size(), c.group.outputs.size()) << c.name;
    } catch (const Error &e) {
      ADD_FAILURE() << c.name << ": " << e.what();
    }
  }
}

// Errors -----------------------------------------------------------------

TEST(CudaElementwiseErrors, AnUnsupportedOpNamesTheStep) {
  CaseBuilder b("k", 4);
  uint32_t x = b.input(DType::F32);
  b.step("softmax", {x}, DType::F32);
  KernelCase c = b.finish();
  std::string message = errorOf(c.plan, c.group);
  EXPECT_NE(message.find("softmax at k:0"), std::string::npos) << message;
  EXPECT_NE(message.find("not an elementwise op"), std::string::npos)
      << message;
}

TEST(CudaElementwise, ABroadcastOfOneElementIsLoadedOnceBeforeTheLoop) {
  CaseBuilder b("k", 32);
  uint32_t x = b.input(DType::BF16), lr = b.scalar(DType::BF16);
  b.step("mul", {x, b.step("broadcast", {lr}, DType::BF16)}, DType::BF16);
  KernelCase c = b.finish();
  std::string source = emitElementwiseKernel(c.plan, c.group);
  EXPECT_EQ(signatureOf(source),
            "extern \"C\" __global__ void k(const __nv_bfloat16 *in0, const "
            "__nv_bfloat16 *in1, __nv_bfloat16 *out0, long long count)");
  // The broadcast reads first, so its operand is in0 (group input order).
  size_t scalarLoad = source.find("in0[0]");
  size_t loop = source.find("for (long long i");
  ASSERT_NE(scalarLoad, std::string::npos) << source;
  EXPECT_LT(scalarLoad, loop) << source;
  EXPECT_EQ(source.find("in0[i]"), std::string::npos) << source;
  EXPECT_NE(source.find("in1[i]"), std::string::npos) << source;
}

TEST(CudaElementwiseErrors, AWiderBroadcastIsNotFused) {
  CaseBuilder b("k", 6);
  uint32_t row = b.input(DType::F32);
  b.plan().buffers[row].shape = {3};
  b.step("broadcast", {row}, DType::F32);
  KernelCase c = b.finish();
  std::string message = errorOf(c.plan, c.group);
  EXPECT_NE(message.find("broadcast at k:0: only a broadcast of one element is "
                         "fused, the operand has 3"),
            std::string::npos)
      << message;
}

TEST(CudaElementwiseErrors, AMismatchedElementCountNamesTheStep) {
  CaseBuilder b("k", 4);
  uint32_t x = b.input(DType::F32);
  uint32_t t = b.step("exp", {x}, DType::F32);
  uint32_t y = b.input(DType::F32);
  b.plan().buffers[y].shape = {5};
  b.step("add", {t, y}, DType::F32);
  KernelCase c = b.finish();
  std::string message = errorOf(c.plan, c.group);
  EXPECT_NE(message.find("add at k:1"), std::string::npos) << message;
  EXPECT_NE(message.find("5 elements"), std::string::npos) << message;
}

TEST(CudaElementwiseErrors, DTypeRulesOfTheCpuKernelsNameTheStep) {
  {
    CaseBuilder b("k", 4);
    b.step("add", {b.input(DType::Bool), b.input(DType::Bool)}, DType::Bool);
    KernelCase c = b.finish();
    EXPECT_NE(errorOf(c.plan, c.group).find("add at k:0: only max and min"),
              std::string::npos)
        << errorOf(c.plan, c.group);
  }
  {
    CaseBuilder b("k", 4);
    b.step("mul", {b.input(DType::F32), b.input(DType::BF16)}, DType::F32);
    KernelCase c = b.finish();
    EXPECT_NE(errorOf(c.plan, c.group).find("mul at k:0: operands and result"),
              std::string::npos)
        << errorOf(c.plan, c.group);
  }
  {
    CaseBuilder b("k", 4);
    b.step("exp", {b.input(DType::I32)}, DType::I32);
    KernelCase c = b.finish();
    EXPECT_NE(errorOf(c.plan, c.group).find("exp at k:0"), std::string::npos);
  }
  {
    CaseBuilder b("k", 4);
    b.step("compare", {b.input(DType::F32), b.input(DType::F32)}, DType::Bool,
           {{"predicate", textAttribute("approximately")}});
    KernelCase c = b.finish();
    EXPECT_NE(errorOf(c.plan, c.group)
                  .find("compare at k:0: unknown predicate 'approximately'"),
              std::string::npos)
        << errorOf(c.plan, c.group);
  }
  {
    CaseBuilder b("k", 4);
    b.step("compare", {b.input(DType::F32), b.input(DType::F32)}, DType::Bool);
    KernelCase c = b.finish();
    EXPECT_NE(errorOf(c.plan, c.group)
                  .find("compare at k:0: missing attribute 'predicate'"),
              std::string::npos)
        << errorOf(c.plan, c.group);
  }
  {
    CaseBuilder b("k", 4);
    uint32_t x = b.input(DType::F32), key = b.key();
    b.step("dropout", {x, key}, DType::F32,
           {{"p", realAttribute(1.0)}, {"site", textAttribute("s")}});
    KernelCase c = b.finish();
    EXPECT_NE(errorOf(c.plan, c.group).find("dropout at k:0: p must be"),
              std::string::npos)
        << errorOf(c.plan, c.group);
  }
  {
    CaseBuilder b("k", 4);
    b.step("sqrt", {b.input(DType::F32), b.input(DType::F32)}, DType::F32);
    KernelCase c = b.finish();
    EXPECT_NE(errorOf(c.plan, c.group)
                  .find("sqrt at k:0: expected 1 operands and 1 result"),
              std::string::npos)
        << errorOf(c.plan, c.group);
  }
}

TEST(CudaElementwiseErrors, InconsistentGroupListsAreReported) {
  CaseBuilder b("k", 4);
  uint32_t x = b.input(DType::F32), y = b.input(DType::F32);
  uint32_t s = b.step("add", {x, y}, DType::F32);
  KernelCase c = b.finish();
  {
    ElementwiseGroup group = c.group;
    group.inputs = {x};
    std::string message = errorOf(c.plan, group);
    EXPECT_NE(message.find("add at k:0: reads buffer"), std::string::npos)
        << message;
  }
  {
    ElementwiseGroup group = c.group;
    group.outputs = {x};
    std::string message = errorOf(c.plan, group);
    EXPECT_NE(message.find("elementwise group 'k': output buffer"),
              std::string::npos)
        << message;
  }
  {
    ElementwiseGroup group = c.group;
    group.inputs.push_back(s);
    std::string message = errorOf(c.plan, group);
    EXPECT_NE(message.find("add at k:0: writes buffer"), std::string::npos)
        << message;
  }
  {
    ElementwiseGroup group = c.group;
    group.name = "not an identifier";
    EXPECT_NE(errorOf(c.plan, group).find("C identifier"), std::string::npos);
  }
}

} // namespace
} // namespace pgc::codegen::testing
