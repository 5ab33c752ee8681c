// CISAL: Intel ISA-L's igzip inflate for Swift, the fast gzip decoder. igzip_lib.h imports as it is; the
// helper below sets up a state for one raw-gzip member, which takes several field writes in C.
#ifndef CISAL_H
#define CISAL_H
#include <isa-l/igzip_lib.h>
/// isal_inflate_init, then gzip wrapper parsing and CRC32 checking on.
void CISAL_inflate_init_gzip(struct inflate_state *state);
#endif
