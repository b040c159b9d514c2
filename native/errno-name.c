/* A switch rather than strerrorname_np(): that one needs glibc 2.32 and is a GNU extension. */
#include <errno.h>
#include <stddef.h>

#include "errno-name.h"

#define NAME(e) case e: return #e

const char *rx_errno_name(int err) {
  switch (err) {
    NAME(EPERM); NAME(ENOENT); NAME(ESRCH); NAME(EINTR); NAME(EIO); NAME(ENXIO);
    NAME(E2BIG); NAME(EBADF); NAME(ECHILD); NAME(EAGAIN); NAME(ENOMEM); NAME(EACCES);
    NAME(EFAULT); NAME(EBUSY); NAME(EEXIST); NAME(ENODEV); NAME(ENOTDIR); NAME(EISDIR);
    NAME(EINVAL); NAME(ENFILE); NAME(EMFILE); NAME(ENOTTY); NAME(ENOSPC); NAME(EROFS);
    NAME(EPIPE); NAME(ERANGE); NAME(ENAMETOOLONG); NAME(ENOSYS); NAME(EBADFD);
    NAME(EMSGSIZE); NAME(EPROTONOSUPPORT); NAME(EOPNOTSUPP); NAME(EAFNOSUPPORT);
    NAME(EADDRINUSE); NAME(EADDRNOTAVAIL); NAME(ENETDOWN); NAME(ENOBUFS); NAME(ETIMEDOUT);
    default: return NULL;
  }
}
