// Grouping pg.param ops by layer-index pattern and printing them with totals.
#include "models/paligemma/ParameterTable.h"

#include "compiler/Dialect/Pg.h"

#include <fmt/format.h>
#include <map>
#include <regex>
#include <set>

namespace pgc::models {

std::vector<ParameterGroup> groupParameters(mlir::ModuleOp module) {
  static const std::regex layerIndex(R"(\.[0-9]+\.)");
  std::vector<ParameterGroup> groups;
  std::map<std::pair<std::string, Shape>, size_t> groupOf;
  std::set<std::string> seen;
  module.walk([&](mlir::pg::ParamOp param) {
    std::string name = param.getName().str();
    if (!seen.insert(name).second)
      return;
    auto type = llvm::cast<mlir::ShapedType>(param.getType());
    Shape shape(type.getShape().begin(), type.getShape().end());
    std::string pattern = std::regex_replace(name, layerIndex, ".*.");
    auto [it, inserted] =
        groupOf.emplace(std::make_pair(pattern, shape), groups.size());
    if (inserted)
      groups.push_back({pattern, shape, 0, 0, numElements(shape)});
    ParameterGroup &group = groups[it->second];
    ++group.instances;
    group.trainableInstances += param.getTrainable() ? 1 : 0;
  });
  return groups;
}

std::string withThousandsSeparators(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string result;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      result += ',';
    result += digits[i];
  }
  return value < 0 ? "-" + result : result;
}

std::string formatParameterTable(const std::vector<ParameterGroup> &groups) {
  size_t patternWidth = std::string("parameter").size();
  for (const ParameterGroup &group : groups)
    patternWidth = std::max(patternWidth, group.pattern.size());
  std::string out =
      fmt::format("{:<{}}  {:<20}  {:>5}  {:>15}  {}\n", "parameter",
                  patternWidth, "shape", "count", "parameters", "status");
  int64_t total = 0, trainable = 0;
  for (const ParameterGroup &group : groups) {
    int64_t elements = group.elementsEach * group.instances;
    total += elements;
    trainable += group.elementsEach * group.trainableInstances;
    std::string status =
        group.trainableInstances == group.instances ? "trainable"
        : group.trainableInstances == 0
            ? "frozen"
            : fmt::format("trainable {} of {}", group.trainableInstances,
                          group.instances);
    out += fmt::format("{:<{}}  {:<20}  {:>5}  {:>15}  {}\n", group.pattern,
                       patternWidth, formatShape(group.shape), group.instances,
                       withThousandsSeparators(elements), status);
  }
  out += fmt::format("total {} parameters: trainable {}, frozen {}\n",
                     withThousandsSeparators(total),
                     withThousandsSeparators(trainable),
                     withThousandsSeparators(total - trainable));
  return out;
}

} // namespace pgc::models
