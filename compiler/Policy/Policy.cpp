// Policy rules, glob matching over dotted names, LoRA/NF4 target matching, and
// the YAML and peft readers.
#include "compiler/Policy/Policy.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <re2/re2.h>
#include <sstream>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace pgc {

namespace {

/// peft's regex form of target_modules, compiled by RE2: its matching time is
/// linear in the module name, whereas a backtracking engine (std::regex,
/// Python's re) takes exponential time on patterns like "(.*)*x", and policy
/// files are untrusted input. RE2 accepts Python's syntax except
/// backreferences and lookaround, which are reported as invalid.
std::unique_ptr<RE2> compileTargetRegex(const std::string &pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  return std::make_unique<RE2>(pattern, options);
}

} // namespace

// Dynamic programming over (pattern position, name position): matches[pi][si]
// says whether pattern[pi..] matches name[si..]. O(|pattern| * |name|) time;
// a backtracking matcher takes exponential time on patterns like "*.*.*.x" or
// a run of stars, and policy files are untrusted input (found by fuzz_policy).
bool globMatches(const std::string &pattern, const std::string &name) {
  const size_t m = pattern.size(), n = name.size();
  std::vector<std::vector<char>> matches(m + 1, std::vector<char>(n + 1, 0));
  matches[m][n] = 1;
  for (size_t pi = m; pi-- > 0;) {
    std::vector<char> &row = matches[pi];
    if (pattern.compare(pi, 2, "**") == 0) {
      // "**" matches any run of characters; "**." may also match nothing, so
      // "a.**.b" matches "a.b".
      const std::vector<char> &rest = matches[pi + 2];
      bool dotMayVanish = pi + 2 < m && pattern[pi + 2] == '.';
      bool anyLater = false;
      for (size_t si = n + 1; si-- > 0;) {
        anyLater = anyLater || rest[si];
        row[si] = anyLater || (dotMayVanish && matches[pi + 3][si]);
      }
    } else if (pattern[pi] == '*') {
      // "*" matches a run of characters within one dotted component.
      const std::vector<char> &rest = matches[pi + 1];
      for (size_t si = n + 1; si-- > 0;)
        row[si] = rest[si] || (si < n && name[si] != '.' && row[si + 1]);
    } else {
      // "?" matches one character that is not a dot; others match themselves.
      for (size_t si = 0; si < n; ++si) {
        bool same =
            pattern[pi] == '?' ? name[si] != '.' : pattern[pi] == name[si];
        row[si] = same && matches[pi + 1][si + 1];
      }
    }
  }
  return matches[0][0];
}

bool moduleTargetMatches(const std::string &target, const std::string &module) {
  if (target.find_first_of("*?") != std::string::npos)
    return globMatches(target, module);
  if (module == target)
    return true;
  return module.size() > target.size() &&
         module.compare(module.size() - target.size(), target.size(), target) ==
             0 &&
         module[module.size() - target.size() - 1] == '.';
}

double LoraPolicy::scaling() const {
  return rslora ? alpha / std::sqrt(static_cast<double>(r))
                : alpha / static_cast<double>(r);
}

bool LoraPolicy::selects(const std::string &module) const {
  if (!targetRegex.empty()) {
    // Passes ask once per parameter: compile the pattern once per thread.
    thread_local std::string compiledPattern;
    thread_local std::unique_ptr<RE2> compiled;
    if (!compiled || compiledPattern != targetRegex) {
      compiled = compileTargetRegex(targetRegex);
      compiledPattern = targetRegex;
    }
    return RE2::FullMatch(module, *compiled);
  }
  for (const std::string &target : targets)
    if (moduleTargetMatches(target, module))
      return true;
  return false;
}

bool QuantizePolicy::selects(const std::string &module) const {
  for (const std::string &target : nf4)
    if (moduleTargetMatches(target, module))
      return true;
  return false;
}

bool isLoraAdapterName(const std::string &name) {
  for (const char *suffix : {".lora_A.weight", ".lora_B.weight"}) {
    size_t n = std::char_traits<char>::length(suffix);
    if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0)
      return true;
  }
  return false;
}

Policy &Policy::freeze(std::string glob) {
  rules_.push_back({Action::Freeze, std::move(glob)});
  return *this;
}

Policy &Policy::train(std::string glob) {
  rules_.push_back({Action::Train, std::move(glob)});
  return *this;
}

Policy &Policy::setLora(LoraPolicy lora) {
  lora_ = std::move(lora);
  return *this;
}

Policy &Policy::setQuantize(QuantizePolicy quantize) {
  quantize_ = std::move(quantize);
  return *this;
}

bool Policy::isTrainable(const std::string &parameterName) const {
  // peft trains every adapter it adds, whatever the base model's flags are.
  if (lora_ && isLoraAdapterName(parameterName))
    return true;
  bool trainable = true;
  for (const Rule &rule : rules_)
    if (globMatches(rule.glob, parameterName))
      trainable = rule.action == Action::Train;
  return trainable;
}

namespace {

int lineOf(const YAML::Node &node) { return node.Mark().line + 1; }

// A mapping key as text; YAML allows lists and maps as keys, a policy not.
std::string keyOf(const YAML::Node &key, const std::string &what) {
  if (!key.IsScalar())
    fail("{}:{}: keys must be plain names, not a {}", what, lineOf(key),
         key.IsMap()        ? "mapping"
         : key.IsSequence() ? "list"
                            : "null");
  return key.Scalar();
}

template <typename T>
T scalarAs(const YAML::Node &node, const std::string &what,
           const std::string &key, const char *expected) {
  if (!node.IsScalar())
    fail("{}:{}: '{}' must be {}", what, lineOf(node), key, expected);
  try {
    return node.as<T>();
  } catch (const YAML::Exception &) {
    fail("{}:{}: '{}' must be {}, got '{}'", what, lineOf(node), key, expected,
         node.Scalar());
  }
}

std::vector<std::string> stringList(const YAML::Node &node,
                                    const std::string &what,
                                    const std::string &key) {
  if (!node.IsSequence())
    fail("{}:{}: '{}' must be a list of glob patterns", what, lineOf(node),
         key);
  std::vector<std::string> items;
  for (const auto &item : node) {
    if (!item.IsScalar() || item.Scalar().empty())
      fail("{}:{}: '{}' entries must be non-empty strings", what, lineOf(item),
           key);
    items.push_back(item.Scalar());
  }
  return items;
}

void checkLora(const LoraPolicy &lora, const std::string &what, int line) {
  if (lora.r < 1)
    fail("{}:{}: lora r must be a positive integer, got {}", what, line,
         lora.r);
  if (!(lora.alpha > 0))
    fail("{}:{}: lora alpha must be positive, got {}", what, line, lora.alpha);
  if (!(lora.dropout >= 0 && lora.dropout < 1))
    fail("{}:{}: lora dropout must be in [0, 1), got {}", what, line,
         lora.dropout);
  if (lora.targets.empty() && lora.targetRegex.empty())
    fail("{}:{}: lora needs targets (module names or globs)", what, line);
  if (!lora.targetRegex.empty()) {
    std::unique_ptr<RE2> regex = compileTargetRegex(lora.targetRegex);
    if (!regex->ok())
      fail("{}:{}: target_modules '{}' is not a valid regular expression: {}",
           what, line, lora.targetRegex, regex->error());
  }
}

// peft keys that pgc reads, and those it accepts only at their default
// (anything else there would change the adapters in ways pgc does not do).
void applyLoraKey(LoraPolicy &lora, const std::string &key,
                  const YAML::Node &value, const std::string &what,
                  bool peftOnly) {
  if (key == "r")
    lora.r = scalarAs<int64_t>(value, what, key, "an integer");
  else if (key == "lora_alpha" || (!peftOnly && key == "alpha"))
    lora.alpha = scalarAs<double>(value, what, key, "a number");
  else if (key == "lora_dropout" || (!peftOnly && key == "dropout"))
    lora.dropout = scalarAs<double>(value, what, key, "a number");
  else if (key == "use_rslora" || (!peftOnly && key == "rslora"))
    lora.rslora = scalarAs<bool>(value, what, key, "true or false");
  else if (key == "target_modules" || (!peftOnly && key == "targets")) {
    if (value.IsScalar() && key == "target_modules") {
      if (value.Scalar() == "all-linear")
        fail("{}:{}: target_modules 'all-linear' is not supported; list the "
             "modules",
             what, lineOf(value));
      lora.targetRegex = value.Scalar();
    } else {
      lora.targets = stringList(value, what, key);
    }
  } else
    fail("{}:{}: unknown lora key '{}' (expected r, alpha, dropout, targets, "
         "rslora or their peft names lora_alpha, lora_dropout, "
         "target_modules, use_rslora)",
         what, lineOf(value), key);
}

LoraPolicy parseLoraSection(const YAML::Node &node, const std::string &what,
                            int line) {
  if (!node.IsMap())
    fail("{}:{}: 'lora' must be a mapping (r, alpha, dropout, targets, "
         "rslora)",
         what, line);
  LoraPolicy lora;
  for (const auto &entry : node)
    applyLoraKey(lora, keyOf(entry.first, what), entry.second, what, false);
  checkLora(lora, what, line);
  return lora;
}

QuantizePolicy parseQuantizeSection(const YAML::Node &node,
                                    const std::string &what, int line) {
  if (!node.IsMap())
    fail("{}:{}: 'quantize' must be a mapping (nf4, block, double_quant, "
         "compute_dtype)",
         what, line);
  QuantizePolicy quantize;
  for (const auto &entry : node) {
    std::string key = keyOf(entry.first, what);
    const YAML::Node &value = entry.second;
    if (key == "nf4")
      quantize.nf4 = stringList(value, what, key);
    else if (key == "block")
      quantize.block = scalarAs<int64_t>(value, what, key, "an integer");
    else if (key == "double_quant")
      quantize.doubleQuant = scalarAs<bool>(value, what, key, "true or false");
    else if (key == "compute_dtype")
      quantize.computeDtype =
          scalarAs<std::string>(value, what, key, "a dtype");
    else
      fail("{}:{}: unknown quantize key '{}' (expected nf4, block, "
           "double_quant or compute_dtype)",
           what, lineOf(entry.first), key);
  }
  // bitsandbytes accepts power-of-two blocks from 32 to 4096.
  if (quantize.block < 32 || quantize.block > 4096 ||
      (quantize.block & (quantize.block - 1)))
    fail("{}:{}: quantize block must be a power of two in [32, 4096], got {}",
         what, line, quantize.block);
  const std::string &dtype = quantize.computeDtype;
  if (dtype != "auto" && dtype != "bf16" && dtype != "f16" && dtype != "f32")
    fail("{}:{}: quantize compute_dtype must be auto, bf16, f16 or f32, got "
         "'{}'",
         what, line, dtype);
  if (quantize.nf4.empty())
    fail("{}:{}: quantize needs an 'nf4' list of module targets", what, line);
  return quantize;
}

YAML::Node loadYaml(const std::string &text, const std::string &what) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception &e) {
    fail("{}:{}: invalid {}: {}", what, e.mark.line + 1,
         (what.size() >= 5 && what.compare(what.size() - 5, 5, ".json") == 0)
             ? "JSON"
             : "YAML",
         e.msg);
  }
}

} // namespace

Policy Policy::fromYamlString(const std::string &text,
                              const std::string &what) {
  try {
    return parseYaml(text, what);
  } catch (const YAML::Exception &e) {
    fail("{}:{}: invalid policy: {}", what, e.mark.line + 1, e.msg);
  }
}

Policy Policy::fromAdapterConfigString(const std::string &text,
                                       const std::string &what) {
  try {
    return parseAdapterConfig(text, what);
  } catch (const YAML::Exception &e) {
    fail("{}:{}: invalid adapter config: {}", what, e.mark.line + 1, e.msg);
  }
}

Policy Policy::parseYaml(const std::string &text, const std::string &what) {
  YAML::Node root = loadYaml(text, what);
  Policy policy;
  if (root.IsNull())
    return policy;
  if (!root.IsMap())
    fail("{}: a policy is a mapping with 'freeze', 'train', 'lora' and "
         "'quantize' keys",
         what);
  for (const auto &entry : root) {
    std::string key = keyOf(entry.first, what);
    int line = lineOf(entry.first);
    if (key == "lora") {
      if (policy.lora_)
        fail("{}:{}: 'lora' appears twice", what, line);
      policy.lora_ = parseLoraSection(entry.second, what, line);
      continue;
    }
    if (key == "quantize") {
      if (policy.quantize_)
        fail("{}:{}: 'quantize' appears twice", what, line);
      policy.quantize_ = parseQuantizeSection(entry.second, what, line);
      continue;
    }
    Action action;
    if (key == "freeze")
      action = Action::Freeze;
    else if (key == "train")
      action = Action::Train;
    else
      fail("{}:{}: unknown policy key '{}' (expected freeze, train, lora or "
           "quantize)",
           what, line, key);
    for (std::string &glob : stringList(entry.second, what, key))
      policy.rules_.push_back({action, std::move(glob)});
  }
  return policy;
}

Policy Policy::parseAdapterConfig(const std::string &text,
                                  const std::string &what) {
  YAML::Node root = loadYaml(text, what);
  if (!root.IsMap())
    fail("{}: an adapter_config.json is a JSON object", what);
  // Keys that only describe the adapter or the run, or whose value pgc
  // checks below; values that change the adapters' math are refused.
  static const char *const informational[] = {"base_model_name_or_path",
                                              "revision",
                                              "task_type",
                                              "inference_mode",
                                              "auto_mapping",
                                              "peft_version",
                                              "fan_in_fan_out",
                                              "init_lora_weights",
                                              "layers_pattern",
                                              "megatron_config",
                                              "megatron_core",
                                              "loftq_config",
                                              "exclude_modules",
                                              "lora_bias",
                                              "use_dora",
                                              "bias",
                                              "modules_to_save",
                                              "layers_to_transform",
                                              "rank_pattern",
                                              "alpha_pattern",
                                              "layer_replication",
                                              "runtime_config",
                                              "eva_config",
                                              "corda_config",
                                              "trainable_token_indices",
                                              "target_parameters",
                                              "qalora_group_size",
                                              "use_qalora"};
  LoraPolicy lora;
  int line = 1;
  for (const auto &entry : root) {
    std::string key = keyOf(entry.first, what);
    const YAML::Node &value = entry.second;
    if (key == "peft_type") {
      if (value.Scalar() != "LORA")
        fail("{}:{}: peft_type '{}' is not LORA", what, lineOf(value),
             value.Scalar());
      continue;
    }
    if (std::find(std::begin(informational), std::end(informational), key) !=
        std::end(informational)) {
      bool isDefault = value.IsNull() ||
                       (value.IsScalar() && (value.Scalar() == "false" ||
                                             value.Scalar() == "none")) ||
                       (value.IsMap() && value.size() == 0) ||
                       (value.IsSequence() && value.size() == 0);
      bool changesMath =
          key == "use_dora" || key == "bias" || key == "lora_bias" ||
          key == "modules_to_save" || key == "layers_to_transform" ||
          key == "rank_pattern" || key == "alpha_pattern" ||
          key == "layer_replication" || key == "use_qalora" ||
          key == "exclude_modules" || key == "fan_in_fan_out" ||
          key == "trainable_token_indices" || key == "target_parameters";
      if (changesMath && !isDefault)
        fail("{}:{}: '{}' = {} is not supported by pgc (only its default)",
             what, lineOf(value), key,
             value.IsScalar() ? value.Scalar() : std::string("(non-empty)"));
      if (key == "init_lora_weights" &&
          !(value.IsScalar() && value.Scalar() == "true"))
        fail("{}:{}: init_lora_weights must be true (kaiming-uniform A, zero "
             "B)",
             what, lineOf(value));
      continue;
    }
    applyLoraKey(lora, key, value, what, true);
  }
  checkLora(lora, what, line);
  Policy policy;
  policy.freeze("**");
  policy.lora_ = std::move(lora);
  return policy;
}

Policy Policy::fromYamlFile(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    fail("{}: cannot open policy file", path);
  std::stringstream text;
  text << in.rdbuf();
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0)
    return fromAdapterConfigString(text.str(), path);
  return fromYamlString(text.str(), path);
}

} // namespace pgc
