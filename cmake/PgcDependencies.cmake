# Finds pgc's dependencies: Debian 12 packages (scripts/bootstrap installs them) and optional CUDA.
find_package(PkgConfig REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 REQUIRED CONFIG)
find_package(yaml-cpp REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)
find_package(fmt REQUIRED CONFIG)
find_package(FlatBuffers REQUIRED CONFIG)
find_package(PNG REQUIRED)
find_package(libjpeg-turbo REQUIRED CONFIG)
pkg_check_modules(SentencePiece REQUIRED IMPORTED_TARGET sentencepiece)
# RE2: linear-time matching for the regular expressions of untrusted policy files.
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
# libcsv (RFC 4180 quoting) reads imagefolder metadata.csv files; Debian ships no
# pkg-config file or CMake package for it.
find_path(CSV_INCLUDE_DIR csv.h)
find_library(CSV_LIBRARY csv)
if(NOT CSV_INCLUDE_DIR OR NOT CSV_LIBRARY)
  message(FATAL_ERROR "pgc: libcsv not found (Debian: libcsv-dev; scripts/bootstrap installs it)")
endif()
add_library(pgc::csv UNKNOWN IMPORTED)
set_target_properties(pgc::csv PROPERTIES IMPORTED_LOCATION "${CSV_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CSV_INCLUDE_DIR}")
set(BLA_VENDOR OpenBLAS)
find_package(BLAS)
pkg_check_modules(OpenBLAS IMPORTED_TARGET openblas)
if(PGC_BUILD_TESTS)
  find_package(GTest REQUIRED CONFIG)
  include(GoogleTest)
endif()

# CUDA is optional and only its headers and NVRTC location matter at build time:
# the runtime loads libcuda, libnvrtc and libcublasLt with dlopen.
if(NOT DEFINED CUDA_HOME)
  if(DEFINED ENV{CUDA_HOME})
    set(CUDA_HOME $ENV{CUDA_HOME})
  else()
    set(CUDA_HOME /usr/local/cuda)
  endif()
endif()
if(EXISTS "${CUDA_HOME}/include/cuda.h" AND EXISTS "${CUDA_HOME}/include/nvrtc.h")
  set(PGC_HAVE_CUDA_TOOLKIT ON)
  message(STATUS "pgc: CUDA toolkit at ${CUDA_HOME}")
else()
  set(PGC_HAVE_CUDA_TOOLKIT OFF)
  message(STATUS "pgc: no CUDA toolkit at '${CUDA_HOME}'; CUDA tests will compile nothing")
endif()

if(PGC_BUILD_COMPILER)
  # Debian's LLVM 19 TableGen writes depfiles that assume the OLD behaviour.
  cmake_policy(SET CMP0116 OLD)
  if(NOT MLIR_DIR)
    set(MLIR_DIR /usr/lib/llvm-19/lib/cmake/mlir)
  endif()
  find_package(MLIR REQUIRED CONFIG)
  message(STATUS "pgc: MLIR ${LLVM_PACKAGE_VERSION} from ${MLIR_DIR}")
  list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
  include(TableGen)
  include(AddLLVM)
  include(AddMLIR)
  if(NOT LLVM_EXTERNAL_LIT)
    set(LLVM_EXTERNAL_LIT /usr/lib/llvm-19/build/utils/lit/lit.py)
  endif()
  set(PGC_LLVM_TOOLS_DIR ${LLVM_TOOLS_BINARY_DIR})
endif()

# Targets that use MLIR get its include paths and definitions through this helper,
# instead of include(HandleLLVMOptions), which would turn off exceptions for the
# whole tree (the runtime's JSON/YAML libraries need them).
function(pgc_use_mlir target)
  target_include_directories(${target} SYSTEM PUBLIC ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
  target_compile_definitions(${target} PUBLIC ${LLVM_DEFINITIONS})
endfunction()
