// pgc-compile: the MLIR half of pgc. `pgc compile ...` and `pgc forward ...` run it,
// so that pgc itself links no MLIR; it can also be run directly.
#include "tools/pgc-compile/Subcommands.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace pgc::compile_tool {

struct Registered {
  int order;
  SubcommandRegistrar registrar;
};

static std::vector<Registered> &registry() {
  static std::vector<Registered> entries;
  return entries;
}

SubcommandRegistration::SubcommandRegistration(int order,
                                               SubcommandRegistrar registrar) {
  registry().push_back({order, std::move(registrar)});
}

} // namespace pgc::compile_tool

int main(int argc, char **argv) {
  using namespace pgc::compile_tool;
  CLI::App app{"pgc-compile: the compiler half of pgc (MLIR)"};
  app.name("pgc");
  app.require_subcommand(1);
  auto entries = registry();
  std::sort(entries.begin(), entries.end(),
            [](const auto &a, const auto &b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App *, SubcommandAction>> actions;
  for (auto &entry : entries) {
    SubcommandAction action = entry.registrar(app);
    actions.emplace_back(app.get_subcommands({}).back(), std::move(action));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  for (auto &[sub, action] : actions) {
    if (!sub->parsed())
      continue;
    try {
      return action();
    } catch (const pgc::Error &e) {
      std::fprintf(stderr, "pgc %s: error: %s\n", sub->get_name().c_str(),
                   e.what());
      return 1;
    }
  }
  return 1;
}
