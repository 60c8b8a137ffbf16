// `pgc plot RUN_DIR [-o curves.png]`: a PNG of a run's metrics.jsonl
// (training loss, learning rate, evaluation loss and accuracy against the
// step), drawn by Debian's gnuplot from the script runtime/train/MetricsPlot
// writes.
#include "tools/pgc/Commands.h"

#include "runtime/support/Error.h"
#include "runtime/support/FileUtil.h"
#include "runtime/train/MetricsPlot.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace fs = std::filesystem;

namespace pgc::cli {
namespace {

struct PlotOptions {
  std::string runDir;
  std::string output; // default RUN_DIR/curves.png
};
PlotOptions options;

// Removes the files it holds when the command leaves, however it leaves.
struct TemporaryFiles {
  std::vector<std::string> paths;
  ~TemporaryFiles() {
    for (const std::string &path : paths)
      ::unlink(path.c_str());
  }
};

// $PGC_GNUPLOT, else gnuplot from PATH.
std::string gnuplotProgram() {
  const char *chosen = std::getenv("PGC_GNUPLOT");
  return chosen && *chosen ? chosen : "gnuplot";
}

// Runs gnuplot on `script` with its stderr in `errorPath`; the first line of
// what it said on failure.
void runGnuplot(const std::string &script, const std::string &errorPath) {
  std::string program = gnuplotProgram();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, errorPath.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char *> argv = {program.data(),
                              const_cast<char *>(script.c_str()), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(),
                          environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    fail("{}: cannot run: {} (pgc plot needs gnuplot; Debian: apt-get "
         "install gnuplot-nox)",
         program, std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      fail("{}: wait failed: {}", program, std::strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return;
  std::string said;
  try {
    std::vector<char> bytes = readFile(errorPath);
    said.assign(bytes.begin(), bytes.end());
  } catch (const Error &) {
  }
  // gnuplot echoes the failing line first; its message follows.
  std::string message;
  for (size_t begin = 0; begin < said.size();) {
    size_t end = said.find('\n', begin);
    std::string line = said.substr(begin, end - begin);
    if (line.find_first_not_of(" ^\t") != std::string::npos)
      message = line;
    if (line.find("error") != std::string::npos ||
        line.find("line ") != std::string::npos)
      break;
    begin = end == std::string::npos ? said.size() : end + 1;
  }
  fail("{} failed ({}): {}", program,
       WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status))
                         : fmt::format("signal {}", WTERMSIG(status)),
       message.empty() ? "no message" : message);
}

int plot() {
  fs::path runDir(options.runDir);
  if (!fs::is_directory(runDir))
    fail("{}: no such folder (give a pgc run --output-dir)", options.runDir);
  fs::path metrics = runDir / "metrics.jsonl";
  if (!fs::is_regular_file(metrics))
    fail("{}: no metrics.jsonl (not a pgc run output folder?)", options.runDir);
  fs::path output =
      options.output.empty() ? runDir / "curves.png" : fs::path(options.output);
  fs::path folder = fs::absolute(output).parent_path();
  if (!fs::is_directory(folder))
    fail("-o {}: the folder {} does not exist", output.string(),
         folder.string());
  train::MetricsHistory history = train::readMetricsHistory(metrics.string());

  // gnuplot draws into a hidden sibling that is renamed into place, so an
  // interrupted or failed plot never leaves a partial PNG under the name.
  std::string stem =
      fmt::format(".{}.tmp-{}", output.filename().string(), ::getpid());
  TemporaryFiles temporaries;
  std::string png = (folder / (stem + ".png")).string();
  std::string script = (folder / (stem + ".gp")).string();
  std::string errors = (folder / (stem + ".log")).string();
  temporaries.paths = {png, script, errors};
  size_t evaluations =
      std::max(history.evalLoss.size(), history.evalAccuracy.size());
  auto count = [](size_t n, const char *noun) {
    return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
  };
  std::string counts = count(history.loss.size(), "logged step") + ", " +
                       count(evaluations, "evaluation");
  std::string title = fmt::format(
      "{}: {}", fs::absolute(runDir).lexically_normal().filename().string(),
      counts);
  writeFileAtomically(script, train::gnuplotScript(history, png, title));
  runGnuplot(script, errors);
  std::vector<char> bytes = readFile(png);
  static const char kPngSignature[] = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kPngSignature, 8) != 0)
    fail("{}: gnuplot wrote no PNG", png);
  if (::rename(png.c_str(), output.c_str()) != 0)
    fail("{}: cannot rename into place: {}", output.string(),
         std::strerror(errno));
  fmt::print("wrote {}: {}\n", output.string(), counts);
  return 0;
}

CommandAction registerPlot(CLI::App &app) {
  CLI::App *sub = app.add_subcommand(
      "plot", "Draw a run's metrics.jsonl as a PNG: training loss and "
              "learning rate, evaluation loss and accuracy, against the step "
              "(needs gnuplot)");
  sub->add_option("run_dir", options.runDir,
                  "A pgc run --output-dir (holding metrics.jsonl)")
      ->required();
  sub->add_option("-o,--output", options.output,
                  "The PNG to write (default RUN_DIR/curves.png)");
  return [] { return plot(); };
}

CommandRegistration registration(44, registerPlot);

} // namespace
} // namespace pgc::cli
