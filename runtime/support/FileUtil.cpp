// Atomic file replacement and whole-file reads with errors that name the path.
#include "runtime/support/FileUtil.h"

#include "runtime/support/Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>

namespace pgc {

void writeFileAtomically(const std::string &path, std::string_view bytes) {
  writeFileAtomically(path, std::vector<std::string_view>{bytes});
}

void writeFileAtomically(const std::string &path,
                         const std::vector<std::string_view> &pieces) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail("{}: cannot create: {}", path, std::strerror(errno));
  for (std::string_view bytes : pieces) {
    const char *data = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t written = ::write(fd, data, left);
      if (written < 0) {
        if (errno == EINTR)
          continue;
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        fail("{}: write failed: {}", path, std::strerror(err));
      }
      data += written;
      left -= static_cast<size_t>(written);
    }
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail("{}: cannot flush: {}", path, std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail("{}: cannot rename into place: {}", path, std::strerror(err));
  }
}

std::vector<char> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("{}: cannot open: {}", path, std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0)
    fail("{}: cannot determine size", path);
  in.seekg(0, std::ios::beg);
  std::vector<char> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(bytes.data(), size))
    fail("{}: read failed", path);
  return bytes;
}

} // namespace pgc
