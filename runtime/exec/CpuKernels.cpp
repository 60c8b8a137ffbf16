// The table from plan op names to CPU reference kernels, unpacking each step's
// attributes.
#include "runtime/cpu/Kernels.h"
#include "runtime/exec/Nf4Storage.h"
#include "runtime/exec/Session.h"
#include "runtime/support/Error.h"

#include <cstring>
#include <unordered_map>

namespace pgc {

namespace {

using Ins = std::vector<Tensor *>;
using Step = PlanStep;

void expectArity(const Step &step, const Ins &in, size_t inputs, const Ins &out,
                 size_t outputs) {
  if (in.size() != inputs || out.size() != outputs)
    fail("{}: expected {} inputs and {} outputs, the plan has {} and {}",
         step.describe(), inputs, outputs, in.size(), out.size());
}

StepKernel binaryKernel(cpu::BinaryOp op) {
  return [op](const Step &step, Ins &in, Ins &out) {
    expectArity(step, in, 2, out, 1);
    cpu::binary(op, *in[0], *in[1], *out[0]);
  };
}

StepKernel unaryKernel(cpu::UnaryOp op) {
  return [op](const Step &step, Ins &in, Ins &out) {
    expectArity(step, in, 1, out, 1);
    cpu::unary(op, *in[0], *out[0]);
  };
}

cpu::ComparePredicate predicateOf(const Step &step) {
  static const std::unordered_map<std::string, cpu::ComparePredicate> names = {
      {"eq", cpu::ComparePredicate::Eq}, {"ne", cpu::ComparePredicate::Ne},
      {"lt", cpu::ComparePredicate::Lt}, {"le", cpu::ComparePredicate::Le},
      {"gt", cpu::ComparePredicate::Gt}, {"ge", cpu::ComparePredicate::Ge}};
  auto it = names.find(step.text("predicate"));
  if (it == names.end())
    fail("{}: unknown predicate '{}'", step.describe(), step.text("predicate"));
  return it->second;
}

int64_t normalisedAxis(const Step &step, const std::string &name,
                       const Tensor &x) {
  int64_t axis = step.integer(name);
  return axis < 0 ? axis + x.rank() : axis;
}

// Dequantizes through runtime/quant so that the result is bitsandbytes'
// dequantize_4bit bit for bit: f32 products, then one rounding to bf16; f16
// and f64 outputs convert from the f32 values.
void dequantNf4(const Step &step, Ins &in, Ins &out) {
  expectArity(step, in, 1, out, 1);
  Tensor &result = *out[0];
  quant::Nf4Weight weight =
      viewNf4(*in[0], result.shape(), step.integer("block_size"),
              step.integer("double_quant") != 0, step.describe());
  DType direct = result.dtype() == DType::BF16 ? DType::BF16 : DType::F32;
  Tensor values = quant::dequantizeNf4(weight, direct);
  if (values.dtype() != result.dtype())
    values = values.to(result.dtype());
  std::memcpy(result.raw(), values.raw(), values.byteSize());
}

const std::unordered_map<std::string, StepKernel> &kernelTable() {
  static const std::unordered_map<std::string, StepKernel> table = {
      {"dequant_nf4", dequantNf4},
      {"add", binaryKernel(cpu::BinaryOp::Add)},
      {"sub", binaryKernel(cpu::BinaryOp::Sub)},
      {"mul", binaryKernel(cpu::BinaryOp::Mul)},
      {"div", binaryKernel(cpu::BinaryOp::Div)},
      {"max", binaryKernel(cpu::BinaryOp::Max)},
      {"min", binaryKernel(cpu::BinaryOp::Min)},
      {"neg", unaryKernel(cpu::UnaryOp::Neg)},
      {"exp", unaryKernel(cpu::UnaryOp::Exp)},
      {"log", unaryKernel(cpu::UnaryOp::Log)},
      {"sqrt", unaryKernel(cpu::UnaryOp::Sqrt)},
      {"rsqrt", unaryKernel(cpu::UnaryOp::Rsqrt)},
      {"tanh", unaryKernel(cpu::UnaryOp::Tanh)},
      {"gelu_tanh", unaryKernel(cpu::UnaryOp::GeluTanh)},
      {"compare",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::compare(predicateOf(s), *in[0], *in[1], *out[0]);
       }},
      {"select",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 3, out, 1);
         cpu::select(*in[0], *in[1], *in[2], *out[0]);
       }},
      {"cast",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::cast(*in[0], *out[0]);
       }},
      // pg.store: overwrite a persistent buffer (same dtype and shape).
      {"copy",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         if (in[0]->dtype() != out[0]->dtype() ||
             in[0]->shape() != out[0]->shape())
           fail("{}: copy between different types", s.describe());
         if (in[0]->raw() != out[0]->raw())
           std::memcpy(out[0]->raw(), in[0]->raw(), in[0]->byteSize());
       }},
      {"iota",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 0, out, 1);
         cpu::iota(normalisedAxis(s, "dim", *out[0]), *out[0]);
       }},
      {"reduce_sum",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::reduceSum(*in[0], s.integers("axes"), s.flag("keep_dims"),
                        *out[0]);
       }},
      {"reduce_max",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::reduceMax(*in[0], s.integers("axes"), s.flag("keep_dims"),
                        *out[0]);
       }},
      {"reduce_mean",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::reduceMean(*in[0], s.integers("axes"), s.flag("keep_dims"),
                         *out[0]);
       }},
      {"cumsum",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::cumsum(*in[0], normalisedAxis(s, "axis", *in[0]), *out[0]);
       }},
      {"matmul",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::matmul(*in[0], *in[1], s.flag("transpose_lhs"),
                     s.flag("transpose_rhs"), *out[0]);
       }},
      {"reshape",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::reshape(*in[0], *out[0]);
       }},
      {"transpose",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::transpose(*in[0], s.integers("perm"), *out[0]);
       }},
      {"broadcast",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::broadcast(*in[0], *out[0]);
       }},
      {"slice",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::slice(*in[0], s.integers("starts"), s.integers("limits"),
                    s.integers("strides"), *out[0]);
       }},
      {"concat",
       [](const Step &s, Ins &in, Ins &out) {
         if (out.size() != 1 || in.empty())
           fail("{}: expected inputs and one output", s.describe());
         std::vector<Tensor> inputs;
         for (Tensor *t : in)
           inputs.push_back(*t);
         cpu::concat(inputs, normalisedAxis(s, "axis", *in[0]), *out[0]);
       }},
      {"gather",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::gather(*in[0], *in[1], *out[0]);
       }},
      {"scatter",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 3, out, 1);
         cpu::scatter(*in[0], *in[1], *in[2], *out[0]);
       }},
      {"softmax",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 1, out, 1);
         cpu::softmax(*in[0], normalisedAxis(s, "axis", *in[0]), *out[0]);
       }},
      {"layer_norm",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 3, out, 1);
         cpu::layerNorm(*in[0], *in[1], *in[2], s.real("epsilon"), *out[0]);
       }},
      {"rms_norm",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::rmsNorm(*in[0], *in[1], s.real("epsilon"), s.flag("unit_offset"),
                      *out[0]);
       }},
      {"rope",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::rope(*in[0], *in[1], s.real("theta"), *out[0]);
       }},
      {"attention",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 4, out, 1);
         cpu::attention(*in[0], *in[1], *in[2], in[3], s.real("scale"),
                        *out[0]);
       }},
      {"cross_entropy",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::crossEntropy(*in[0], *in[1], s.integer("ignore_index"), *out[0]);
       }},
      {"dropout",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::dropout(*in[0], *in[1], s.real("p"), s.text("site"), *out[0]);
       }},
      // Backward ops created by pg-autodiff.
      {"gelu_tanh_grad",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::geluTanhGrad(*in[0], *in[1], *out[0]);
       }},
      {"softmax_grad",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::softmaxGrad(*in[0], *in[1], normalisedAxis(s, "axis", *in[0]),
                          *out[0]);
       }},
      {"layer_norm_grad",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 3, out, 3);
         cpu::layerNormGrad(*in[0], *in[1], *in[2], s.real("epsilon"), *out[0],
                            *out[1], *out[2]);
       }},
      {"rms_norm_grad",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 3, out, 2);
         cpu::rmsNormGrad(*in[0], *in[1], *in[2], s.real("epsilon"),
                          s.flag("unit_offset"), *out[0], *out[1]);
       }},
      {"rope_grad",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::ropeGrad(*in[0], *in[1], s.real("theta"), *out[0]);
       }},
      {"attention_grad",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 5, out, 3);
         cpu::attentionGrad(*in[0], *in[1], *in[2], in[3], s.real("scale"),
                            *in[4], *out[0], *out[1], *out[2]);
       }},
      {"cross_entropy_grad",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 3, out, 1);
         cpu::crossEntropyGrad(*in[0], *in[1], s.integer("ignore_index"),
                               *in[2], *out[0]);
       }},
      {"scatter_add",
       [](const Step &s, Ins &in, Ins &out) {
         expectArity(s, in, 2, out, 1);
         cpu::scatterAdd(*in[0], *in[1], *out[0]);
       }},
  };
  return table;
}

} // namespace

StepKernel findCpuKernel(const std::string &op) {
  const auto &table = kernelTable();
  auto it = table.find(op);
  return it == table.end() ? StepKernel() : it->second;
}

} // namespace pgc
