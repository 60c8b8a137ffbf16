// Entry point of `pgc`: parses the command line and dispatches to a subcommand.
#include "tools/pgc/Commands.h"

#include "runtime/support/Error.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <fmt/format.h>
#include <unistd.h>

namespace pgc::cli {

std::vector<RegisteredCommand> &registeredCommands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

CommandRegistration::CommandRegistration(int order, CommandRegistrar registrar) {
  registeredCommands().push_back({order, std::move(registrar)});
}

std::string executableDir() {
  char buffer[PATH_MAX];
  ssize_t length = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (length <= 0)
    return ".";
  std::string path(buffer, static_cast<size_t>(length));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

} // namespace pgc::cli

int main(int argc, char **argv) {
  using namespace pgc::cli;
  CLI::App app{"pgc: compile and run fine-tuning of PaliGemma-class "
               "vision-language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pgc 0.1.0");

  auto commands = registeredCommands();
  std::sort(commands.begin(), commands.end(),
                   [](const auto &a, const auto &b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App *, CommandAction>> actions;
  for (auto &command : commands) {
    size_t before = app.get_subcommands({}).size();
    CommandAction action = command.registrar(app);
    auto subcommands = app.get_subcommands({});
    if (subcommands.size() > before)
      actions.emplace_back(subcommands.back(), std::move(action));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  try {
    for (auto &[sub, action] : actions)
      if (sub->parsed())
        return action();
  } catch (const pgc::Error &e) {
    std::fprintf(stderr, "pgc: error: %s\n", e.what());
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "pgc: internal error: %s\n", e.what());
    return 2;
  }
  return 1;
}
