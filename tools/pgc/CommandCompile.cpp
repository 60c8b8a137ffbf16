// `pgc compile` and `pgc forward`: forwarded to pgc-compile, the MLIR-based compiler next to pgc.
//
// pgc itself links no MLIR so that it runs alone on machines without LLVM; the
// compiler is a separate executable, found in the same folder as pgc.
#include "tools/pgc/Commands.h"

#include "runtime/support/Error.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace pgc::cli {
namespace {

std::vector<std::string> forwardedArgs;

// Registers a subcommand whose arguments go, unparsed, to pgc-compile.
CommandAction forwardToCompiler(CLI::App &app, const std::string &name,
                                const std::string &description) {
  CLI::App *sub = app.add_subcommand(name, description);
  sub->prefix_command();
  sub->set_help_flag();
  sub->allow_extras();
  return [sub]() -> int {
    std::string compiler = executableDir() + "/pgc-compile";
    if (::access(compiler.c_str(), X_OK) != 0)
      fail("{}: not found; pgc compile needs the compiler, built when "
           "PGC_BUILD_COMPILER=ON",
           compiler);
    forwardedArgs = sub->remaining();
    forwardedArgs.insert(forwardedArgs.begin(), sub->get_name());
    std::vector<char *> argv;
    argv.push_back(const_cast<char *>(compiler.c_str()));
    for (std::string &arg : forwardedArgs)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(compiler.c_str(), argv.data());
    fail("{}: cannot execute: {}", compiler, std::strerror(errno));
  };
}

CommandRegistration compileRegistration(10, [](CLI::App &app) {
  return forwardToCompiler(
      app, "compile",
      "Compile a model and its training step into a .pgc artifact (`pgc "
      "compile --help` lists its options)");
});

CommandRegistration forwardRegistration(15, [](CLI::App &app) {
  return forwardToCompiler(
      app, "forward",
      "Build a model from a Hugging Face config and run its forward (and "
      "backward) pass on a batch, for reference checks (`pgc forward --help`)");
});

} // namespace
} // namespace pgc::cli
