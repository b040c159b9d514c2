#include <stdlib.h>

#include "rx-slab.h"

struct rx_slab_pool {
  size_t slab_size;
  int keep;
  int open;
  int free_count;
  rx_slab_t *free;
  int live;                 /* slabs taken and not given back */
  unsigned long long taken; /* slabs ever taken (a slab's serial is this count when taken) */
  int hide_max, hide_age;
  int hidden;               /* live slabs hidden: the list oldest..newest */
  rx_slab_t *oldest, *newest;
  int64_t owed, owe_max;    /* bytes of dead hidden slabs not yet put back into V8's count */
  int refs; /* 1 for the owner while open, 1 per slab taken and not given back */
};

rx_slab_pool_t *rx_slab_pool_new(size_t slab_size, int keep, int hide_max, int hide_age, int64_t owe_max) {
  rx_slab_pool_t *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->slab_size = slab_size;
  p->keep = keep;
  p->hide_max = hide_max;
  p->hide_age = hide_age;
  p->owe_max = owe_max;
  p->open = 1;
  p->refs = 1;
  return p;
}

static void release(rx_slab_pool_t *p) {
  if (--p->refs == 0) free(p);
}

rx_slab_t *rx_slab_take(rx_slab_pool_t *p) {
  rx_slab_t *s = p->free;
  if (s != NULL) {
    p->free = s->next;
    p->free_count--;
  } else {
    s = malloc(sizeof *s);
    if (s == NULL) return NULL;
    s->data = malloc(p->slab_size);
    if (s->data == NULL) {
      free(s);
      return NULL;
    }
    s->size = p->slab_size;
    s->pool = p;
  }
  s->next = NULL;
  s->older = s->newer = NULL;
  s->hidden = 0;
  s->serial = ++p->taken;
  p->refs++;
  p->live++;
  return s;
}

int rx_slab_hide(rx_slab_t *s) {
  rx_slab_pool_t *p = s->pool;
  if (s->hidden || p->hidden >= p->hide_max) return 0;
  s->hidden = 1;
  s->older = p->newest;
  s->newer = NULL;
  if (p->newest != NULL) p->newest->newer = s;
  else p->oldest = s;
  p->newest = s;
  p->hidden++;
  return 1;
}

static void unlink_hidden(rx_slab_t *s) {
  rx_slab_pool_t *p = s->pool;
  if (s->older != NULL) s->older->newer = s->newer;
  else p->oldest = s->newer;
  if (s->newer != NULL) s->newer->older = s->older;
  else p->newest = s->older;
  s->older = s->newer = NULL;
  s->hidden = 0;
  p->hidden--;
}

rx_slab_t *rx_slab_unhide_aged(rx_slab_pool_t *p) {
  rx_slab_t *s = p->oldest;
  if (s == NULL || p->taken - s->serial <= (unsigned long long)p->hide_age) return NULL;
  unlink_hidden(s);
  return s;
}

int64_t rx_slab_give_back(rx_slab_t *s) {
  rx_slab_pool_t *p = s->pool;
  if (s->hidden) {
    unlink_hidden(s);
    p->owed += (int64_t)s->size;
  }
  p->live--;
  int64_t repay = 0;
  if (p->owed >= p->owe_max || (!p->open && p->live == 0)) {
    repay = p->owed;
    p->owed = 0;
  }
  if (p->open && p->free_count < p->keep) {
    s->next = p->free;
    p->free = s;
    p->free_count++;
  } else {
    free(s->data);
    free(s);
  }
  release(p);
  return repay;
}

int rx_slab_pool_live(const rx_slab_pool_t *p) { return p->live; }
int rx_slab_pool_hidden(const rx_slab_pool_t *p) { return p->hidden; }
int64_t rx_slab_pool_owed(const rx_slab_pool_t *p) { return p->owed; }

int64_t rx_slab_pool_close(rx_slab_pool_t *p) {
  if (!p->open) return 0;
  int64_t repay = p->owed;
  p->owed = 0;
  p->open = 0;
  while (p->free != NULL) {
    rx_slab_t *s = p->free;
    p->free = s->next;
    free(s->data);
    free(s);
  }
  p->free_count = 0;
  release(p);
  return repay;
}
