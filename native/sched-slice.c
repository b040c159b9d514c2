/*
 * setSchedSlice(us): sets the calling thread's slice to `us` microseconds (100..100000, the
 * kernel's range) while the thread's policy is SCHED_OTHER, keeping its nice value; returns the
 * slice the kernel then reports in microseconds (0 where the kernel has no per-thread slice: it
 * takes sched_runtime for SCHED_OTHER without using it before 6.12), or -errno when
 * sched_getattr or sched_setattr refuses (-ENOSYS, -EPERM under a seccomp filter). A thread under another policy (SCHED_BATCH, a
 * real-time class) is left as it is: returns -EINVAL then, as the kernel would for a slice there.
 * schedSlice(): the calling thread's slice in microseconds (0 when not reported), or -errno.
 */
#define _GNU_SOURCE
#include "sched-slice.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The first version of struct sched_attr (48 bytes, SCHED_ATTR_SIZE_VER0); libc has no wrapper. */
struct rx_sched_attr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

#define SLICE_MIN_US 100
#define SLICE_MAX_US 100000

static int get_attr(struct rx_sched_attr *attr) {
  memset(attr, 0, sizeof *attr);
  if (syscall(SYS_sched_getattr, 0, attr, sizeof *attr, 0) != 0) return -errno;
  return 0;
}

static napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_range_error(env, code, msg);
  return NULL;
}

static napi_value sched_slice(napi_env env, napi_callback_info info) {
  struct rx_sched_attr attr;
  int rc = get_attr(&attr);
  if (rc != 0) return number(env, rc);
  return number(env, attr.sched_policy == SCHED_OTHER ? (double)(attr.sched_runtime / 1000) : 0);
}

static napi_value set_sched_slice(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  double us = -1;
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "the slice must be a number of microseconds");
    return NULL;
  }
  napi_get_value_double(env, argv[0], &us);
  if (!(us >= SLICE_MIN_US && us <= SLICE_MAX_US) || us != (double)(int64_t)us) {
    return throw_code(env, "ERR_OUT_OF_RANGE", "the slice must be an integer from 100 to 100000 microseconds");
  }
  struct rx_sched_attr attr;
  int rc = get_attr(&attr);
  if (rc != 0) return number(env, rc);
  if (attr.sched_policy != SCHED_OTHER) return number(env, -EINVAL);
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
  if (nice == -1 && errno != 0) return number(env, -errno);
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.sched_policy = SCHED_OTHER;
  attr.sched_nice = nice;
  attr.sched_runtime = (uint64_t)us * 1000;
  if (syscall(SYS_sched_setattr, 0, &attr, 0) != 0) return number(env, -errno);
  return sched_slice(env, info);
}

void rx_sched_slice_init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "setSchedSlice", NAPI_AUTO_LENGTH, set_sched_slice, NULL, &fn);
  napi_set_named_property(env, exports, "setSchedSlice", fn);
  napi_create_function(env, "schedSlice", NAPI_AUTO_LENGTH, sched_slice, NULL, &fn);
  napi_set_named_property(env, exports, "schedSlice", fn);
}
