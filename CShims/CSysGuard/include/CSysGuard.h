// CSysGuard: keeps a memory-mapped file that shrinks under us (rotation by truncation) from killing the process.
// Touching a mapped page past the new end of file raises SIGBUS. Signal handlers cannot be written in Swift, so
// this shim installs one that, for faults inside a registered mapping only, maps a zero page over the faulting
// page, counts the fault and keeps the lowest faulting page. The reader checks them after each window, keeps what
// it read before that page and reports the truncation as an error. Faults anywhere else go to the SIGBUS action
// that was in place before (a host program's own handler runs; under the default action, real crashes still crash).
#ifndef CSYSGUARD_H
#define CSYSGUARD_H
#include <stddef.h>
#include <stdint.h>

/// Installs the SIGBUS handler once per process, keeping the action it replaces for faults that are not ours. Safe
/// to call repeatedly and from several threads.
void CSysGuard_install(void);
/// Registers a mapping; returns a slot number, or -1 when every slot is taken (the caller then reads with read(2)).
int CSysGuard_register(const void *base, size_t length);
/// Forgets slot `slot`; call before unmapping.
void CSysGuard_unregister(int slot);
/// Number of pages that faulted in slot `slot` since it was registered.
uint64_t CSysGuard_faults(int slot);
/// Offset from the mapping's start of the lowest page that faulted in slot `slot`, or -1 when none did.
int64_t CSysGuard_first_fault(int slot);
#endif
