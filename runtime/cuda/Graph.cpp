// Stream capture into a CUDA graph and its replay.
#include "runtime/cuda/Graph.h"

#include "runtime/support/Error.h"

namespace pgc::cuda {

GraphExec::GraphExec(const Context &context, api::CUgraph graph,
                     api::CUgraphExec exec)
    : context_(&context), graph_(graph), exec_(exec) {}

GraphExec::GraphExec(GraphExec &&other) noexcept
    : context_(other.context_), graph_(other.graph_), exec_(other.exec_) {
  other.graph_ = nullptr;
  other.exec_ = nullptr;
}

GraphExec::~GraphExec() {
  if (exec_)
    context_->api().cuGraphExecDestroy(exec_);
  if (graph_)
    context_->api().cuGraphDestroy(graph_);
}

void GraphExec::launch(const Stream &stream) const {
  context_->driver().check(
      context_->api().cuGraphLaunch(exec_, stream.handle()), "cuGraphLaunch");
}

GraphExec captureGraph(const Stream &stream,
                       const std::function<void()> &enqueue) {
  const Context &context = stream.context();
  const DriverFunctions &f = context.api();
  context.driver().check(
      f.cuStreamBeginCapture(stream.handle(),
                             api::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
      "cuStreamBeginCapture");
  api::CUgraph graph = nullptr;
  try {
    enqueue();
  } catch (...) {
    // End the capture so the stream is usable again, then report the error.
    f.cuStreamEndCapture(stream.handle(), &graph);
    if (graph)
      f.cuGraphDestroy(graph);
    throw;
  }
  context.driver().check(f.cuStreamEndCapture(stream.handle(), &graph),
                         "cuStreamEndCapture");
  api::CUgraphExec exec = nullptr;
  api::CUresult result = f.cuGraphInstantiateWithFlags(&exec, graph, 0);
  if (result != api::CUDA_SUCCESS) {
    f.cuGraphDestroy(graph);
    context.driver().check(result, "cuGraphInstantiateWithFlags");
  }
  return GraphExec(context, graph, exec);
}

} // namespace pgc::cuda
