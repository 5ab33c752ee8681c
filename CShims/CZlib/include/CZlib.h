// CZlib: zlib for Swift. inflateInit2/deflateInit2 are macros that Swift cannot import, so they become small
// functions here. Sluice uses zlib as the reference gzip decoder and as the writer of `.gz` files.
#ifndef CZLIB_H
#define CZLIB_H
#include <zlib.h>

/// inflateInit2 with a gzip-only window (15 + 16): one gzip member per reset.
int CZlib_inflateInitGzip(z_stream *stream);
/// deflateInit2 writing a gzip wrapper at the given level.
int CZlib_deflateInitGzip(z_stream *stream, int level);
#endif
