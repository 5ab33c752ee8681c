#include "CZlib.h"
int CZlib_inflateInitGzip(z_stream *stream) { return inflateInit2(stream, 15 + 16); }
int CZlib_deflateInitGzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
