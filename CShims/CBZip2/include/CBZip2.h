// CBZip2: libbz2 for Swift. bzlib.h imports as it is; this header exists so SwiftPM can build a module for it.
#ifndef CBZIP2_H
#define CBZIP2_H
#include <stdio.h>
#include <bzlib.h>
/// Keeps the module non-empty and documents the linked library version.
const char *CBZip2_version(void);
#endif
