/*
 * V8's heap pages packed next to each other (docs/architecture.md "The V8 heap's pages").
 *
 * Node as built here (no pointer compression) has V8 map every 256 KiB heap page with a
 * separate mmap at a random hint address, so a process's pages lie scattered over the address
 * space: each page is a 2 MiB region of its own, with a page-table page of its own. Every page
 * walk after a TLB flush then misses in more places, and on a shadow-paging hypervisor the
 * host rebuilds that much more after it reclaims (docs/history/session-13.md "Session 13: the
 * tail after idle"; what packing them measured: docs/history/session-17.md "Session 17: the
 * V8 heap on few 2 MiB regions").
 *
 * setHeapPages('packed') redirects the mmap and mmap64 imports of the object that holds V8 (the
 * node binary, or libnode.so: found as the object that defines N-API) to a wrapper that drops
 * the hint of small anonymous requests (up to PACK_MAX_BYTES, neither MAP_FIXED nor
 * MAP_FIXED_NOREPLACE), so the kernel places them top-down next to the last ones. Large
 * reservations keep their hints (V8's code range wants to be near the binary). 'huge' also
 * advises each such mapping MADV_HUGEPAGE (THP in `madvise` mode: a 2 MiB range wholly inside
 * one advised mapping may then be faulted or collapsed as one huge page). 'off' puts the
 * original imports back. Pages mapped before the call stay where they are.
 *
 * The imports are the object's PLT slots (DT_JMPREL, and DT_RELA's GLOB_DAT for a taken
 * address). A BIND_NOW + RELRO binary has them read-only: the page is made writable for the
 * store and read-only again. Anything not found leaves the process as it was, with a reason.
 */
#define _GNU_SOURCE
#include "heap-pages.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#define RX_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define RX_R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define RX_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define RX_R_GLOB_DAT R_AARCH64_GLOB_DAT
#endif

/* V8's heap pages are 256 KiB; it asks for up to twice that to align them, large objects more. */
#define PACK_MAX_BYTES ((size_t)32 << 20)
#define MAX_SLOTS 8

enum { MODE_OFF = 0, MODE_PACKED = 1, MODE_HUGE = 2 };
static const char *const MODE_NAMES[] = { "off", "packed", "huge" };

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

struct slot {
  void **at;
  void *original;
  int writable_at_rest; /* outside the RELRO range ld.so protected */
};

/* Install and uninstall under the lock (Worker threads share the process); the wrappers take none. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_mode = MODE_OFF;
static struct slot g_slots[MAX_SLOTS];
static int g_slot_count;
static int g_installed;
static char g_reason[160];
/* The first original seen: what the wrappers call (the same libc function for both names). */
static mmap_fn g_next = mmap;
static uint64_t g_redirected;
static uint64_t g_advised_bytes;
static uint64_t g_advise_failed;

static int packable(void *addr, size_t len, int flags) {
  return addr != NULL && (flags & MAP_ANONYMOUS) && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && len <= PACK_MAX_BYTES;
}

/* Runs on V8's threads as well as the main one: atomics only, no allocation, errno kept. */
static void *packed_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  int mode = __atomic_load_n(&g_mode, __ATOMIC_RELAXED);
  if (mode == MODE_OFF || !packable(addr, len, flags)) return g_next(addr, len, prot, flags, fd, off);
  void *p = g_next(NULL, len, prot, flags, fd, off);
  if (p == MAP_FAILED) return p;
  __atomic_fetch_add(&g_redirected, 1, __ATOMIC_RELAXED);
  if (mode == MODE_HUGE) {
    int saved = errno;
    if (madvise(p, len, MADV_HUGEPAGE) == 0) __atomic_fetch_add(&g_advised_bytes, len, __ATOMIC_RELAXED);
    else __atomic_fetch_add(&g_advise_failed, 1, __ATOMIC_RELAXED);
    errno = saved;
  }
  return p;
}

/* ld.so's pointers in the dynamic section are relocated in place on most targets, not on all. */
static uintptr_t dyn_addr(const struct dl_phdr_info *info, ElfW(Addr) p) {
  return p < info->dlpi_addr ? info->dlpi_addr + p : p;
}

struct search {
  uintptr_t anchor; /* an address inside the object that holds V8 */
  int found_object;
  const char *failure;
};

static int store_slot(struct slot *s, void *value) {
  if (s->writable_at_rest) {
    __atomic_store_n(s->at, value, __ATOMIC_RELEASE);
    return 0;
  }
  long page_size = sysconf(_SC_PAGESIZE);
  void *page = (void *)((uintptr_t)s->at & ~(uintptr_t)(page_size - 1));
  if (mprotect(page, (size_t)page_size, PROT_READ | PROT_WRITE) != 0) return -errno;
  __atomic_store_n(s->at, value, __ATOMIC_RELEASE);
  mprotect(page, (size_t)page_size, PROT_READ);
  return 0;
}

#ifdef RX_R_JUMP_SLOT
static void collect(const struct dl_phdr_info *info, const ElfW(Rela) *rela, size_t bytes, const ElfW(Sym) *symtab,
                    const char *strtab, uintptr_t relro_lo, uintptr_t relro_hi) {
  for (size_t i = 0; i < bytes / sizeof *rela && g_slot_count < MAX_SLOTS; i++) {
    unsigned long type = ELF64_R_TYPE(rela[i].r_info);
    if (type != RX_R_JUMP_SLOT && type != RX_R_GLOB_DAT) continue;
    const char *name = strtab + symtab[ELF64_R_SYM(rela[i].r_info)].st_name;
    if (strcmp(name, "mmap") != 0 && strcmp(name, "mmap64") != 0) continue;
    uintptr_t at = info->dlpi_addr + rela[i].r_offset;
    struct slot *s = &g_slots[g_slot_count++];
    s->at = (void **)at;
    s->original = *(void **)at;
    s->writable_at_rest = !(at >= relro_lo && at < relro_hi);
  }
}

static int each_object(struct dl_phdr_info *info, size_t size, void *data) {
  struct search *q = data;
  const ElfW(Dyn) *dyn = NULL;
  int holds_anchor = 0;
  uintptr_t relro_lo = 0, relro_hi = 0;
  long page_size = sysconf(_SC_PAGESIZE);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && q->anchor >= lo && q->anchor < lo + ph->p_memsz) holds_anchor = 1;
    if (ph->p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)lo;
    if (ph->p_type == PT_GNU_RELRO) {
      /* What ld.so made read-only: whole pages from the start, the end rounded down. */
      relro_lo = lo & ~(uintptr_t)(page_size - 1);
      relro_hi = (lo + ph->p_memsz) & ~(uintptr_t)(page_size - 1);
    }
  }
  if (!holds_anchor) return 0;
  q->found_object = 1;
  if (dyn == NULL) {
    q->failure = "the object that holds V8 has no dynamic section";
    return 1;
  }
  uintptr_t jmprel = 0, symtab = 0, strtab = 0, rela = 0;
  size_t pltrelsz = 0, relasz = 0;
  long pltrel = DT_RELA;
  for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
    switch (d->d_tag) {
      case DT_JMPREL: jmprel = dyn_addr(info, d->d_un.d_ptr); break;
      case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
      case DT_PLTREL: pltrel = (long)d->d_un.d_val; break;
      case DT_SYMTAB: symtab = dyn_addr(info, d->d_un.d_ptr); break;
      case DT_STRTAB: strtab = dyn_addr(info, d->d_un.d_ptr); break;
      case DT_RELA: rela = dyn_addr(info, d->d_un.d_ptr); break;
      case DT_RELASZ: relasz = d->d_un.d_val; break;
      default: break;
    }
  }
  if (symtab == 0 || strtab == 0) {
    q->failure = "the object that holds V8 has no dynamic symbol table";
    return 1;
  }
  if (pltrel != DT_RELA) {
    q->failure = "the object that holds V8 uses REL relocations";
    return 1;
  }
  const ElfW(Sym) *syms = (const ElfW(Sym) *)symtab;
  const char *strs = (const char *)strtab;
  if (jmprel != 0) collect(info, (const ElfW(Rela) *)jmprel, pltrelsz, syms, strs, relro_lo, relro_hi);
  if (rela != 0) collect(info, (const ElfW(Rela) *)rela, relasz, syms, strs, relro_lo, relro_hi);
  if (g_slot_count == 0) q->failure = "no mmap or mmap64 import in the object that holds V8";
  return 1;
}
#endif

/* Finds and patches the slots once; 0, or sets g_reason and returns -1 (nothing changed then). */
static int install(void) {
  if (g_installed) return 0;
#ifndef RX_R_JUMP_SLOT
  snprintf(g_reason, sizeof g_reason, "not supported on this architecture");
  return -1;
#else
  struct search q = { (uintptr_t)&napi_create_object, 0, NULL };
  g_slot_count = 0;
  dl_iterate_phdr(each_object, &q);
  if (!q.found_object || q.failure != NULL) {
    snprintf(g_reason, sizeof g_reason, "%s", q.found_object ? q.failure : "the object that holds V8 was not found");
    g_slot_count = 0;
    return -1;
  }
  for (int i = 0; i < g_slot_count; i++) {
    if (g_slots[i].original == (void *)packed_mmap) continue;
    if (g_next == mmap) g_next = (mmap_fn)g_slots[i].original;
  }
  for (int i = 0; i < g_slot_count; i++) {
    int rc = store_slot(&g_slots[i], (void *)packed_mmap);
    if (rc != 0) {
      for (int j = 0; j < i; j++) store_slot(&g_slots[j], g_slots[j].original);
      snprintf(g_reason, sizeof g_reason, "mprotect of the import's page failed: %s", strerror(-rc));
      g_slot_count = 0;
      return -1;
    }
  }
  g_installed = 1;
  g_reason[0] = '\0';
  return 0;
#endif
}

static void uninstall(void) {
  if (!g_installed) return;
  for (int i = 0; i < g_slot_count; i++) store_slot(&g_slots[i], g_slots[i].original);
  g_installed = 0;
}

static void set_number(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

static napi_value stats(napi_env env, napi_callback_info info) {
  napi_value out, s;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, MODE_NAMES[__atomic_load_n(&g_mode, __ATOMIC_RELAXED)], NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, out, "mode", s);
  napi_get_boolean(env, g_installed != 0, &s);
  napi_set_named_property(env, out, "installed", s);
  set_number(env, out, "imports", g_installed ? g_slot_count : 0);
  napi_create_string_utf8(env, g_reason, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, out, "reason", s);
  set_number(env, out, "redirected", (double)__atomic_load_n(&g_redirected, __ATOMIC_RELAXED));
  set_number(env, out, "advisedBytes", (double)__atomic_load_n(&g_advised_bytes, __ATOMIC_RELAXED));
  set_number(env, out, "adviseFailed", (double)__atomic_load_n(&g_advise_failed, __ATOMIC_RELAXED));
  return out;
}

static napi_value set_heap_pages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"mode\" argument must be 'packed', 'huge' or 'off'");
    return NULL;
  }
  char name[16];
  size_t len = 0;
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
  int mode = -1;
  for (int i = 0; i < 3; i++) {
    if (len == strlen(MODE_NAMES[i]) && strcmp(name, MODE_NAMES[i]) == 0) mode = i;
  }
  if (mode < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "The \"mode\" argument must be 'packed', 'huge' or 'off'");
    return NULL;
  }
  pthread_mutex_lock(&g_lock);
  if (mode == MODE_OFF) {
    __atomic_store_n(&g_mode, MODE_OFF, __ATOMIC_RELAXED);
    uninstall();
  } else {
    /* The mode first: a wrapper already in place reads it on its next call. */
    __atomic_store_n(&g_mode, mode, __ATOMIC_RELAXED);
    if (install() != 0) __atomic_store_n(&g_mode, MODE_OFF, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&g_lock);
  return stats(env, info);
}

void rx_heap_pages_init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "setHeapPages", NAPI_AUTO_LENGTH, set_heap_pages, NULL, &fn);
  napi_set_named_property(env, exports, "setHeapPages", fn);
  napi_create_function(env, "heapPages", NAPI_AUTO_LENGTH, stats, NULL, &fn);
  napi_set_named_property(env, exports, "heapPages", fn);
}
