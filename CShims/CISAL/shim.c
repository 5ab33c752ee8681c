#include "CISAL.h"

void CISAL_inflate_init_gzip_body(struct inflate_state *state) {
    isal_inflate_init(state);
    state->crc_flag = ISAL_GZIP_NO_HDR_VER;
}
