#include "CISAL.h"
void CISAL_inflate_init_gzip(struct inflate_state *state) {
    isal_inflate_init(state);
    state->crc_flag = ISAL_GZIP;
}
