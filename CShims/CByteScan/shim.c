// CByteScan is header-only (static inline); this file gives SwiftPM a C source to build the module from.
#include "CByteScan.h"
