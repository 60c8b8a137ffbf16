// Training policies: freeze/train glob rules, LoRA adapters and NF4
// quantization targets over Hugging Face names.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pgc {

/// Matches a dotted parameter name against a glob: `*` matches within one
/// dotted component, `**` matches any run of components (dots included), `?`
/// matches one character that is not a dot.
/// Example: "vision_tower.**" matches every SigLIP parameter;
/// "**.layers.*.mlp.*.weight" matches the MLP weights of every layer.
bool globMatches(const std::string &pattern, const std::string &name);

/// Whether a LoRA or NF4 target selects a module (a parameter name without
/// its last component, e.g. "vision_tower.….self_attn.q_proj"). A target with
/// a glob character (`*`, `?`) is a glob over the whole module name; any
/// other target matches as peft's list form does: the module name equals it
/// or ends with "." + target, which is why "q_proj" also selects SigLIP's
/// attention projections.
bool moduleTargetMatches(const std::string &target, const std::string &module);

/// The LoRA section: y = base(x) + scaling * B(A(dropout(x))).
struct LoraPolicy {
  int64_t r = 8;
  double alpha = 8;
  double dropout = 0;
  bool rslora = false;
  std::vector<std::string> targets;
  /// peft's `target_modules` given as one string: a regular expression that
  /// must match the whole module name (re.fullmatch). Empty when unused.
  std::string targetRegex;

  /// alpha / r, or alpha / sqrt(r) with rsLoRA (peft's use_rslora).
  double scaling() const;
  /// Whether the targets (or the regex) select `module`.
  bool selects(const std::string &module) const;
};

/// The quantize section: which frozen linear weights become NF4 storage.
struct QuantizePolicy {
  std::vector<std::string> nf4; // module targets (as moduleTargetMatches)
  int64_t block = 64;
  bool doubleQuant = true;
  /// "bf16", "f16", "f32", or "auto" (the weight's own dtype). Inputs are
  /// cast to it for the matmul and the result cast back, as bitsandbytes'
  /// Linear4bit does with its compute_dtype.
  std::string computeDtype = "auto";

  bool selects(const std::string &module) const;
};

/// Ordered freeze/train rules (the last rule that matches a name decides; a
/// name no rule matches trains), plus optional LoRA and NF4 sections. Built
/// in C++ or read from YAML:
///
///   freeze: ["**"]
///   train:  ["language_model.**"]
///   lora:   {r: 8, alpha: 8, dropout: 0.0, targets: [q_proj, v_proj]}
///   quantize: {nf4: ["**.*_proj"], block: 64, double_quant: true,
///              compute_dtype: bf16}
///
/// Rules apply in the order their keys appear in the file, each list in its
/// own order, so "train" after "freeze" unfreezes what it names. LoRA
/// adapters (`<module>.lora_A.weight`, `<module>.lora_B.weight`) always
/// train and the base weights they wrap are frozen, as in peft.
class Policy {
public:
  enum class Action { Freeze, Train };
  struct Rule {
    Action action;
    std::string glob;
  };

  Policy &freeze(std::string glob);
  Policy &train(std::string glob);
  Policy &setLora(LoraPolicy lora);
  Policy &setQuantize(QuantizePolicy quantize);

  bool isTrainable(const std::string &parameterName) const;
  const std::vector<Rule> &rules() const { return rules_; }
  const std::optional<LoraPolicy> &lora() const { return lora_; }
  const std::optional<QuantizePolicy> &quantize() const { return quantize_; }

  /// Parses a policy file: YAML, or (name ending in .json) a peft
  /// adapter_config.json, which means freeze everything and add LoRA. Errors
  /// name the file, the line and the key.
  static Policy fromYamlFile(const std::string &path);
  /// As fromYamlFile, from text; `what` names the source in errors.
  static Policy fromYamlString(const std::string &text,
                               const std::string &what);
  /// A peft adapter_config.json's text (LoRA keys only).
  static Policy fromAdapterConfigString(const std::string &text,
                                        const std::string &what);

private:
  // The readers proper; the public ones turn any yaml-cpp exception that
  // slips past their checks into a pgc::Error naming the source.
  static Policy parseYaml(const std::string &text, const std::string &what);
  static Policy parseAdapterConfig(const std::string &text,
                                   const std::string &what);

  std::vector<Rule> rules_;
  std::optional<LoraPolicy> lora_;
  std::optional<QuantizePolicy> quantize_;
};

/// True for the parameter names pg-insert-lora creates.
bool isLoraAdapterName(const std::string &parameterName);

} // namespace pgc
