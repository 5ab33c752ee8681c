#define _GNU_SOURCE
#include "CSysGuard.h"
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pthread.h>

#define SLOTS 256

static _Atomic(uintptr_t) slot_base[SLOTS];
static _Atomic(size_t) slot_length[SLOTS];
static _Atomic(uint64_t) slot_faults[SLOTS];
static _Atomic(size_t) slot_first_fault[SLOTS];
static _Atomic(int) slot_used[SLOTS];
static uintptr_t page_size = 4096;
static pthread_once_t once = PTHREAD_ONCE_INIT;
/// The SIGBUS action in place before ours, to which faults outside our mappings go.
static struct sigaction previous;

/// Hands a fault that is not ours to the action installed before ours, as the kernel would have delivered it: its
/// handler runs with its own mask (SIGBUS blocked too unless it asked for SA_NODEFER), once only if it asked for
/// SA_RESETHAND. With the default action (or an ignored SIGBUS, which the kernel does not honour for a fault)
/// the default is restored, and the re-executed access kills the process as it would have.
static void chain(int signo, siginfo_t *info, void *context) {
    void (*plain)(int) = previous.sa_handler;  // shares its storage with sa_sigaction
    if (plain == SIG_DFL || plain == SIG_IGN || (previous.sa_flags & SA_RESETHAND)) {
        struct sigaction fallback = {0};
        fallback.sa_handler = SIG_DFL;
        sigemptyset(&fallback.sa_mask);
        sigaction(signo, &fallback, NULL);
        if (plain == SIG_DFL || plain == SIG_IGN) return;
    }
    sigset_t mask = previous.sa_mask, saved;
    if (!(previous.sa_flags & SA_NODEFER)) sigaddset(&mask, signo);
    pthread_sigmask(SIG_BLOCK, &mask, &saved);
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(signo, info, context);
    } else {
        plain(signo);
    }
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

static void on_sigbus(int signo, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t base = atomic_load(&slot_base[i]);
        size_t length = atomic_load(&slot_length[i]);
        if (base != 0 && address >= base && address < base + length) {
            void *page = (void *)(address & ~(page_size - 1));
            if (mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
                atomic_fetch_add(&slot_faults[i], 1);
                size_t offset = (uintptr_t)page > base ? (uintptr_t)page - base : 0;
                size_t lowest = atomic_load(&slot_first_fault[i]);
                while (offset < lowest && !atomic_compare_exchange_weak(&slot_first_fault[i], &lowest, offset)) {}
                return;
            }
            break;
        }
    }
    chain(signo, info, context);
}

static void install_once(void) {
    long size = sysconf(_SC_PAGESIZE);
    if (size > 0) page_size = (uintptr_t)size;
    struct sigaction action = {0};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previous);
}

void CSysGuard_install(void) { pthread_once(&once, install_once); }

int CSysGuard_register(const void *base, size_t length) {
    for (int i = 0; i < SLOTS; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&slot_used[i], &expected, 1)) {
            atomic_store(&slot_faults[i], 0);
            atomic_store(&slot_first_fault[i], SIZE_MAX);
            atomic_store(&slot_length[i], length);
            atomic_store(&slot_base[i], (uintptr_t)base);
            return i;
        }
    }
    return -1;
}

void CSysGuard_unregister(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    atomic_store(&slot_base[slot], 0);
    atomic_store(&slot_length[slot], 0);
    atomic_store(&slot_used[slot], 0);
}

uint64_t CSysGuard_faults(int slot) {
    if (slot < 0 || slot >= SLOTS) return 0;
    return atomic_load(&slot_faults[slot]);
}

int64_t CSysGuard_first_fault(int slot) {
    if (slot < 0 || slot >= SLOTS) return -1;
    size_t offset = atomic_load(&slot_first_fault[slot]);
    return offset == SIZE_MAX ? -1 : (int64_t)offset;
}
