// CByteScan's byte-class masks are static inline in its header, so Swift inlines them into its loops; the
// functions compiled here are in access_run.c and pair_search.c.
#include "CByteScan.h"
