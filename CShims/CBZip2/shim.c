#include "CBZip2.h"
const char *CBZip2_version(void) { return BZ2_bzlibVersion(); }
