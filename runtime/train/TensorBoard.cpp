// Writing TensorBoard event files: Event records in TFRecord framing.
//
// The three messages (Event, Summary, Summary.Value) are encoded here rather
// than through libprotobuf: Debian's libsentencepiece, which pgc links for
// the tokenizer, exports the symbols of its own bundled protobuf-lite, so a
// second protobuf in the process binds MessageLite calls into sentencepiece's
// copy and crashes (measured: SerializeAsString segfaulted inside
// libsentencepiece.so.0). The wire format needed is four field kinds.
#include "runtime/train/TensorBoard.h"

#include "runtime/support/Crc32c.h"
#include "runtime/support/Error.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <unistd.h>

namespace pgc::train {
namespace {

double wallTime() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == 0)
    return "localhost";
  return name;
}

void appendLittleEndian(std::string &out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// Protobuf wire format: a key is (field << 3) | wire type; 0 varint, 1 64-bit,
// 2 length-delimited, 5 32-bit; integers little-endian.
void appendVarint(std::string &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void appendKey(std::string &out, int field, int wireType) {
  appendVarint(out, (static_cast<uint64_t>(field) << 3) | wireType);
}

void appendBytes(std::string &out, int field, const std::string &bytes) {
  appendKey(out, field, 2);
  appendVarint(out, bytes.size());
  out += bytes;
}

void appendDouble(std::string &out, int field, double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, 8);
  appendKey(out, field, 1);
  appendLittleEndian(out, bits, 8);
}

void appendFloat(std::string &out, int field, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  appendKey(out, field, 5);
  appendLittleEndian(out, bits, 4);
}

// TensorBoard's field numbers (tensorboard/compat/proto/event.proto and
// summary.proto): Event.wall_time 1, step 2, file_version 3, summary 5;
// Summary.value 1; Summary.Value.tag 1, simple_value 2.
std::string eventHeader(double wallTime) {
  std::string event;
  appendDouble(event, 1, wallTime);
  return event;
}

} // namespace

TensorBoardLog::TensorBoardLog(const std::string &dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    fail("{}: cannot create the TensorBoard folder: {}", dir, ec.message());
  // The last number counts the files this process opened, so that two logs
  // started in the same second never share a file.
  static std::atomic<int> opened{0};
  path_ = (std::filesystem::path(dir) /
           fmt::format("events.out.tfevents.{}.{}.{}.{}",
                       static_cast<int64_t>(wallTime()), hostName(),
                       static_cast<long>(::getpid()), opened++))
              .string();
  file_ = std::fopen(path_.c_str(), "wbx");
  if (!file_)
    fail("{}: cannot open for writing: {}", path_, std::strerror(errno));
  std::string event = eventHeader(wallTime());
  appendBytes(event, 3, "brain.Event:2");
  try {
    writeEvent(event);
  } catch (...) {
    std::fclose(file_);
    throw;
  }
}

TensorBoardLog::~TensorBoardLog() {
  if (file_)
    std::fclose(file_);
}

void TensorBoardLog::writeScalars(int64_t step, const Scalars &scalars) {
  std::string summary;
  for (const auto &[tag, value] : scalars) {
    std::string entry;
    appendBytes(entry, 1, tag);
    appendFloat(entry, 2, static_cast<float>(value));
    appendBytes(summary, 1, entry);
  }
  std::string event = eventHeader(wallTime());
  appendKey(event, 2, 0);
  appendVarint(event, static_cast<uint64_t>(step));
  appendBytes(event, 5, summary);
  writeEvent(event);
}

void TensorBoardLog::writeEvent(const std::string &serialized) {
  std::string header;
  appendLittleEndian(header, serialized.size(), 8);
  std::string record = header;
  appendLittleEndian(record, maskedCrc32c(header.data(), header.size()), 4);
  record += serialized;
  appendLittleEndian(record, maskedCrc32c(serialized.data(), serialized.size()),
                     4);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fflush(file_) != 0)
    fail("{}: cannot write: {}", path_, std::strerror(errno));
}

Scalars tensorBoardScalars(const nlohmann::json &record) {
  Scalars scalars;
  for (const auto &[key, value] : record.items()) {
    if (key == "step" || !value.is_number())
      continue;
    std::string tag;
    if (key.rfind("eval_", 0) == 0)
      tag = "eval/" + key.substr(5);
    else
      tag = "train/" + (key == "lr" ? std::string("learning_rate") : key);
    scalars.emplace_back(tag, value.get<double>());
  }
  return scalars;
}

} // namespace pgc::train
