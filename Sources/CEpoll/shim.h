// epoll(7), which Glibc's Swift module does not import. Part of libc: nothing to link.
#include <sys/epoll.h>
