// CBZip2: bzip2 for Swift. libbz2's bzlib.h imports as it is (the reference decoder, and the encoder); next to it,
// CBZip2Fast.h declares Sluice's own block decoder, which the engine uses for block-parallel decoding.
#ifndef CBZIP2_H
#define CBZIP2_H
#include <stdio.h>
#include <bzlib.h>
#include "CBZip2Fast.h"
/// Keeps the module non-empty and documents the linked library version.
const char *CBZip2_version(void);
#endif
