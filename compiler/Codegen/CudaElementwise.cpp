// Emits one CUDA C++ kernel for a fused group of elementwise plan steps, with
// the CPU reference kernels' numerics spelled out operation by operation.
#include "compiler/Codegen/CudaElementwise.h"
#include "compiler/Codegen/CudaElementwiseHelpers.h"
#include "compiler/Codegen/KernelEmitter.h"

#include "runtime/support/CounterRng.h"
#include "runtime/support/CounterRngText.h"
#include "runtime/support/Error.h"

#include <cctype>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <set>

namespace pgc::codegen {
namespace detail {

/// The C++ type a value of dtype `d` lives in inside the loop: 16-bit floats
/// widen (exactly) to float, i1 stays one byte holding 0 or 1.
const char *registerType(DType d) {
  switch (d) {
  case DType::BF16:
  case DType::F16:
  case DType::F32:
    return "float";
  case DType::F64:
    return "double";
  case DType::I32:
    return "int";
  case DType::I64:
    return "long long";
  case DType::U8:
  case DType::Bool:
    return "unsigned char";
  }
  return "void";
}

const char *storageType(DType d) {
  switch (d) {
  case DType::BF16:
    return "__nv_bfloat16";
  case DType::F16:
    return "__half";
  default:
    return registerType(d);
  }
}

std::string loadExpression(DType d, const std::string &element) {
  switch (d) {
  case DType::BF16:
    return fmt::format("__bfloat162float({})", element);
  case DType::F16:
    return fmt::format("__half2float({})", element);
  default:
    return element;
  }
}

std::string storeExpression(DType d, const std::string &value) {
  switch (d) {
  case DType::BF16:
    return fmt::format("__float2bfloat16_rn({})", value);
  case DType::F16:
    return fmt::format("__float2half_rn({})", value);
  default:
    return value;
  }
}

/// `value`, computed in float (or double when `fromDouble`), rounded once to
/// nearest even to dtype `d` and held in d's register type.
std::string roundTo(DType d, bool fromDouble, const std::string &value) {
  switch (d) {
  case DType::BF16:
    return fromDouble
               ? fmt::format("__bfloat162float(__double2bfloat16({}))", value)
               : fmt::format("__bfloat162float(__float2bfloat16_rn({}))",
                             value);
  case DType::F16:
    return fromDouble ? fmt::format("__half2float(__double2half({}))", value)
                      : fmt::format("__half2float(__float2half_rn({}))", value);
  case DType::F32:
    return fromDouble ? fmt::format("__double2float_rn({})", value) : value;
  case DType::F64:
    return fromDouble ? value : fmt::format("(double)({})", value);
  default:
    return value;
  }
}

/// A literal of dtype `d`'s register type with the bits of one element in
/// `bytes`; floats are spelled by their bits so that every value (NaN, -0,
/// subnormals) survives, with the value in a comment for readers.
std::string literal(DType d, const uint8_t *bytes) {
  auto floatBits = [](float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    return fmt::format("__uint_as_float(0x{:08x}u) /* {} */", bits, value);
  };
  switch (d) {
  case DType::BF16:
  case DType::F16: {
    uint16_t bits;
    std::memcpy(&bits, bytes, 2);
    return floatBits(d == DType::BF16 ? bf16ToF32(bits) : f16ToF32(bits));
  }
  case DType::F32: {
    float value;
    std::memcpy(&value, bytes, 4);
    return floatBits(value);
  }
  case DType::F64: {
    uint64_t bits;
    double value;
    std::memcpy(&bits, bytes, 8);
    std::memcpy(&value, bytes, 8);
    return fmt::format("__longlong_as_double((long long)0x{:016x}ull) /* {} */",
                       bits, value);
  }
  case DType::I32: {
    int32_t value;
    std::memcpy(&value, bytes, 4);
    // -2^31 has no literal of type int: it is spelled as an expression.
    return value == INT32_MIN ? "(-2147483647 - 1)" : fmt::format("{}", value);
  }
  case DType::I64: {
    int64_t value;
    std::memcpy(&value, bytes, 8);
    return value == INT64_MIN ? "(-9223372036854775807ll - 1)"
                              : fmt::format("{}ll", value);
  }
  case DType::U8:
  case DType::Bool:
    return fmt::format("(unsigned char){}", bytes[0]);
  }
  return "0";
}

/// A double as a hexadecimal floating literal: exact, unlike decimal.
std::string exactDouble(double value) { return fmt::format("{:a}", value); }
std::string exactFloat(float value) { return fmt::format("{:a}f", value); }

const std::set<std::string> &fusibleOps() {
  static const std::set<std::string> ops = {"add",       "sub",
                                            "mul",       "div",
                                            "max",       "min",
                                            "neg",       "exp",
                                            "log",       "sqrt",
                                            "rsqrt",     "tanh",
                                            "gelu_tanh", "gelu_tanh_grad",
                                            "compare",   "select",
                                            "cast",      "dropout",
                                            "broadcast"};
  return ops;
}

std::string KernelEmitter::binaryExpression(const PlanStep &step) {
  DType d = dtypeOf(step.outputs[0]);
  const std::string &a = value(step.inputs[0]);
  const std::string &b = value(step.inputs[1]);
  const std::string &op = step.op;
  if (isFloat(d)) {
    bool f64 = d == DType::F64;
    const char *suffix = f64 ? "f64" : "f32";
    std::string result;
    if (op == "max" || op == "min") {
      result = call(fmt::format("pgc_{}_{}", op, suffix),
                    fmt::format("{}, {}", a, b));
    } else {
      const char *intrinsic = op == "add"   ? "add"
                              : op == "sub" ? "sub"
                              : op == "mul" ? "mul"
                                            : "div";
      result =
          fmt::format("__{}{}_rn({}, {})", f64 ? "d" : "f", intrinsic, a, b);
    }
    return roundTo(d, f64, result);
  }
  // Integers wrap around (two's complement): the arithmetic is done unsigned.
  const char *type = registerType(d);
  const char *unsignedType = d == DType::I32   ? "unsigned int"
                             : d == DType::I64 ? "unsigned long long"
                                               : "unsigned int";
  if (op == "max")
    return fmt::format("({0} > {1} ? {0} : {1})", a, b);
  if (op == "min")
    return fmt::format("({0} < {1} ? {0} : {1})", a, b);
  if (op == "div")
    return call(d == DType::I32   ? "pgc_div_i32"
                : d == DType::I64 ? "pgc_div_i64"
                                  : "pgc_div_u8",
                fmt::format("{}, {}", a, b));
  const char *symbol = op == "add" ? "+" : op == "sub" ? "-" : "*";
  return fmt::format("({})(({}){} {} ({}){})", type, unsignedType, a, symbol,
                     unsignedType, b);
}

std::string KernelEmitter::unaryExpression(const PlanStep &step) {
  DType d = dtypeOf(step.outputs[0]);
  const std::string &x = value(step.inputs[0]);
  const std::string &op = step.op;
  if (op == "neg" && !isFloat(d))
    return d == DType::I32
               ? fmt::format("(int)(0u - (unsigned int){})", x)
               : fmt::format("(long long)(0ull - (unsigned long long){})", x);
  bool f64 = d == DType::F64;
  std::string result;
  if (op == "neg")
    result = fmt::format("(-{})", x);
  else if (op == "exp")
    result = fmt::format("{}({})", f64 ? "exp" : "expf", x);
  else if (op == "log")
    result = fmt::format("{}({})", f64 ? "log" : "logf", x);
  else if (op == "tanh")
    result = fmt::format("{}({})", f64 ? "tanh" : "tanhf", x);
  else if (op == "sqrt")
    result = fmt::format("{}({})", f64 ? "__dsqrt_rn" : "__fsqrt_rn", x);
  else if (op == "rsqrt")
    // The CPU computes 1 / sqrt(x), two correctly rounded operations; so does
    // the kernel, bit for bit, rather than the approximate rsqrt.
    result = f64 ? fmt::format("__ddiv_rn(1.0, __dsqrt_rn({}))", x)
                 : fmt::format("__fdiv_rn(1.0f, __fsqrt_rn({}))", x);
  else
    result = call(f64 ? "pgc_gelu_tanh_f64" : "pgc_gelu_tanh_f32", x);
  return roundTo(d, f64, result);
}

std::string KernelEmitter::compareExpression(const PlanStep &step) {
  static const std::map<std::string, const char *> symbols = {
      {"eq", "=="}, {"ne", "!="}, {"lt", "<"},
      {"le", "<="}, {"gt", ">"},  {"ge", ">="}};
  // 16-bit floats are compared as the f32 values they widen to, exactly as
  // the CPU compares their f64 widenings.
  return fmt::format("(unsigned char)({} {} {})", value(step.inputs[0]),
                     symbols.at(step.text("predicate")), value(step.inputs[1]));
}

// runtime/cpu/Cast.cpp: floats round once to the target, floats truncate
// (saturating, NaN to 0) into integers, anything goes to i1 as "not zero",
// integers wrap into narrower integers and round once into floats.
std::string KernelEmitter::castExpression(const PlanStep &step) {
  DType from = dtypeOf(step.inputs[0]), to = dtypeOf(step.outputs[0]);
  const std::string &x = value(step.inputs[0]);
  if (to == DType::Bool)
    return fmt::format("(unsigned char)({} != 0)", x);
  if (isFloat(from)) {
    if (isFloat(to))
      return roundTo(to, from == DType::F64, x);
    const char *target = to == DType::I32   ? "i32"
                         : to == DType::I64 ? "i64"
                                            : "u8";
    return call(fmt::format("pgc_to_{}", target), "(double)" + x);
  }
  std::string wide = fmt::format("(long long){}", x);
  switch (to) {
  case DType::I32:
    return fmt::format("(int)({})", wide);
  case DType::I64:
    return wide;
  case DType::U8:
    return fmt::format("(unsigned char)({})", wide);
  case DType::F64:
    return fmt::format("__ll2double_rn({})", wide);
  case DType::F32:
    return fmt::format("__ll2float_rn({})", wide);
  case DType::BF16:
    return fmt::format("__bfloat162float(__ll2bfloat16_rn({}))", wide);
  case DType::F16:
    return fmt::format("__half2float(__ll2half_rn({}))", wide);
  case DType::Bool:
    break;
  }
  return wide;
}

std::string KernelEmitter::geluTanhGradExpression(const PlanStep &step) {
  DType x = dtypeOf(step.inputs[0]), dy = dtypeOf(step.inputs[1]),
        dx = dtypeOf(step.outputs[0]);
  bool f64 = x == DType::F64 || dy == DType::F64 || dx == DType::F64;
  const std::string &xv = value(step.inputs[0]);
  const std::string &dyv = value(step.inputs[1]);
  if (f64)
    return roundTo(
        dx, true,
        fmt::format("__dmul_rn((double){}, {})", dyv,
                    call("pgc_gelu_tanh_grad_f64", "(double)" + xv)));
  return roundTo(dx, false,
                 fmt::format("__fmul_rn({}, {})", dyv,
                             call("pgc_gelu_tanh_grad_f32", xv)));
}

std::string KernelEmitter::dropoutExpression(const PlanStep &step) {
  DType d = dtypeOf(step.outputs[0]);
  bool f64 = d == DType::F64;
  double p = step.real("p");
  // The stream base depends on the key, known only at run time, and on the
  // site's hash, known now; each thread derives it once, before its loop.
  std::string base = fmt::format("dropout_base{}", dropoutStreams_++);
  const std::string &key = value(step.inputs[1]);
  preamble_ += fmt::format(
      "  const unsigned long long {} = pgc::rng::dropoutStream("
      "(unsigned long long){}[0], (unsigned long long){}[1], 0x{:016x}ull);\n",
      base, key, key, rng::hashName(step.text("site")));
  needsRng_ = true;
  // The scale rounded once to the compute type, as cpu::dropout does.
  double scale = 1.0 / (1.0 - p);
  std::string kept =
      f64 ? fmt::format("__dmul_rn({}, {})", value(step.inputs[0]),
                        exactDouble(scale))
          : fmt::format("__fmul_rn({}, {})", value(step.inputs[0]),
                        exactFloat(static_cast<float>(scale)));
  return roundTo(d, f64,
                 fmt::format("(pgc::rng::dropoutKeeps({}, (unsigned long "
                             "long)i, {}) ? {} : {})",
                             base, exactDouble(p), kept, f64 ? "0.0" : "0.0f"));
}

std::string KernelEmitter::stepExpression(const PlanStep &step) {
  const std::string &op = step.op;
  if (op == "add" || op == "sub" || op == "mul" || op == "div" || op == "max" ||
      op == "min")
    return binaryExpression(step);
  if (op == "compare")
    return compareExpression(step);
  if (op == "select")
    return fmt::format("({} ? {} : {})", value(step.inputs[0]),
                       value(step.inputs[1]), value(step.inputs[2]));
  if (op == "cast")
    return castExpression(step);
  if (op == "gelu_tanh_grad")
    return geluTanhGradExpression(step);
  if (op == "dropout")
    return dropoutExpression(step);
  if (op == "broadcast") // of one element, read before the loop
    return value(step.inputs[0]);
  return unaryExpression(step);
}

std::string KernelEmitter::emit() {
  checkStructure();
  for (const PlanStep &step : group_.steps)
    for (size_t k = 0; k < step.inputs.size(); ++k)
      (step.op == "dropout" && k == 1 ? keyInputs_
       : step.op == "broadcast"       ? scalarInputs_
                                      : elementInputs_)
          .insert(step.inputs[k]);

  // Parameters and the values of inputs: splats become constants before the
  // loop, other inputs are loaded at the top of each iteration.
  std::vector<std::string> parameters;
  std::string loads;
  bool half = false, bfloat = false;
  auto noteDType = [&](DType d) {
    half |= d == DType::F16;
    bfloat |= d == DType::BF16;
  };
  int valueCount = 0;
  for (uint32_t in : group_.inputs) {
    const PlanBuffer &b = plan_.buffers[in];
    noteDType(b.dtype);
    std::string name = fmt::format("v{}", valueCount++);
    values_[in] = name;
    bool key = keyInputs_.count(in) != 0;
    if (key && elementInputs_.count(in))
      failGroup(fmt::format(
          "buffer {} is both a dropout key and an elementwise operand", in));
    if (isSplatConstant(b)) {
      std::string text = literal(b.dtype, b.data.data());
      // A key is read as key[0], key[1]: a splat key is an array of its value.
      preamble_ +=
          key ? fmt::format("  const long long {0}[2] = {{{1}, {1}}};\n", name,
                            text)
              : fmt::format("  const {} {} = {};\n", registerType(b.dtype),
                            name, text);
      continue;
    }
    std::string parameter = fmt::format("in{}", parameters.size());
    parameters.push_back(
        fmt::format("const {} *{}", storageType(b.dtype), parameter));
    if (key) {
      values_[in] = parameter;
      continue;
    }
    // A one-element buffer that a step also reads elementwise can only be in
    // a group of one element, where the element load reads it as well.
    if (scalarInputs_.count(in) && !elementInputs_.count(in))
      preamble_ +=
          fmt::format("  const {} {} = {};\n", registerType(b.dtype), name,
                      loadExpression(b.dtype, parameter + "[0]"));
    if (elementInputs_.count(in))
      loads += fmt::format("    const {} {} = {};\n", registerType(b.dtype),
                           name, loadExpression(b.dtype, parameter + "[i]"));
  }
  for (size_t k = 0; k < group_.outputs.size(); ++k) {
    const PlanBuffer &b = plan_.buffers[group_.outputs[k]];
    parameters.push_back(fmt::format("{} *out{}", storageType(b.dtype), k));
  }
  parameters.push_back("long long count");

  std::string body;
  for (size_t s = 0; s < group_.steps.size(); ++s) {
    const PlanStep &step = group_.steps[s];
    for (uint32_t out : step.outputs)
      noteDType(plan_.buffers[out].dtype);
    std::string expression = stepExpression(step);
    std::string name = fmt::format("v{}", valueCount++);
    DType d = dtypeOf(step.outputs[0]);
    body += fmt::format("    // step {}: {}{}\n", s, step.op,
                        step.op == "compare" ? " " + step.text("predicate")
                                             : std::string());
    body += fmt::format("    const {} {} = {};\n", registerType(d), name,
                        expression);
    values_[step.outputs[0]] = name;
  }
  std::string stores;
  for (size_t k = 0; k < group_.outputs.size(); ++k) {
    uint32_t out = group_.outputs[k];
    stores += fmt::format("    out{}[i] = {};\n", k,
                          storeExpression(dtypeOf(out), value(out)));
  }

  std::string source = fmt::format(
      "// A fused elementwise kernel of {} plan steps, generated by pgc "
      "(compiler/Codegen/CudaElementwise.cpp).\n",
      group_.steps.size());
  if (bfloat)
    source += "#include <cuda_bf16.h>\n";
  if (half)
    source += "#include <cuda_fp16.h>\n";
  if (needsRng_)
    // CounterRng.h's own text: a fused dropout keeps exactly the elements
    // runtime/cpu/Dropout.cpp keeps.
    source += rng::counterRngSourceText();
  // A helper's dependency precedes it in kHelpers, which fixes the order.
  for (size_t k = kHelperCount; k-- > 0;)
    if (kHelpers[k].needs && helpers_.count(kHelpers[k].name))
      helpers_.insert(kHelpers[k].needs);
  for (size_t k = 0; k < kHelperCount; ++k)
    if (helpers_.count(kHelpers[k].name))
      source += kHelpers[k].code;
  source += fmt::format("\nextern \"C\" __global__ void {}(", group_.name);
  for (size_t k = 0; k < parameters.size(); ++k)
    source += (k ? ", " : "") + parameters[k];
  source += ") {\n";
  source += preamble_;
  source += "  const long long stride = (long long)gridDim.x * blockDim.x;\n"
            "  for (long long i = (long long)blockIdx.x * blockDim.x + "
            "threadIdx.x; i < count;\n"
            "       i += stride) {\n";
  source += loads + body + stores;
  source += "  }\n}\n";
  return source;
}

} // namespace detail

bool isFusibleElementwise(const std::string &op) {
  return detail::fusibleOps().count(op) != 0;
}

bool isSplatConstant(const PlanBuffer &buffer) {
  if (buffer.role != BufferRole::Constant)
    return false;
  size_t width = dtypeSize(buffer.dtype);
  int64_t count = numElements(buffer.shape);
  if (count < 1 || buffer.data.size() != static_cast<size_t>(count) * width)
    return false;
  for (int64_t i = 1; i < count; ++i)
    if (std::memcmp(buffer.data.data(), buffer.data.data() + i * width,
                    width) != 0)
      return false;
  return true;
}

std::vector<uint32_t> kernelArguments(const Plan &plan,
                                      const ElementwiseGroup &group) {
  std::vector<uint32_t> arguments;
  for (uint32_t in : group.inputs) {
    if (in >= plan.buffers.size())
      fail("elementwise group '{}': an input is buffer {} but the plan has {} "
           "buffers",
           group.name, in, plan.buffers.size());
    if (!isSplatConstant(plan.buffers[in]))
      arguments.push_back(in);
  }
  arguments.insert(arguments.end(), group.outputs.begin(), group.outputs.end());
  return arguments;
}

std::string emitElementwiseKernel(const Plan &plan,
                                  const ElementwiseGroup &group) {
  return detail::KernelEmitter(plan, group).emit();
}

} // namespace pgc::codegen
