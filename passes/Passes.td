// Declarations of every pg pass, each with an IR example; one .cpp per pass in this folder.
#ifndef PGC_PASSES_TD
#define PGC_PASSES_TD

include "mlir/Pass/PassBase.td"

#endif // PGC_PASSES_TD
