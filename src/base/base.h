/* base: arena allocation, error state, checked arithmetic, file mapping, growable buffers. */
#ifndef LP_BASE_H
#define LP_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#include "liteport.h"

/* 1 when s[0..n) is valid UTF-8 */
int lp_utf8_valid(const char *s, size_t n);

/* ---- limits on what a file can make us allocate or loop over ---- */
#define LP_MAX_RANK 8
#define LP_MAX_NODES 1000000
#define LP_MAX_TENSORS 4000000
#define LP_MAX_ELEMENTS ((int64_t)1 << 40)  /* per tensor */
#define LP_MAX_FOLD_ELEMENTS ((int64_t)1 << 24) /* constant folding: elements per output */
/* constant folding makes an output larger than its inputs only up to this size */
#define LP_FOLD_GROW_BYTES ((size_t)1 << 20)
#ifndef LP_MAX_FOLD_BYTES /* the fuzzing builds lower it (fuzz/README.md) */
#define LP_MAX_FOLD_BYTES ((size_t)256 << 20)  /* constant folding: bytes in all */
#endif
#define LP_MAX_NEST 16                         /* nesting of subgraphs / messages */
#define LP_MAX_NAME 4096                       /* string length */
#define LP_MAX_ATTR_ELEMS (1 << 24)
#define LP_MAX_DIM ((int64_t)INT32_MAX)        /* one dimension (TFLite stores int32 dims) */
#define LP_MAX_IO 1024                         /* graph inputs, graph outputs (each) */
#ifndef LP_MAX_TABLE_BYTES
#define LP_MAX_TABLE_BYTES ((size_t)256 << 20) /* lowering: tables built from declared sizes, in all */
#endif
#define LP_READ_MAX ((size_t)64 << 20)         /* files up to this size are read, larger ones mapped */
/* a conversion's graph arena holds at most LP_ARENA_BASE + LP_ARENA_PER_BYTE x the input's bytes
 * (model and external data): a safety net under the specific limits above */
#ifndef LP_ARENA_BASE
#define LP_ARENA_BASE ((size_t)1 << 30)
#endif
#define LP_ARENA_PER_BYTE 8

/* ---- error state: the first error wins ---- */
typedef struct lp_err {
    lp_status code;
    char msg[2048];
} lp_err;

void lp_err_clear(lp_err *e);
/* Records an error if none is recorded yet; returns `code` so callers can `return lp_err_set(...)`. */
lp_status lp_err_set(lp_err *e, lp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
lp_status lp_err_setv(lp_err *e, lp_status code, const char *fmt, va_list ap);
/* Prefixes the recorded message with `prefix` (used by the driver to add pass/node context). */
void lp_err_prefix(lp_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- arena: everything allocated from it is freed at once ---- */
typedef struct lp_arena_block lp_arena_block;
typedef struct lp_arena {
    lp_arena_block *head;
    size_t total;  /* bytes obtained from malloc */
    size_t limit;  /* 0: none; else allocations that would pass it fail (and set hit_limit) */
    int hit_limit; /* an allocation failed because of `limit`, not because malloc did */
} lp_arena;

void lp_arena_init(lp_arena *a);
void lp_arena_free(lp_arena *a);
/* 16-byte aligned, zeroed memory; NULL when out of memory or when size passes LP limits. */
void *lp_arena_alloc(lp_arena *a, size_t size);
/* Like lp_arena_alloc but not zeroed (for buffers the caller fills completely). */
void *lp_arena_alloc_raw(lp_arena *a, size_t size);
void *lp_arena_dup(lp_arena *a, const void *src, size_t size);
char *lp_arena_strdup(lp_arena *a, const char *s);
char *lp_arena_strndup(lp_arena *a, const char *s, size_t n);
char *lp_arena_printf(lp_arena *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- checked arithmetic: return 0 on overflow ---- */
int lp_mul_size(size_t a, size_t b, size_t *out);
int lp_add_size(size_t a, size_t b, size_t *out);
int lp_mul_i64(int64_t a, int64_t b, int64_t *out); /* non-negative operands only */
/* signed a + b, a - b, a * b for any operands (attribute values from a file); 0 on overflow */
int lp_add_i64s(int64_t a, int64_t b, int64_t *out);
int lp_sub_i64s(int64_t a, int64_t b, int64_t *out);
int lp_mul_i64s(int64_t a, int64_t b, int64_t *out);
/* wrapping (two's complement) a + b, a - b, a * b: ONNX integer arithmetic, defined for all inputs */
static inline int64_t lp_wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t lp_wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t lp_wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
/* a / b truncating, with INT64_MIN / -1 = INT64_MIN (wraps) and x / 0 = 0 (callers report it) */
static inline int64_t lp_wrap_div(int64_t a, int64_t b) {
    return b == 0 ? 0 : (b == -1 ? lp_wrap_sub(0, a) : a / b);
}

/* ---- growable byte buffer (malloc-backed) ---- */
typedef struct lp_buf {
    char *data;
    size_t len, cap;
    int failed;  /* set once an allocation failed; further appends are ignored */
} lp_buf;

void lp_buf_free(lp_buf *b);
void lp_buf_append(lp_buf *b, const void *p, size_t n);
void lp_buf_puts(lp_buf *b, const char *s);
void lp_buf_printf(lp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends `s` as a JSON string literal (with quotes). */
void lp_buf_json_str(lp_buf *b, const char *s);
/* NUL-terminated contents ("" when empty or failed). */
const char *lp_buf_cstr(lp_buf *b);

/* ---- growable array of ints ---- */
typedef struct lp_ivec {
    int *v;
    int n, cap;
} lp_ivec;
int lp_ivec_push(lp_ivec *a, int x); /* 0 on out of memory */
void lp_ivec_free(lp_ivec *a);

/* ---- read-only file mapping ---- */
typedef struct lp_map {
    const uint8_t *data;
    size_t size;
    int mapped;  /* 1: mmap, 0: read into memory (files up to LP_READ_MAX, or no mmap) */
} lp_map;

/* Files larger than LP_READ_MAX are memory-mapped (weights are then used in place, not copied).
 * Like any mapping, such a file truncated by another process during the conversion makes the
 * next access raise SIGBUS; the library installs no signal handler (the CLI does, see tools/main.c). */
lp_status lp_map_open(lp_map *m, const char *path, lp_err *err);
/* The same for a file that must lie inside folder `dir`: checked on the opened file itself. */
lp_status lp_map_open_inside(lp_map *m, const char *dir, const char *path, lp_err *err);
void lp_map_close(lp_map *m);

/* ---- paths ---- */
/* Folder part of `path` ("." when there is none), allocated in the arena. */
char *lp_path_dir(lp_arena *a, const char *path);
/* Resolves `rel` inside `dir` for ONNX external data. Refuses absolute paths, "..", and anything
 * that, after symlinks, lies outside `dir`. On success returns the full path (arena). */
char *lp_path_inside(lp_arena *a, const char *dir, const char *rel, lp_err *err);

/* ---- output: atomic write through a temporary file in the same folder ---- */
/* Linux: the data goes to an unnamed file (O_TMPFILE) in the output's folder, given a name only
 * when complete, so that even a killed process leaves nothing behind; elsewhere (or where the
 * file system has no O_TMPFILE) to a named temporary file that errors remove. */
typedef struct lp_outfile {
    void *fp;       /* FILE* */
    char *tmp_path; /* malloc'd; for an unnamed file, the name it is linked to at commit */
    char *path;     /* malloc'd */
    int failed;
    int unnamed;    /* 1: fp is an O_TMPFILE file with no name yet */
} lp_outfile;

lp_status lp_outfile_open(lp_outfile *o, const char *path, lp_err *err);
void lp_outfile_write(lp_outfile *o, const void *p, size_t n);
/* Renames the temporary file over `path`, or removes it if anything failed. */
lp_status lp_outfile_commit(lp_outfile *o, lp_err *err);
void lp_outfile_abort(lp_outfile *o);

/* 1 when both paths name the same existing file */
int lp_same_file(const char *a, const char *b);

/* monotonic seconds */
double lp_now(void);

/* half-precision conversion */
float lp_f16_to_f32(uint16_t h);
uint16_t lp_f32_to_f16(float f);
float lp_bf16_to_f32(uint16_t h);

#endif
