// CInotify: the inotify(7) calls the live follower needs, in a form Swift can use.
//
// inotify_init1, inotify_add_watch and read(2) on the descriptor are plain syscalls, but the events they return
// are `struct inotify_event` records with a flexible array member (`char name[]`) packed back to back in one
// buffer. Swift cannot import a struct with a flexible array member, so this shim walks the buffer for it and
// hands each event over as a fixed-size value (`CInotify_event`) with a pointer into the buffer for the name.
// The IN_* flags are re-exported as typed constants because several are macro expressions Swift does not import.
//
// It also carries the few epoll(7) and eventfd(2) calls of the live reactor, which waits for inotify and socket
// descriptors on one thread: Glibc's Swift module does not include <sys/epoll.h> or <sys/eventfd.h>, and
// `struct epoll_event` is packed on x86-64, so readiness is handed over as a plain `CInotify_ready` instead.
// Likewise `accept4`, which the reactor's sockets need to accept without blocking or leaking into children.
#ifndef CINOTIFY_H
#define CINOTIFY_H
#include <stddef.h>
#include <stdint.h>

/// One decoded event. `name` points into the buffer passed to `CInotify_next` (NUL-padded, `name_length` bytes
/// before the first NUL) and is NULL when the event concerns the watched object itself.
typedef struct {
    int32_t wd;
    uint32_t mask;
    uint32_t cookie;
    const char *name;
    size_t name_length;
} CInotify_event;

/// `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`: a descriptor, or -1 with errno set.
int CInotify_init(void);
/// `inotify_add_watch`: a watch descriptor, or -1 with errno set (ENOSPC when the watch limit is reached).
int CInotify_add_watch(int fd, const char *path, uint32_t mask);
/// `inotify_rm_watch`: 0, or -1 with errno set.
int CInotify_rm_watch(int fd, int wd);
/// Decodes the event starting at `*offset` in `buffer[0 ..< length]` into `event` and advances `*offset` past it.
/// Returns 1 when an event was decoded, 0 at the end of the buffer or when the rest is shorter than an event.
int CInotify_next(const void *buffer, size_t length, size_t *offset, CInotify_event *event);
/// A read buffer size that always holds at least one event with the longest name.
size_t CInotify_minimum_buffer(void);

/// One readiness report from `CInotify_epoll_wait`: the token given to `CInotify_epoll_arm`, and what fired.
/// Errors and hang-ups set both flags, so the waiter's next read or write reports them.
typedef struct {
    uint64_t token;
    int32_t readable;
    int32_t writable;
} CInotify_ready;

/// `epoll_create1(EPOLL_CLOEXEC)`: a descriptor, or -1 with errno set.
int CInotify_epoll_create(void);
/// Adds `fd` for one report (`EPOLLONESHOT`) of readability and/or writability, tagged with `token`. 0, or -1
/// with errno set (EPERM for a regular file, which is always ready; EEXIST when `fd` is already added).
int CInotify_epoll_arm(int epfd, int fd, int read, int write, uint64_t token);
/// Adds `fd` for readability until removed (level-triggered), tagged with `token`. 0, or -1 with errno set.
int CInotify_epoll_watch(int epfd, int fd, uint64_t token);
/// Removes `fd`. 0, or -1 with errno set.
int CInotify_epoll_remove(int epfd, int fd);
/// `epoll_wait` into `ready[0 ..< capacity]`: the number of reports, 0 on timeout, or -1 with errno set.
int CInotify_epoll_wait(int epfd, CInotify_ready *ready, int capacity, int timeout_ms);
/// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`: a descriptor, or -1 with errno set.
int CInotify_eventfd(void);
/// `accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC)` (a GNU extension Glibc's Swift module hides):
/// `address` points to a `struct sockaddr_storage` and `length` to its size.
int CInotify_accept(int fd, void *address, unsigned int *length);

extern const uint32_t CInotify_MODIFY;
extern const uint32_t CInotify_ATTRIB;
extern const uint32_t CInotify_CLOSE_WRITE;
extern const uint32_t CInotify_MOVED_FROM;
extern const uint32_t CInotify_MOVED_TO;
extern const uint32_t CInotify_CREATE;
extern const uint32_t CInotify_DELETE;
extern const uint32_t CInotify_DELETE_SELF;
extern const uint32_t CInotify_MOVE_SELF;
extern const uint32_t CInotify_Q_OVERFLOW;
extern const uint32_t CInotify_IGNORED;
extern const uint32_t CInotify_ONLYDIR;
#endif
