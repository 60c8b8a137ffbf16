// Scratch folders, raw file bytes and the bridge to the independent Python
// safetensors reader.
#include "tests/unit/weights/WeightsTestSupport.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace pgc::test {

ScratchDir::ScratchDir() {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("pgc-weights-test-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  path_ = dir.string();
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string safetensorsBytes(const std::string &header,
                             const std::string &data) {
  std::string bytes(8, '\0');
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes + header + data;
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string errorFrom(const std::function<void()> &action) {
  try {
    action();
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

ReferenceFile readWithReference(const std::string &path) {
  ScratchDir scratch;
  std::string output = scratch.file("reference.jsonl");
  std::string command = std::string("/usr/bin/python3 ") + PGC_SOURCE_DIR +
                        "/tests/unit/weights/safetensors_reference.py '" +
                        path + "' > '" + output + "'";
  int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command;
  ReferenceFile file;
  std::ifstream in(output);
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    auto json = nlohmann::json::parse(line);
    if (first) {
      file.metadata =
          json["metadata"].get<std::map<std::string, std::string>>();
      first = false;
      continue;
    }
    ReferenceTensor tensor;
    tensor.name = json["name"];
    tensor.dtype = json["dtype"];
    tensor.shape = json["shape"].get<Shape>();
    tensor.begin = json["begin"];
    tensor.end = json["end"];
    tensor.values = json["values"].get<std::vector<std::string>>();
    file.tensors.push_back(std::move(tensor));
  }
  EXPECT_FALSE(first) << "the reference reader printed nothing for " << path;
  return file;
}

std::string referenceRejection(const std::string &path) {
  ScratchDir scratch;
  std::string errors = scratch.file("reference.err");
  std::string command = std::string("/usr/bin/python3 ") + PGC_SOURCE_DIR +
                        "/tests/unit/weights/safetensors_reference.py '" +
                        path + "' > /dev/null 2> '" + errors + "'";
  int status = std::system(command.c_str());
  std::ifstream in(errors);
  std::string line;
  std::getline(in, line);
  if (status == 0)
    return "";
  EXPECT_EQ(line.rfind("rejected: ", 0), 0u) << command << ": " << line;
  return line.empty() ? "failed" : line;
}

namespace {

// Compares element i exactly: floats bit-for-bit as values (NaN with NaN),
// 64-bit integers without a detour through double.
void expectElementEquals(const Tensor &tensor, int64_t i,
                         const std::string &expected, const std::string &name) {
  if (isFloat(tensor.dtype())) {
    double want = std::strtod(expected.c_str(), nullptr);
    double got = tensor.at(i);
    if (std::isnan(want))
      EXPECT_TRUE(std::isnan(got)) << name << "[" << i << "]";
    else
      EXPECT_EQ(got, want) << name << "[" << i << "]";
  } else if (tensor.dtype() == DType::I64) {
    EXPECT_EQ(tensor.data<int64_t>()[i], std::stoll(expected))
        << name << "[" << i << "]";
  } else {
    EXPECT_EQ(tensor.at(i), static_cast<double>(std::stoll(expected)))
        << name << "[" << i << "]";
  }
}

} // namespace

void expectAgreesWithReference(const SafetensorsFile &file) {
  ReferenceFile reference = readWithReference(file.path());
  EXPECT_EQ(file.metadata(), reference.metadata);
  EXPECT_EQ(file.tensors().size(), reference.tensors.size());
  for (const ReferenceTensor &want : reference.tensors) {
    const TensorInfo *info = file.find(want.name);
    ASSERT_NE(info, nullptr) << want.name;
    EXPECT_EQ(info->storedDType, want.dtype) << want.name;
    EXPECT_EQ(info->shape, want.shape) << want.name;
    EXPECT_EQ(info->begin, want.begin) << want.name;
    EXPECT_EQ(info->end, want.end) << want.name;
    if (!info->loadable)
      continue;
    Tensor tensor = file.tensor(want.name);
    ASSERT_EQ(static_cast<size_t>(tensor.numel()), want.values.size())
        << want.name;
    for (int64_t i = 0; i < tensor.numel(); ++i)
      expectElementEquals(tensor, i, want.values[i], want.name);
  }
}

} // namespace pgc::test
