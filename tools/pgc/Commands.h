// The subcommands of `pgc`; each lives in its own Command*.cpp and registers itself here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace pgc::cli {

/// A subcommand adds itself to the app and returns the action to run when the
/// user picked it. Actions return the process exit code.
using CommandAction = std::function<int()>;
using CommandRegistrar = std::function<CommandAction(CLI::App &app)>;

/// Static registration: `CommandRegistration registration(order, registrar);`
/// in a Command*.cpp adds a subcommand; order fixes the --help listing.
struct CommandRegistration {
  CommandRegistration(int order, CommandRegistrar registrar);
};

struct RegisteredCommand {
  int order;
  CommandRegistrar registrar;
};
std::vector<RegisteredCommand> &registeredCommands();

/// Path of the running pgc executable's folder, for finding pgc-compile.
std::string executableDir();

} // namespace pgc::cli
