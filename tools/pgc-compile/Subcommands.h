// Subcommands of pgc-compile (reached as `pgc compile`, `pgc forward`, ...); one file each.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace pgc::compile_tool {

/// A subcommand adds itself to the app and returns its action (exit code).
using SubcommandAction = std::function<int()>;
using SubcommandRegistrar = std::function<SubcommandAction(CLI::App &)>;

struct SubcommandRegistration {
  SubcommandRegistration(int order, SubcommandRegistrar registrar);
};

} // namespace pgc::compile_tool
