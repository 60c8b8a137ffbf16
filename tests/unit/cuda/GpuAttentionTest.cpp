// Checks the GPU attention kernels against cpu::attention / attentionGrad
// under a written-down bound on their difference, that two runs give the same
// bytes, and (without a GPU) that every validation message is the CPU's.
//
// Bound (first order, gamma_n = n u / (1 - n u), u = 2^-24 for f32 compute,
// 2^-53 for f64): both sides evaluate the same formula; each sum of n terms,
// whatever its order, is within gamma_n sum|terms| of its exact value, so two
// evaluations differ by at most 2 gamma_n sum|terms| (the kernels use the
// CPU's orders, so in practice those sums agree bit for bit and only exp
// differs; the bound does not rely on it). Per query row, with exact values
// x_s (scores), p_s, dP_s, w and ds_s from a long double reference:
//   score:   dx_s  = 2 gamma_{D+1} |scale| sum_e |q_e k_se| + 2u |x_s|
//   exp arg: xi_s  = dx_s + max_t dx_t + 2u |x_s - max|
//   exp:     eps_s = xi_s + eta, eta = 6u (CUDA's exp within 2 ulp, glibc's
//            within 1, each ulp 2u relative)
//   total:   dT    = sum_t p_t eps_t + 2 gamma_S (positive terms)
//   p:       dp_s  = eps_s + dT + 2u (relative; each side divides once)
//   out_e:   sum_s dp_s p_s |v_se| + 2 gamma_S sum_s p_s |v_se|
//   dP_s:    ddP_s = 2 gamma_Dv sum_e |dO_e v_se|
//   w:       dw    = sum_s (dp_s p_s |dP_s| + p_s ddP_s) + 2 gamma_S sum p|dP|
//   ds_s:    dds_s = p_s ((dp_s + 4u)(|dP_s| + |w|) + ddP_s + dw)
//   dq_e:    |scale| (sum_s dds_s |k_se| + 2 gamma_S sum_s |ds_s k_se|)
//            + 2u |dq_e|
//   dk_se:   |scale| (sum_r dds_rs |q_re| + 2 gamma_{n+1} sum_r |ds_rs q_re|)
//   dv_se:   sum_r dp_rs p_rs |dO_re| + 2 gamma_n sum_r p_rs |dO_re|
// where r runs over the n = (Hq / Hkv) L query rows sharing the kv head. An
// element may differ by 1.25 times its bound (first-order slack) plus one
// step of its dtype (each side rounds once to it). Masked keys have p = 0
// exactly on both sides, and fully masked rows give exact zeros.
#include "ErrorBounds.h"
#include "GpuFixture.h"

#include "runtime/cpu/FloatAccess.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/cuda/kernels/Attention.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <string>

namespace pgc::cuda {
namespace {

using LD = long double;

using bounds::gammaOf;

Tensor randomTensor(DType dtype, Shape shape, uint32_t seed, double scale = 1) {
  Tensor t(dtype, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, scale);
  for (int64_t i = 0; i < t.numel(); ++i)
    cpu::writeFloatFromDouble(t, i, normal(rng));
  return t;
}

std::vector<LD> values(const Tensor &t) {
  std::vector<LD> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i)
    v[i] = cpu::readFloatAsDouble(t, i);
  return v;
}

struct Dims {
  int64_t B, Hq, Hkv, L, S, D, Dv;
};

// Bounds on |GPU - CPU| for out, dq, dk and dv (see the file comment).
struct Bounds {
  std::vector<double> out, dq, dk, dv;
};

Bounds attentionBounds(const Dims &d, const Tensor &qt, const Tensor &kt,
                       const Tensor &vt, const Tensor *maskt, const Tensor &dot,
                       double scale, bool f64) {
  double u = f64 ? 0x1p-53 : 0x1p-24, eta = 6 * u;
  std::vector<LD> q = values(qt), k = values(kt), v = values(vt),
                  dO = values(dot), mask;
  if (maskt)
    mask = values(*maskt);
  int64_t group = d.Hq / d.Hkv, n = group * d.L;
  int64_t mb = maskt ? maskt->dim(0) : 1, mh = maskt ? maskt->dim(1) : 1;
  int64_t rows = d.B * d.Hq * d.L;
  Bounds r;
  r.out.assign(rows * d.Dv, 0);
  r.dq.assign(rows * d.D, 0);
  // Per row and key, kept for dK / dV.
  std::vector<LD> P(rows * d.S, 0), PErr(rows * d.S, 0), DS(rows * d.S, 0),
      dP(rows * d.S, 0), dDS(rows * d.S, 0);
  std::vector<LD> x(d.S), dx(d.S), ddP(d.S);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t l = row % d.L, h = (row / d.L) % d.Hq, b = row / (d.L * d.Hq);
    int64_t plane = b * d.Hkv + h / group;
    const LD *qr = &q[row * d.D], *gr = &dO[row * d.Dv];
    int64_t maskRow =
        ((mb == 1 ? 0 : b) * mh + (mh == 1 ? 0 : h)) * d.L * d.S + l * d.S;
    LD m = -INFINITY, maxDx = 0;
    std::vector<bool> allowed(d.S, true);
    for (int64_t s = 0; s < d.S; ++s) {
      const LD *ks = &k[(plane * d.S + s) * d.D];
      LD dotv = 0, absDot = 0;
      for (int64_t e = 0; e < d.D; ++e) {
        dotv += qr[e] * ks[e];
        absDot += std::fabs(qr[e] * ks[e]);
      }
      if (maskt && maskt->dtype() == DType::Bool) {
        allowed[s] = maskt->data<uint8_t>()[maskRow + s] != 0;
        x[s] = scale * dotv;
      } else {
        x[s] = scale * dotv + (maskt ? mask[maskRow + s] : 0);
        allowed[s] = !std::isinf(x[s]);
      }
      dx[s] = 2 * gammaOf(d.D + 1, u) * std::fabs(scale) * absDot +
              (allowed[s] ? 2 * u * std::fabs(x[s]) : 0);
      if (allowed[s]) {
        m = std::max(m, x[s]);
        maxDx = std::max(maxDx, dx[s]);
      }
    }
    if (m == -INFINITY)
      continue; // every key masked: exact zeros on both sides
    LD total = 0;
    for (int64_t s = 0; s < d.S; ++s)
      total += allowed[s] ? std::exp(x[s] - m) : 0;
    std::vector<LD> p(d.S), eps(d.S);
    LD dT = 2 * gammaOf(d.S, u);
    for (int64_t s = 0; s < d.S; ++s) {
      p[s] = allowed[s] ? std::exp(x[s] - m) / total : 0;
      eps[s] = dx[s] + maxDx + 2 * u * std::fabs(x[s] - m) + eta;
      if (allowed[s])
        dT += p[s] * eps[s];
    }
    std::vector<LD> dp(d.S);
    for (int64_t s = 0; s < d.S; ++s)
      dp[s] = eps[s] + dT + 2 * u;
    const LD *values0 = &v[plane * d.S * d.Dv];
    for (int64_t e = 0; e < d.Dv; ++e) {
      LD a = 0, c = 0;
      for (int64_t s = 0; s < d.S; ++s) {
        LD t = p[s] * std::fabs(values0[s * d.Dv + e]);
        a += dp[s] * t;
        c += t;
      }
      r.out[row * d.Dv + e] = double(a + 2 * gammaOf(d.S, u) * c);
    }
    // Gradient of the row.
    LD w = 0, dw = 0, absW = 0;
    for (int64_t s = 0; s < d.S; ++s) {
      LD g = 0, absG = 0;
      for (int64_t e = 0; e < d.Dv; ++e) {
        g += gr[e] * values0[s * d.Dv + e];
        absG += std::fabs(gr[e] * values0[s * d.Dv + e]);
      }
      dP[row * d.S + s] = g;
      ddP[s] = 2 * gammaOf(d.Dv, u) * absG;
      w += g * p[s];
      absW += std::fabs(g) * p[s];
      dw += dp[s] * p[s] * std::fabs(g) + p[s] * ddP[s];
    }
    dw += 2 * gammaOf(d.S, u) * absW;
    for (int64_t s = 0; s < d.S; ++s) {
      LD g = dP[row * d.S + s];
      P[row * d.S + s] = p[s];
      PErr[row * d.S + s] = dp[s] * p[s];
      DS[row * d.S + s] = p[s] * (g - w);
      dDS[row * d.S + s] =
          p[s] *
          ((dp[s] + 4 * u) * (std::fabs(g) + std::fabs(w)) + ddP[s] + dw);
    }
    const LD *keys0 = &k[plane * d.S * d.D];
    for (int64_t e = 0; e < d.D; ++e) {
      LD a = 0, c = 0, sum = 0;
      for (int64_t s = 0; s < d.S; ++s) {
        LD kk = std::fabs(keys0[s * d.D + e]);
        a += dDS[row * d.S + s] * kk;
        c += std::fabs(DS[row * d.S + s]) * kk;
        sum += DS[row * d.S + s] * keys0[s * d.D + e];
      }
      r.dq[row * d.D + e] =
          double(std::fabs(scale) * (a + 2 * gammaOf(d.S, u) * c) +
                 2 * u * std::fabs(scale * sum));
    }
  }
  r.dk.assign(d.B * d.Hkv * d.S * d.D, 0);
  r.dv.assign(d.B * d.Hkv * d.S * d.Dv, 0);
  for (int64_t plane = 0; plane < d.B * d.Hkv; ++plane)
    for (int64_t s = 0; s < d.S; ++s) {
      int64_t keyRow = plane * d.S + s;
      for (int64_t e = 0; e < d.D; ++e) {
        LD a = 0, c = 0;
        for (int64_t i = 0; i < n; ++i) {
          int64_t row = plane * n + i;
          LD qq = std::fabs(q[row * d.D + e]);
          a += dDS[row * d.S + s] * qq;
          c += std::fabs(DS[row * d.S + s]) * qq;
        }
        r.dk[keyRow * d.D + e] =
            double(std::fabs(scale) * (a + 2 * gammaOf(n + 1, u) * c));
      }
      for (int64_t e = 0; e < d.Dv; ++e) {
        LD a = 0, c = 0;
        for (int64_t i = 0; i < n; ++i) {
          int64_t row = plane * n + i;
          LD g = std::fabs(dO[row * d.Dv + e]);
          a += PErr[row * d.S + s] * g;
          c += P[row * d.S + s] * g;
        }
        r.dv[keyRow * d.Dv + e] = double(a + 2 * gammaOf(n, u) * c);
      }
    }
  return r;
}

// |got - want| <= 1.25 bound + one step of got's dtype; NaN matches NaN.
void expectAgree(const std::string &what, const Tensor &gpu, const Tensor &cpu,
                 const std::vector<double> &bound, bool f64) {
  ASSERT_EQ(gpu.numel(), int64_t(bound.size())) << what;
  int64_t failures = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < gpu.numel(); ++i) {
    double g = cpu::readFloatAsDouble(gpu, i),
           c = cpu::readFloatAsDouble(cpu, i);
    bool ok;
    if (std::isnan(g) || std::isnan(c) || std::isinf(g) || std::isinf(c)) {
      ok = std::isnan(c) ? std::isnan(g) : g == c;
    } else {
      double tolerance =
          1.25 * bound[i] +
          2 * bounds::storeRounding(gpu.dtype(), f64,
                                    std::fabs(c) + 1.25 * bound[i]);
      double error = std::fabs(g - c);
      ok = error <= tolerance;
      if (tolerance > 0)
        worst = std::max(worst, error / tolerance);
      else if (error > 0)
        worst = 1e9;
    }
    if (!ok && failures++ == 0)
      first = i;
  }
  std::cout << "  " << what << ": worst difference " << worst
            << " of the bound\n";
  EXPECT_EQ(failures, 0) << what << ": first at " << first << " gpu "
                         << cpu::readFloatAsDouble(gpu,
                                                   std::max<int64_t>(first, 0))
                         << " cpu "
                         << cpu::readFloatAsDouble(cpu,
                                                   std::max<int64_t>(first, 0));
}

void expectSameBytes(const std::string &what, const Tensor &a,
                     const Tensor &b) {
  ASSERT_EQ(a.byteSize(), b.byteSize());
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.byteSize()), 0)
      << what << ": two runs differ";
}

DeviceTensor shapeOnly(const Tensor &t) { return {0, t.dtype(), t.shape()}; }

// PaliGemma's prefix-LM mask: full attention over the first `prefix`
// positions, causal after them; rows listed in `blocked` attend nowhere.
void prefixMask(Tensor &mask, int64_t b, int64_t prefix,
                const std::vector<int64_t> &blocked = {}) {
  int64_t L = mask.dim(2), S = mask.dim(3);
  uint8_t *m = mask.data<uint8_t>() + b * L * S;
  for (int64_t l = 0; l < L; ++l)
    for (int64_t s = 0; s < S; ++s)
      m[l * S + s] = s < prefix || s <= l;
  for (int64_t l : blocked)
    std::fill(m + l * S, m + (l + 1) * S, 0);
}

using GpuAttention = GpuTest;

struct Case {
  std::string name;
  Dims d;
  DType q, k, v;
  // Mask: none, Bool or float of this shape; filled by `fill`.
  std::optional<DType> mask;
  Shape maskShape;
  std::function<void(Tensor &)> fill;
  DType dout;
};

std::vector<Case> cases() {
  auto causal = [](Tensor &m) {
    for (int64_t b = 0; b < m.dim(0) * m.dim(1); ++b)
      prefixMask(m, b, 0);
  };
  auto additive = [](Tensor &m) {
    // Random biases, some keys at -inf, one row entirely -inf.
    std::mt19937 rng(5);
    std::normal_distribution<double> normal(0, 2);
    for (int64_t i = 0; i < m.numel(); ++i)
      cpu::writeFloatFromDouble(m, i, i % 7 == 3 ? -INFINITY : normal(rng));
    int64_t S = m.dim(3);
    for (int64_t s = 0; s < S; ++s)
      cpu::writeFloatFromDouble(m, 2 * S + s, -INFINITY);
  };
  return {
      {"paligemma prefix-LM bf16 GQA",
       {2, 8, 1, 272, 272, 256, 256},
       DType::BF16,
       DType::BF16,
       DType::BF16,
       DType::Bool,
       {2, 1, 272, 272},
       [](Tensor &m) {
         prefixMask(m, 0, 266);
         prefixMask(m, 1, 259, {270, 271});
       },
       DType::BF16},
      {"siglip f32 no mask",
       {2, 4, 4, 64, 64, 72, 72},
       DType::F32,
       DType::F32,
       DType::F32,
       std::nullopt,
       {},
       nullptr,
       DType::F32},
      {"causal broadcast odd",
       {3, 4, 2, 37, 37, 13, 19},
       DType::F32,
       DType::F32,
       DType::F32,
       DType::Bool,
       {1, 1, 37, 37},
       causal,
       DType::F32},
      {"additive bf16 mask",
       {2, 3, 1, 33, 65, 40, 40},
       DType::F32,
       DType::F32,
       DType::F32,
       DType::BF16,
       {2, 3, 33, 65},
       additive,
       DType::F32},
      {"f64 head-broadcast mask",
       {2, 6, 3, 19, 23, 17, 17},
       DType::F64,
       DType::F64,
       DType::F64,
       DType::F64,
       {1, 6, 19, 23},
       additive,
       DType::F64},
      {"mixed dtypes",
       {1, 2, 1, 9, 11, 8, 6},
       DType::BF16,
       DType::F32,
       DType::F16,
       std::nullopt,
       {},
       nullptr,
       DType::F32},
      {"long keys, wide head",
       {1, 2, 1, 5, 700, 130, 67},
       DType::F32,
       DType::F32,
       DType::F32,
       DType::Bool,
       {1, 2, 5, 700},
       causal,
       DType::F32},
      // Blocks of 512 threads in f64, the kernels with the most registers
      // (above 128 per thread without their __launch_bounds__, and then
      // the launch fails).
      {"f64 long keys",
       {1, 2, 1, 3, 600, 24, 16},
       DType::F64,
       DType::F64,
       DType::F64,
       std::nullopt,
       {},
       nullptr,
       DType::F64},
  };
}

TEST_F(GpuAttention, ForwardAndGradientMatchTheCpu) {
  Module module = load(attentionSource());
  for (const Case &c : cases()) {
    const Dims &d = c.d;
    Tensor q = randomTensor(c.q, {d.B, d.Hq, d.L, d.D}, 1);
    Tensor k = randomTensor(c.k, {d.B, d.Hkv, d.S, d.D}, 2);
    Tensor v = randomTensor(c.v, {d.B, d.Hkv, d.S, d.Dv}, 3);
    Tensor dout = randomTensor(c.dout, {d.B, d.Hq, d.L, d.Dv}, 4);
    std::optional<Tensor> mask;
    if (c.mask) {
      mask.emplace(*c.mask, c.maskShape);
      c.fill(*mask);
    }
    const Tensor *maskp = mask ? &*mask : nullptr;
    double scale = 1 / std::sqrt(double(d.D));
    bool f64 = c.q == DType::F64;
    Tensor cpuOut(c.q, {d.B, d.Hq, d.L, d.Dv}), cpuDq(c.q, q.shape()),
        cpuDk(c.k, k.shape()), cpuDv(c.v, v.shape());
    cpu::attention(q, k, v, maskp, scale, cpuOut);
    cpu::attentionGrad(q, k, v, maskp, scale, dout, cpuDq, cpuDk, cpuDv);
    Bounds bounds = attentionBounds(d, q, k, v, maskp, dout, scale, f64);

    OnDevice dq_ = put(q), dk_ = put(k), dv_ = put(v), ddo = put(dout);
    std::optional<OnDevice> dm;
    if (mask)
      dm.emplace(put(*mask));
    const DeviceTensor *dmask = dm ? &dm->tensor : nullptr;
    AttentionShape fs = validateAttention(dq_.tensor, dk_.tensor, dv_.tensor,
                                          dmask, shapeOnly(cpuOut));
    AttentionShape gs = validateAttentionGrad(
        dq_.tensor, dk_.tensor, dv_.tensor, dmask, ddo.tensor, shapeOnly(cpuDq),
        shapeOnly(cpuDk), shapeOnly(cpuDv));
    DeviceBuffer workspace(
        context(), std::max<size_t>(attentionGradWorkspaceBytes(gs), 1));
    std::vector<Tensor> runs;
    for (int run = 0; run < 2; ++run) {
      OnDevice out = space(c.q, cpuOut.shape()), gq = space(c.q, q.shape()),
               gk = space(c.k, k.shape()), gv = space(c.v, v.shape());
      fillBytes(stream(), workspace.address(), 0xFF, workspace.bytes());
      launchAttention(module, stream(), dq_.tensor, dk_.tensor, dv_.tensor,
                      dmask, scale, out.tensor, workspace.address(),
                      attentionWorkspaceBytes(fs));
      launchAttentionGrad(module, stream(), dq_.tensor, dk_.tensor, dv_.tensor,
                          dmask, scale, ddo.tensor, gq.tensor, gk.tensor,
                          gv.tensor, workspace.address(), workspace.bytes());
      for (const OnDevice *o : {&out, &gq, &gk, &gv})
        runs.push_back(get(*o));
    }
    std::cout << c.name << "\n";
    expectAgree(c.name + " out", runs[0], cpuOut, bounds.out, f64);
    expectAgree(c.name + " dq", runs[1], cpuDq, bounds.dq, f64);
    expectAgree(c.name + " dk", runs[2], cpuDk, bounds.dk, f64);
    expectAgree(c.name + " dv", runs[3], cpuDv, bounds.dv, f64);
    for (int i = 0; i < 4; ++i)
      expectSameBytes(c.name, runs[i], runs[i + 4]);
  }
}

TEST_F(GpuAttention, RejectsAShortWorkspace) {
  Module module = load(attentionSource());
  Tensor q = randomTensor(DType::F32, {1, 2, 4, 8}, 1),
         k = randomTensor(DType::F32, {1, 1, 4, 8}, 2);
  OnDevice dq_ = put(q), dk_ = put(k), out = space(DType::F32, q.shape());
  AttentionShape s = validateAttention(dq_.tensor, dk_.tensor, dk_.tensor,
                                       nullptr, out.tensor);
  DeviceBuffer workspace(context(), attentionWorkspaceBytes(s));
  EXPECT_THROW(launchAttention(module, stream(), dq_.tensor, dk_.tensor,
                               dk_.tensor, nullptr, 1.0, out.tensor,
                               workspace.address(), workspace.bytes() - 1),
               Error);
}

// Without a device ------------------------------------------------------------

// Launches use up to 512 threads for the row kernels (keys or head dims above
// 480) and 256 for dK/dV. A kernel compiled without that bound may take more
// registers than a block of that size can have (the f64 row kernels took
// 132-136 on sm_90), and its launch fails; the bound makes the compiler fit.
TEST(AttentionSource, EveryKernelIsBoundedToTheThreadsItIsLaunchedWith) {
  if (!Nvrtc::instance().available())
    GTEST_SKIP() << "no NVRTC: " << Nvrtc::instance().unavailableReason();
  for (int arch : {80, 90}) {
    std::string ptx = Nvrtc::instance()
                          .compile(attentionSource(), CompileTarget{arch, true})
                          .image;
    for (const char *acc : {"float", "double"})
      for (const auto &[stem, threads] :
           std::vector<std::pair<std::string, int>>{
               {"pgc_attention_", 512},
               {"pgc_attention_grad_rows_", 512},
               {"pgc_attention_grad_keys_", 256}}) {
        std::string name = stem + acc;
        size_t entry = ptx.find(".entry " + name + "(");
        ASSERT_NE(entry, std::string::npos) << name;
        std::string header = ptx.substr(entry, ptx.find('{', entry) - entry);
        EXPECT_NE(header.find(".maxntid " + std::to_string(threads) + ","),
                  std::string::npos)
            << name << " for sm_" << arch;
      }
  }
}

std::string cpuMessage(const std::function<void()> &run) {
  try {
    run();
  } catch (const Error &e) {
    return e.what();
  }
  return "no error";
}

TEST(AttentionValidation, MessagesAreTheCpus) {
  struct Bad {
    Shape q, k, v;
    DType qType = DType::F32, vType = DType::F32;
    std::optional<Shape> mask;
    DType maskType = DType::Bool;
    Shape out, dout;
    DType outType = DType::F32, doutType = DType::F32, dkType = DType::F32;
  };
  Shape q{2, 4, 5, 8}, k{2, 2, 6, 8}, o{2, 4, 5, 8};
  std::vector<Bad> bads = {
      {{2, 4, 5}, k, k, DType::F32, DType::F32, {}, DType::Bool, o, o},
      {{2, 3, 5, 8}, k, k, DType::F32, DType::F32, {}, DType::Bool, o, o},
      {q, {2, 2, 6, 7}, k, DType::F32, DType::F32, {}, DType::Bool, o, o},
      {q, k, {2, 2, 5, 8}, DType::F32, DType::F32, {}, DType::Bool, o, o},
      {q, k, k, DType::I32, DType::F32, {}, DType::Bool, o, o},
      {q, k, k, DType::F32, DType::I64, {}, DType::Bool, o, o},
      {q, k, k, DType::F32, DType::F32, Shape{2, 2, 5, 6}, DType::Bool, o, o},
      {q, k, k, DType::F32, DType::F32, Shape{1, 1, 5, 6}, DType::I32, o, o},
      {q, k, k, DType::F32, DType::F32, Shape{1, 4, 5}, DType::Bool, o, o},
      {q, k, k, DType::F32, DType::F32, {}, DType::Bool, o, o, DType::BF16},
      {q, k, k, DType::F32, DType::F32, {}, DType::Bool, {2, 4, 5, 7}, o},
      {q, k, k, DType::F32, DType::F32, {}, DType::Bool, o, {2, 4, 6, 8}},
      {q,
       k,
       k,
       DType::F32,
       DType::F32,
       {},
       DType::Bool,
       o,
       o,
       DType::F32,
       DType::I32},
      {q,
       k,
       k,
       DType::F32,
       DType::F32,
       {},
       DType::Bool,
       o,
       o,
       DType::F32,
       DType::F32,
       DType::U8},
  };
  int checked = 0;
  for (const Bad &b : bads) {
    Tensor tq(b.qType, b.q), tk(DType::F32, b.k), tv(b.vType, b.v),
        out(b.outType, b.out), dout(b.doutType, b.dout), dq(DType::F32, b.q),
        dk(b.dkType, b.k), dv(b.vType, b.v);
    std::optional<Tensor> mask;
    if (b.mask)
      mask.emplace(b.maskType, *b.mask);
    const Tensor *tm = mask ? &*mask : nullptr;
    DeviceTensor gm = mask ? shapeOnly(*mask) : DeviceTensor{};
    const DeviceTensor *dm = mask ? &gm : nullptr;
    std::string cpuForward =
        cpuMessage([&] { cpu::attention(tq, tk, tv, tm, 1.0, out); });
    std::string gpuForward = cpuMessage([&] {
      validateAttention(shapeOnly(tq), shapeOnly(tk), shapeOnly(tv), dm,
                        shapeOnly(out));
    });
    EXPECT_EQ(gpuForward, cpuForward);
    std::string cpuGrad = cpuMessage(
        [&] { cpu::attentionGrad(tq, tk, tv, tm, 1.0, dout, dq, dk, dv); });
    std::string gpuGrad = cpuMessage([&] {
      validateAttentionGrad(shapeOnly(tq), shapeOnly(tk), shapeOnly(tv), dm,
                            shapeOnly(dout), shapeOnly(dq), shapeOnly(dk),
                            shapeOnly(dv));
    });
    EXPECT_EQ(gpuGrad, cpuGrad);
    checked += (cpuForward != "no error") + (cpuGrad != "no error");
  }
  // Every case but the forward-only and grad-only ones fails both ways.
  EXPECT_GE(checked, int(bads.size()));
}

TEST(AttentionValidation, WorkspaceCoversTheScoresInTheComputeType) {
  Tensor q(DType::BF16, {2, 8, 272, 256}), k(DType::BF16, {2, 1, 272, 256});
  AttentionShape s = validateAttention(shapeOnly(q), shapeOnly(k), shapeOnly(k),
                                       nullptr, shapeOnly(q));
  EXPECT_FALSE(s.f64);
  EXPECT_EQ(attentionWorkspaceBytes(s), size_t(2 * 8 * 272) * 272 * 4);
  Tensor dq64(DType::F64, q.shape());
  AttentionShape g = validateAttentionGrad(
      shapeOnly(q), shapeOnly(k), shapeOnly(k), nullptr, shapeOnly(q),
      shapeOnly(dq64), shapeOnly(k), shapeOnly(k));
  EXPECT_TRUE(g.f64);
  EXPECT_EQ(attentionGradWorkspaceBytes(g), size_t(2 * 8 * 272) * 272 * 16);
}

} // namespace
} // namespace pgc::cuda
