// File helpers shared by every writer: atomic replace (temporary file, fsync,
// rename) and whole-file reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgc {

/// Writes `bytes` to `path` atomically: a temporary file in the same folder
/// is written, fsynced and renamed over `path`, so a reader never sees a
/// half-written file. Throws pgc::Error naming the path on failure.
void writeFileAtomically(const std::string &path, std::string_view bytes);
/// The same for a file made of several pieces written in order, so that a
/// large file need not first be copied into one buffer.
void writeFileAtomically(const std::string &path,
                         const std::vector<std::string_view> &pieces);

/// Reads a whole file. Throws pgc::Error naming the path on failure.
std::vector<char> readFile(const std::string &path);

/// A file of a folder being written: its name in the folder and its content.
struct FolderFile {
  std::string name;
  std::string content;
};

} // namespace pgc
