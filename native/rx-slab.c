#include <stdlib.h>

#include "rx-slab.h"

struct rx_slab_pool {
  size_t slab_size;
  int keep;
  int open;
  int free_count;
  rx_slab_t *free;
  int refs; /* 1 for the owner while open, 1 per slab taken and not given back */
};

rx_slab_pool_t *rx_slab_pool_new(size_t slab_size, int keep) {
  rx_slab_pool_t *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->slab_size = slab_size;
  p->keep = keep;
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
  p->refs++;
  return s;
}

void rx_slab_give_back(rx_slab_t *s) {
  rx_slab_pool_t *p = s->pool;
  if (p->open && p->free_count < p->keep) {
    s->next = p->free;
    p->free = s;
    p->free_count++;
  } else {
    free(s->data);
    free(s);
  }
  release(p);
}

void rx_slab_pool_close(rx_slab_pool_t *p) {
  if (!p->open) return;
  p->open = 0;
  while (p->free != NULL) {
    rx_slab_t *s = p->free;
    p->free = s->next;
    free(s->data);
    free(s);
  }
  p->free_count = 0;
  release(p);
}
