// CUDA graphs: capture a sequence of launches on a stream once, replay it with
// one call.
#pragma once

#include "runtime/cuda/Device.h"

#include <functional>

namespace pgc::cuda {

/// An instantiated graph. Replays see the device pointers and kernel
/// arguments as they were at capture; the memory behind them may change.
class GraphExec {
public:
  GraphExec(const GraphExec &) = delete;
  GraphExec &operator=(const GraphExec &) = delete;
  GraphExec(GraphExec &&other) noexcept;
  ~GraphExec();
  void launch(const Stream &stream) const;

private:
  friend GraphExec captureGraph(const Stream &, const std::function<void()> &);
  GraphExec(const Context &context, api::CUgraph graph, api::CUgraphExec exec);
  const Context *context_;
  api::CUgraph graph_ = nullptr;
  api::CUgraphExec exec_ = nullptr;
};

/// Runs `enqueue` (which launches work on `stream`) under stream capture and
/// instantiates the result. Nothing runs during capture.
GraphExec captureGraph(const Stream &stream,
                       const std::function<void()> &enqueue);

} // namespace pgc::cuda
