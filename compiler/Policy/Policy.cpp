// Policy rules, glob matching over dotted names, and the YAML policy reader.
#include "compiler/Policy/Policy.h"

#include "runtime/support/Error.h"

#include <fstream>
#include <sstream>
#include <yaml-cpp/yaml.h>

namespace pgc {

namespace {

bool matchFrom(const std::string &p, size_t pi, const std::string &s,
               size_t si) {
  while (pi < p.size()) {
    if (p.compare(pi, 2, "**") == 0) {
      // "**." may also match nothing, so "a.**.b" matches "a.b".
      size_t next = pi + 2;
      if (next < p.size() && p[next] == '.' && matchFrom(p, next + 1, s, si))
        return true;
      for (size_t k = si; k <= s.size(); ++k)
        if (matchFrom(p, next, s, k))
          return true;
      return false;
    }
    if (p[pi] == '*') {
      for (size_t k = si; k <= s.size(); ++k) {
        if (matchFrom(p, pi + 1, s, k))
          return true;
        if (k < s.size() && s[k] == '.')
          break;
      }
      return false;
    }
    if (si >= s.size())
      return false;
    if (p[pi] == '?' ? s[si] == '.' : p[pi] != s[si])
      return false;
    ++pi;
    ++si;
  }
  return si == s.size();
}

} // namespace

bool globMatches(const std::string &pattern, const std::string &name) {
  return matchFrom(pattern, 0, name, 0);
}

Policy &Policy::freeze(std::string glob) {
  rules_.push_back({Action::Freeze, std::move(glob)});
  return *this;
}

Policy &Policy::train(std::string glob) {
  rules_.push_back({Action::Train, std::move(glob)});
  return *this;
}

bool Policy::isTrainable(const std::string &parameterName) const {
  bool trainable = true;
  for (const Rule &rule : rules_)
    if (globMatches(rule.glob, parameterName))
      trainable = rule.action == Action::Train;
  return trainable;
}

Policy Policy::fromYamlString(const std::string &text,
                              const std::string &what) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception &e) {
    fail("{}:{}: invalid YAML: {}", what, e.mark.line + 1, e.msg);
  }
  Policy policy;
  if (root.IsNull())
    return policy;
  if (!root.IsMap())
    fail("{}: a policy is a mapping with 'freeze' and 'train' lists", what);
  for (const auto &entry : root) {
    std::string key = entry.first.as<std::string>();
    int line = entry.first.Mark().line + 1;
    Action action;
    if (key == "freeze")
      action = Action::Freeze;
    else if (key == "train")
      action = Action::Train;
    else if (key == "lora" || key == "quantize")
      fail("{}:{}: '{}' policies are not supported by this pgc yet", what,
           line, key);
    else
      fail("{}:{}: unknown policy key '{}' (expected freeze or train)", what,
           line, key);
    const YAML::Node &list = entry.second;
    if (!list.IsSequence())
      fail("{}:{}: '{}' must be a list of glob patterns", what, line, key);
    for (const auto &item : list) {
      if (!item.IsScalar() || item.as<std::string>().empty())
        fail("{}:{}: '{}' entries must be non-empty strings", what,
             item.Mark().line + 1, key);
      policy.rules_.push_back({action, item.as<std::string>()});
    }
  }
  return policy;
}

Policy Policy::fromYamlFile(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    fail("{}: cannot open policy file", path);
  std::stringstream text;
  text << in.rdbuf();
  return fromYamlString(text.str(), path);
}

} // namespace pgc
