/*
 * Preloaded into a process (LD_PRELOAD=mlock-preload.so), locks the memory it has mapped two
 * seconds after start (a thread of its own sleeps, then calls mlockall(MCL_CURRENT)): wake-ladder
 * .ts's rung for "does a Node process's wake-up after idle wait on its pages being brought back".
 * Not MCL_FUTURE, not at start: V8 reserves gigabytes and makes parts of them accessible later,
 * and with MCL_FUTURE its mprotect of a new code page fails (a fatal error). Two seconds is after
 * Node has started and attached; what V8 maps after that stays unlocked (new heap pages).
 * Prints to stderr what it locked, or why it could not.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static void *lock_later(void *arg) {
  (void)arg;
  sleep(2);
  if (mlockall(MCL_CURRENT) != 0) perror("mlock-preload: mlockall");
  else fprintf(stderr, "mlock-preload: locked\n");
  return NULL;
}

__attribute__((constructor)) static void start_locker(void) {
  pthread_t id;
  if (pthread_create(&id, NULL, lock_later, NULL) == 0) pthread_detach(id);
}
