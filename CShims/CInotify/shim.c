#define _GNU_SOURCE
#include "CInotify.h"
#include <sys/socket.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

const uint32_t CInotify_MODIFY = IN_MODIFY;
const uint32_t CInotify_ATTRIB = IN_ATTRIB;
const uint32_t CInotify_CLOSE_WRITE = IN_CLOSE_WRITE;
const uint32_t CInotify_MOVED_FROM = IN_MOVED_FROM;
const uint32_t CInotify_MOVED_TO = IN_MOVED_TO;
const uint32_t CInotify_CREATE = IN_CREATE;
const uint32_t CInotify_DELETE = IN_DELETE;
const uint32_t CInotify_DELETE_SELF = IN_DELETE_SELF;
const uint32_t CInotify_MOVE_SELF = IN_MOVE_SELF;
const uint32_t CInotify_Q_OVERFLOW = IN_Q_OVERFLOW;
const uint32_t CInotify_IGNORED = IN_IGNORED;
const uint32_t CInotify_ONLYDIR = IN_ONLYDIR;

int CInotify_init(void) { return inotify_init1(IN_NONBLOCK | IN_CLOEXEC); }

int CInotify_add_watch(int fd, const char *path, uint32_t mask) { return inotify_add_watch(fd, path, mask); }

int CInotify_rm_watch(int fd, int wd) { return inotify_rm_watch(fd, wd); }

int CInotify_next(const void *buffer, size_t length, size_t *offset, CInotify_event *event) {
    size_t at = *offset;
    if (at >= length || length - at < sizeof(struct inotify_event)) return 0;
    struct inotify_event header;
    memcpy(&header, (const char *)buffer + at, sizeof header);  // the buffer need not be aligned for the struct
    size_t total = sizeof(struct inotify_event) + header.len;
    if (length - at < total) return 0;
    event->wd = header.wd;
    event->mask = header.mask;
    event->cookie = header.cookie;
    if (header.len > 0) {
        const char *name = (const char *)buffer + at + sizeof(struct inotify_event);
        event->name = name;
        event->name_length = strnlen(name, header.len);
    } else {
        event->name = NULL;
        event->name_length = 0;
    }
    *offset = at + total;
    return 1;
}

size_t CInotify_minimum_buffer(void) { return sizeof(struct inotify_event) + NAME_MAX + 1; }

int CInotify_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int CInotify_epoll_arm(int epfd, int fd, int read, int write, uint64_t token) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = EPOLLONESHOT | (read ? (EPOLLIN | EPOLLRDHUP) : 0) | (write ? EPOLLOUT : 0);
    event.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int CInotify_epoll_watch(int epfd, int fd, uint64_t token) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = EPOLLIN;
    event.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int CInotify_epoll_remove(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int CInotify_epoll_wait(int epfd, CInotify_ready *ready, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epfd, events, capacity, timeout_ms);
    for (int i = 0; i < count; i++) {
        uint32_t fired = events[i].events;
        uint32_t failed = fired & (EPOLLERR | EPOLLHUP);
        ready[i].token = events[i].data.u64;
        ready[i].readable = (fired & (EPOLLIN | EPOLLRDHUP)) || failed;
        ready[i].writable = (fired & EPOLLOUT) || failed;
    }
    return count;
}

int CInotify_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int CInotify_accept(int fd, void *address, unsigned int *length) {
    socklen_t size = *length;
    int client = accept4(fd, (struct sockaddr *)address, &size, SOCK_NONBLOCK | SOCK_CLOEXEC);
    *length = size;
    return client;
}
