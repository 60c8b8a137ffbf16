// The catalogue of fused groups shared by the codegen tests, and their random
// inputs.
#include "KernelCases.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <random>
#include <set>

namespace pgc::codegen::testing {

CaseBuilder::CaseBuilder(std::string name, int64_t count) : count_(count) {
  case_.name = name;
  case_.group.name = name;
  case_.plan.producer = "codegen test";
  PlanEntryPoint entry;
  entry.name = "group";
  case_.plan.entryPoints.push_back(entry);
}

uint32_t CaseBuilder::addBuffer(DType dtype, Shape shape, BufferRole role) {
  PlanBuffer buffer;
  buffer.name = fmt::format("b{}", case_.plan.buffers.size());
  buffer.dtype = dtype;
  buffer.shape = std::move(shape);
  buffer.role = role;
  case_.plan.buffers.push_back(std::move(buffer));
  return static_cast<uint32_t>(case_.plan.buffers.size() - 1);
}

uint32_t CaseBuilder::input(DType dtype) {
  uint32_t index = addBuffer(dtype, {count_}, BufferRole::Input);
  PlanEntryPoint &entry = case_.plan.entryPoints[0];
  entry.inputs.push_back(index);
  entry.inputNames.push_back(fmt::format("x{}", entry.inputs.size() - 1));
  return index;
}

uint32_t CaseBuilder::key() {
  uint32_t index = addBuffer(DType::I64, {2}, BufferRole::Input);
  PlanEntryPoint &entry = case_.plan.entryPoints[0];
  entry.inputs.push_back(index);
  entry.inputNames.push_back(fmt::format("x{}", entry.inputs.size() - 1));
  return index;
}

uint32_t CaseBuilder::scalar(DType dtype) {
  uint32_t index = addBuffer(dtype, {}, BufferRole::Input);
  PlanEntryPoint &entry = case_.plan.entryPoints[0];
  entry.inputs.push_back(index);
  entry.inputNames.push_back(fmt::format("x{}", entry.inputs.size() - 1));
  return index;
}

uint32_t CaseBuilder::splat(DType dtype, double value) {
  Tensor t(dtype, {count_});
  for (int64_t i = 0; i < count_; ++i)
    t.set(i, value);
  const uint8_t *bytes = static_cast<const uint8_t *>(t.raw());
  return constant(dtype, {count_},
                  std::vector<uint8_t>(bytes, bytes + t.byteSize()));
}

uint32_t CaseBuilder::constant(DType dtype, Shape shape,
                               std::vector<uint8_t> bytes) {
  uint32_t index = addBuffer(dtype, std::move(shape), BufferRole::Constant);
  case_.plan.buffers[index].data = std::move(bytes);
  return index;
}

uint32_t CaseBuilder::step(const std::string &op, std::vector<uint32_t> inputs,
                           DType dtype,
                           std::map<std::string, StepAttribute> attributes) {
  PlanStep step;
  step.op = op;
  step.inputs = std::move(inputs);
  step.attributes = std::move(attributes);
  step.location =
      fmt::format("{}:{}", case_.name, case_.plan.entryPoints[0].steps.size());
  uint32_t result = addBuffer(dtype, {count_}, BufferRole::Temporary);
  step.outputs = {result};
  case_.plan.entryPoints[0].steps.push_back(step);
  return result;
}

void CaseBuilder::output(uint32_t buffer) {
  case_.group.outputs.push_back(buffer);
  case_.plan.buffers[buffer].role = BufferRole::Output;
  PlanEntryPoint &entry = case_.plan.entryPoints[0];
  entry.outputs.push_back(buffer);
  entry.outputNames.push_back(fmt::format("out{}", entry.outputs.size() - 1));
}

KernelCase CaseBuilder::finish(int64_t ulps, double absolute) {
  // The inputs as LowerToPlan's lowerFusion derives them: buffers read
  // before any step of the group writes them, in order of first read.
  ElementwiseGroup &group = case_.group;
  group.steps = case_.plan.entryPoints[0].steps;
  std::set<uint32_t> written;
  for (const PlanStep &step : group.steps) {
    for (uint32_t in : step.inputs)
      if (!written.count(in) &&
          std::find(group.inputs.begin(), group.inputs.end(), in) ==
              group.inputs.end())
        group.inputs.push_back(in);
    written.insert(step.outputs.begin(), step.outputs.end());
  }
  if (group.outputs.empty())
    output(group.steps.back().outputs[0]);
  case_.ulps = ulps;
  case_.absolute = absolute;
  return case_;
}

StepAttribute textAttribute(const std::string &text) {
  StepAttribute attribute;
  attribute.text = text;
  return attribute;
}

StepAttribute realAttribute(double value) {
  StepAttribute attribute;
  attribute.floats = {value};
  return attribute;
}

namespace {

const std::vector<DType> kFloats = {DType::BF16, DType::F16, DType::F32,
                                    DType::F64};
const std::vector<DType> kAllDTypes = {DType::BF16, DType::F16, DType::F32,
                                       DType::F64,  DType::I32, DType::I64,
                                       DType::U8,   DType::Bool};

std::string lower(DType d) { return std::string(dtypeName(d)); }

// exp, log and tanh come from CUDA's math library on one side and glibc on
// the other; both are within 2 ulp of the true value.
constexpr int64_t kTranscendentalUlps = 4;
// 1 + tanh(u) loses digits for negative u, as much in either library; the
// loss is a few ulps of 1 times dy and x (~100 eps at worst), so the bound is
// absolute, scaled by the element's largest |input|.
constexpr double kF64GeluAbsolute = 1e-13;

void addSingleOps(std::vector<KernelCase> &cases, int64_t count) {
  for (const char *op : {"add", "sub", "mul", "div", "max", "min"}) {
    std::vector<DType> dtypes = kFloats;
    dtypes.insert(dtypes.end(), {DType::I32, DType::I64, DType::U8});
    if (std::string(op) == "max" || std::string(op) == "min")
      dtypes.push_back(DType::Bool);
    for (DType d : dtypes) {
      CaseBuilder b(fmt::format("{}_{}", op, lower(d)), count);
      uint32_t x = b.input(d), y = b.input(d);
      b.step(op, {x, y}, d);
      cases.push_back(b.finish());
    }
  }
  for (const char *op :
       {"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "gelu_tanh"}) {
    std::string name = op;
    std::vector<DType> dtypes = kFloats;
    if (name == "neg")
      dtypes.insert(dtypes.end(), {DType::I32, DType::I64});
    for (DType d : dtypes) {
      CaseBuilder b(fmt::format("{}_{}", op, lower(d)), count);
      b.step(op, {b.input(d)}, d);
      bool transcendental = name == "exp" || name == "log" || name == "tanh";
      bool f64Gelu = name == "gelu_tanh" && d == DType::F64;
      cases.push_back(
          b.finish(transcendental || f64Gelu ? kTranscendentalUlps : 0,
                   f64Gelu ? kF64GeluAbsolute : 0));
    }
  }
  struct GradDTypes {
    DType x, dy, dx;
  };
  std::vector<GradDTypes> grads;
  for (DType d : kFloats)
    grads.push_back({d, d, d});
  grads.push_back({DType::BF16, DType::F32, DType::BF16});
  grads.push_back({DType::F64, DType::F32, DType::BF16});
  for (const GradDTypes &g : grads) {
    CaseBuilder b(fmt::format("gelu_tanh_grad_{}_{}_{}", lower(g.x),
                              lower(g.dy), lower(g.dx)),
                  count);
    uint32_t x = b.input(g.x), dy = b.input(g.dy);
    b.step("gelu_tanh_grad", {x, dy}, g.dx);
    bool f64 = g.x == DType::F64 || g.dy == DType::F64 || g.dx == DType::F64;
    cases.push_back(
        b.finish(f64 ? kTranscendentalUlps : 0, f64 ? kF64GeluAbsolute : 0));
  }
  for (const char *predicate : {"eq", "ne", "lt", "le", "gt", "ge"}) {
    for (DType d : kAllDTypes) {
      CaseBuilder b(fmt::format("compare_{}_{}", predicate, lower(d)), count);
      uint32_t x = b.input(d), y = b.input(d);
      b.step("compare", {x, y}, DType::Bool,
             {{"predicate", textAttribute(predicate)}});
      cases.push_back(b.finish());
    }
  }
  for (DType d : kAllDTypes) {
    CaseBuilder b(fmt::format("select_{}", lower(d)), count);
    uint32_t c = b.input(DType::Bool), x = b.input(d), y = b.input(d);
    b.step("select", {c, x, y}, d);
    cases.push_back(b.finish());
  }
  for (DType from : kAllDTypes) {
    for (DType to : kAllDTypes) {
      CaseBuilder b(fmt::format("cast_{}_to_{}", lower(from), lower(to)),
                    count);
      b.step("cast", {b.input(from)}, to);
      cases.push_back(b.finish());
    }
  }
  for (DType d : kFloats) {
    CaseBuilder b(fmt::format("dropout_{}", lower(d)), count);
    uint32_t x = b.input(d), key = b.key();
    b.step("dropout", {x, key}, d,
           {{"p", realAttribute(0.1)}, {"site", textAttribute("attn.drop")}});
    cases.push_back(b.finish());
  }
}

void addChains(std::vector<KernelCase> &cases, int64_t count) {
  {
    // bf16 intermediates, a splat, two outputs (one of them intermediate).
    CaseBuilder b("chain_bf16_two_outputs", count);
    uint32_t x = b.input(DType::BF16), y = b.input(DType::BF16);
    uint32_t t = b.step("mul", {x, y}, DType::BF16);
    uint32_t u = b.step("add", {t, b.splat(DType::BF16, 1.0)}, DType::BF16);
    uint32_t g = b.step("gelu_tanh", {u}, DType::BF16);
    uint32_t o = b.step("cast", {g}, DType::F32);
    b.output(u);
    b.output(o);
    cases.push_back(b.finish());
  }
  {
    // The normalisation tail of Gemma's RMSNorm, elementwise part.
    CaseBuilder b("chain_rms_tail", count);
    uint32_t x = b.input(DType::BF16), ms = b.input(DType::F32),
             w = b.input(DType::BF16);
    uint32_t xf = b.step("cast", {x}, DType::F32);
    uint32_t r = b.step(
        "rsqrt", {b.step("add", {ms, b.splat(DType::F32, 1e-6)}, DType::F32)},
        DType::F32);
    uint32_t wf = b.step("cast", {w}, DType::F32);
    uint32_t scale = b.step("add", {b.splat(DType::F32, 1.0), wf}, DType::F32);
    uint32_t y =
        b.step("mul", {b.step("mul", {xf, r}, DType::F32), scale}, DType::F32);
    b.step("cast", {y}, DType::BF16);
    cases.push_back(b.finish());
  }
  {
    CaseBuilder b("chain_relu_select", count);
    uint32_t x = b.input(DType::F32), zero = b.splat(DType::F32, 0.0);
    uint32_t c = b.step("compare", {x, zero}, DType::Bool,
                        {{"predicate", textAttribute("gt")}});
    uint32_t s = b.step("select", {c, x, zero}, DType::F32);
    uint32_t m = b.step("max", {x, zero}, DType::F32);
    b.output(s);
    b.output(m);
    b.output(c);
    cases.push_back(b.finish());
  }
  {
    // LoRA's input dropout and scaling, with a key fixed in the plan.
    CaseBuilder b("chain_lora_dropout_constant_key", count);
    uint32_t x = b.input(DType::BF16);
    std::vector<uint8_t> keyBytes(16);
    int64_t words[2] = {1234, 1234};
    std::memcpy(keyBytes.data(), words, 16);
    uint32_t key = b.constant(DType::I64, {2}, keyBytes);
    uint32_t d = b.step(
        "dropout", {x, key}, DType::BF16,
        {{"p", realAttribute(0.5)}, {"site", textAttribute("lora.q_proj")}});
    b.step("mul", {d, b.splat(DType::BF16, 0.125)}, DType::BF16);
    cases.push_back(b.finish());
  }
  {
    CaseBuilder b("chain_softmax_exp", count);
    uint32_t x = b.input(DType::F32), m = b.input(DType::F32);
    uint32_t e = b.step("exp", {b.step("sub", {x, m}, DType::F32)}, DType::F32);
    b.step("cast", {e}, DType::BF16);
    cases.push_back(b.finish(kTranscendentalUlps));
  }
  {
    // The label mask of the loss: ids != -100 as f32, times a loss.
    CaseBuilder b("chain_label_mask", count);
    uint32_t ids = b.input(DType::I64), loss = b.input(DType::F32);
    uint32_t keep = b.step("compare", {ids, b.splat(DType::I64, -100)},
                           DType::Bool, {{"predicate", textAttribute("ne")}});
    uint32_t weight = b.step("cast", {keep}, DType::F32);
    b.step("mul", {weight, loss}, DType::F32);
    cases.push_back(b.finish());
  }
  {
    CaseBuilder b("chain_geglu", count);
    uint32_t gate = b.input(DType::BF16), up = b.input(DType::BF16);
    uint32_t g = b.step("gelu_tanh", {gate}, DType::BF16);
    b.step("mul", {g, up}, DType::BF16);
    cases.push_back(b.finish());
  }
  {
    // An AdamW moment update and step direction in f32.
    CaseBuilder b("chain_adamw_f32", count);
    uint32_t m = b.input(DType::F32), v = b.input(DType::F32),
             g = b.input(DType::F32);
    uint32_t m2 =
        b.step("add",
               {b.step("mul", {m, b.splat(DType::F32, 0.9)}, DType::F32),
                b.step("mul", {g, b.splat(DType::F32, 0.1)}, DType::F32)},
               DType::F32);
    uint32_t g2 = b.step("mul", {g, g}, DType::F32);
    uint32_t v2 =
        b.step("add",
               {b.step("mul", {v, b.splat(DType::F32, 0.999)}, DType::F32),
                b.step("mul", {g2, b.splat(DType::F32, 0.001)}, DType::F32)},
               DType::F32);
    uint32_t denominator = b.step(
        "add", {b.step("sqrt", {v2}, DType::F32), b.splat(DType::F32, 1e-8)},
        DType::F32);
    uint32_t direction = b.step("div", {m2, denominator}, DType::F32);
    b.output(m2);
    b.output(v2);
    b.output(direction);
    cases.push_back(b.finish());
  }
  {
    // AdamW's parameter step with run-time scalars (lr, weight decay) spread
    // by broadcasts, as pg-optimizer writes it: p - lr * (d + wd * p).
    CaseBuilder b("chain_broadcast_scalars", count);
    uint32_t p = b.input(DType::F32), d = b.input(DType::F32);
    uint32_t lr = b.step("broadcast", {b.scalar(DType::F32)}, DType::F32);
    uint32_t wd = b.step("broadcast", {b.scalar(DType::F32)}, DType::F32);
    uint32_t update =
        b.step("add", {d, b.step("mul", {wd, p}, DType::F32)}, DType::F32);
    uint32_t next =
        b.step("sub", {p, b.step("mul", {lr, update}, DType::F32)}, DType::F32);
    b.step("cast", {next}, DType::BF16);
    b.output(next);
    cases.push_back(b.finish());
  }
  {
    // Backward of GeGLU with mixed dtypes and an f64 detour.
    CaseBuilder b("chain_mixed_f64_grad", count);
    uint32_t x = b.input(DType::BF16), dy = b.input(DType::BF16);
    uint32_t dyf = b.step("cast", {dy}, DType::F64);
    uint32_t dx = b.step("gelu_tanh_grad", {x, dyf}, DType::F32);
    b.step("neg", {b.step("cast", {dx}, DType::F16)}, DType::F16);
    cases.push_back(b.finish(kTranscendentalUlps, kF64GeluAbsolute));
  }
}

} // namespace

std::vector<KernelCase> allKernelCases(int64_t count) {
  std::vector<KernelCase> cases;
  addSingleOps(cases, count);
  addChains(cases, count);
  return cases;
}

Tensor randomTensor(DType dtype, Shape shape, uint64_t seed) {
  Tensor t(dtype, shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> normal(0.0, 3.0);
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> specials = {
      0.0,   -0.0,  inf,  -inf, std::nan(""), 1e-40, -1e-40, 6e-8,
      65504, 70000, -3e9, 3e9,  1e19,         -1e19, 1e30,   255.5,
      -0.5,  0.5,   1.5,  2.5,  -2.5,         300,   -300,   1e-310};
  int64_t n = t.numel();
  if (dtype == DType::Bool) {
    for (int64_t i = 0; i < n; ++i)
      t.set(i, rng() & 1);
    return t;
  }
  if (!isFloat(dtype)) {
    for (int64_t i = 0; i < n; ++i) {
      double r = unit(rng);
      int64_t value;
      if (r < 0.02) {
        // The ends of the type's range and -1, where wrap-around shows.
        int64_t ends[] = {
            -1,
            dtype == DType::I32 ? std::numeric_limits<int32_t>::min()
                                : std::numeric_limits<int64_t>::min(),
            dtype == DType::I32 ? std::numeric_limits<int32_t>::max()
                                : std::numeric_limits<int64_t>::max(),
            -100, 255};
        value = ends[rng() % 5];
      } else {
        value = static_cast<int64_t>(rng() % 17) - 8;
      }
      if (dtype == DType::U8)
        value = 1 + static_cast<int64_t>(rng() % 255);
      if (value == 0)
        value = 3;
      switch (dtype) {
      case DType::I32:
        t.data<int32_t>()[i] = static_cast<int32_t>(value);
        break;
      case DType::I64:
        t.data<int64_t>()[i] = value;
        break;
      default:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(value);
        break;
      }
    }
    return t;
  }
  for (int64_t i = 0; i < n; ++i) {
    double r = unit(rng), value;
    if (r < 0.03)
      value = specials[rng() % specials.size()];
    else if (r < 0.13)
      value = static_cast<double>(static_cast<int64_t>(rng() % 9) - 4);
    else if (r < 0.25)
      value = (unit(rng) - 0.5) * 200;
    else
      value = normal(rng);
    t.set(i, value);
  }
  return t;
}

} // namespace pgc::codegen::testing
