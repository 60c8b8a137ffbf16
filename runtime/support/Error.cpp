// Out-of-line anchor for pgc::Error so that its vtable lives in one object file.
#include "runtime/support/Error.h"
