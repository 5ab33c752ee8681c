// CISAL: Intel ISA-L's igzip inflate for Swift, the fast gzip decoder. igzip_lib.h imports as it is; the
// helper below sets up a state for the deflate data of one gzip member, whose header Sluice reads itself.
#ifndef CISAL_H
#define CISAL_H
#include <isa-l/igzip_lib.h>
/// isal_inflate_init for deflate data followed by a gzip trailer (CRC32 and length), which is checked.
void CISAL_inflate_init_gzip_body(struct inflate_state *state);
#endif
