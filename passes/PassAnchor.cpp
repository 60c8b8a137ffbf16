// Keeps the pass library non-empty before the first pass lands, and hosts shared pass helpers later.
#include "passes/Passes.h"
