// Training policies: which parameters train, as ordered glob rules over Hugging Face names.
#pragma once

#include <string>
#include <vector>

namespace pgc {

/// Matches a dotted parameter name against a glob: `*` matches within one
/// dotted component, `**` matches any run of components (dots included), `?`
/// matches one character that is not a dot.
/// Example: "vision_tower.**" matches every SigLIP parameter;
/// "**.layers.*.mlp.*.weight" matches the MLP weights of every layer.
bool globMatches(const std::string &pattern, const std::string &name);

/// Ordered freeze/train rules; the last rule that matches a name decides.
/// A name no rule matches trains. Built in C++ or read from YAML:
///
///   freeze: ["**"]
///   train:  ["language_model.**"]
///
/// Rules apply in the order their keys appear in the file, each list in its
/// own order, so "train" after "freeze" unfreezes what it names.
class Policy {
public:
  enum class Action { Freeze, Train };
  struct Rule {
    Action action;
    std::string glob;
  };

  Policy &freeze(std::string glob);
  Policy &train(std::string glob);
  bool isTrainable(const std::string &parameterName) const;
  const std::vector<Rule> &rules() const { return rules_; }

  /// Parses a policy file. Errors name the file, the line and the key.
  static Policy fromYamlFile(const std::string &path);
  /// As fromYamlFile, from text; `what` names the source in errors.
  static Policy fromYamlString(const std::string &text, const std::string &what);

private:
  std::vector<Rule> rules_;
};

} // namespace pgc
