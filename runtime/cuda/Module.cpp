// Loads compiled kernels into the current context and launches them.
#include "runtime/cuda/Module.h"

namespace pgc::cuda {

Module::Module(const Context &context, const CompiledKernel &compiled)
    : context_(context) {
  // PTX must be NUL-terminated; a CUBIN is an ELF image the driver sizes
  // itself. std::string keeps a terminator after its bytes either way.
  context.driver().check(
      context.api().cuModuleLoadData(&module_, compiled.image.c_str()),
      compiled.target.ptx ? "cuModuleLoadData (PTX)" : "cuModuleLoadData");
}

Module::~Module() {
  if (module_)
    context_.api().cuModuleUnload(module_);
}

api::CUfunction Module::function(const char *name) const {
  api::CUfunction function = nullptr;
  api::CUresult result =
      context_.api().cuModuleGetFunction(&function, module_, name);
  if (result != api::CUDA_SUCCESS)
    fail("kernel {}: not found in module: {}", name,
         context_.driver().describe(result));
  return function;
}

Module loadKernelModule(const Context &context, const Nvrtc &nvrtc,
                        KernelCache &cache, const KernelSource &source) {
  CompileTarget target =
      chooseTarget(context.info().arch(), nvrtc.supportedArchs());
  return Module(context, cache.getOrCompile(nvrtc, source, target));
}

void launchKernel(const Stream &stream, api::CUfunction function,
                  const LaunchShape &shape, void **arguments,
                  const char *what) {
  const Context &context = stream.context();
  context.driver().check(
      context.api().cuLaunchKernel(function, shape.gridX, shape.gridY,
                                   shape.gridZ, shape.blockX, shape.blockY,
                                   shape.blockZ, shape.sharedBytes,
                                   stream.handle(), arguments, nullptr),
      what);
}

} // namespace pgc::cuda
