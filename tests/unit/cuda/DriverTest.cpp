// Checks that every way of lacking a GPU becomes a "no CUDA device" status,
// never a crash.
#include "runtime/cuda/Device.h"

#include "runtime/support/Error.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace pgc::cuda {
namespace {

TEST(Driver, MissingLibraryMeansNoDevice) {
  Driver driver({"/nonexistent/libcuda.so.1"});
  EXPECT_FALSE(driver.available());
  EXPECT_EQ(driver.status().reason.rfind("no CUDA device:", 0), 0u)
      << driver.status().reason;
  EXPECT_NE(driver.status().reason.find("/nonexistent/libcuda.so.1"),
            std::string::npos);
  EXPECT_THROW(driver.api(), Error);
  EXPECT_THROW(Context(0, driver), Error);
}

TEST(Driver, ToolkitStubDriverMeansNoDevice) {
  std::string stub =
      std::string(PGC_TEST_CUDA_HOME) + "/lib64/stubs/libcuda.so";
  struct stat info;
  if (::stat(stub.c_str(), &info) != 0)
    GTEST_SKIP() << "no stub driver at " << stub;
  Driver driver({stub});
  EXPECT_FALSE(driver.available());
  EXPECT_EQ(driver.status().reason,
            "no CUDA device: the loaded libcuda is the toolkit's stub, not a "
            "driver");
}

TEST(Driver, ProcessDriverAnswersEitherWay) {
  // On a GPU machine this finds the device; elsewhere it must explain why not.
  const DriverStatus &status = Driver::instance().status();
  if (status.available) {
    EXPECT_GT(status.deviceCount, 0);
    EXPECT_GE(status.driverVersion, kRequiredDriverVersion);
  } else {
    EXPECT_EQ(status.reason.rfind("no CUDA device:", 0), 0u) << status.reason;
  }
}

} // namespace
} // namespace pgc::cuda
