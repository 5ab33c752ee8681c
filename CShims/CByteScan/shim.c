// CByteScan's byte-class masks are static inline in its header, so Swift inlines them into its loops; the one
// function compiled here is in access_run.c.
#include "CByteScan.h"
