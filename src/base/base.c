#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#if defined(__linux__)
#define _GNU_SOURCE 1 /* O_TMPFILE (glibc declares it only for GNU sources) */
#endif
#endif
#include "base.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__unix__) || defined(__APPLE__) || defined(__EMSCRIPTEN__)
#define LP_POSIX 1
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

/* ---------------- errors ---------------- */

void lp_err_clear(lp_err *e) {
    e->code = LP_OK;
    e->msg[0] = 0;
}

/* length of the valid UTF-8 sequence at p (1..4), or 0 */
static size_t utf8_len(const unsigned char *p, size_t n) {
    if (p[0] < 0x80) return 1;
    size_t k = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!k || k > n || (k == 2 && p[0] < 0xc2)) return 0;
    for (size_t i = 1; i < k; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return k;
}

int lp_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

lp_status lp_err_setv(lp_err *e, lp_status code, const char *fmt, va_list ap) {
    if (e->code != LP_OK) return code;
    e->code = code;
    char raw[sizeof e->msg];
    vsnprintf(raw, sizeof raw, fmt, ap);
    /* names come from the file: keep the message one printable UTF-8 line (\xHH for the rest) */
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 5 < sizeof e->msg;) {
        const unsigned char *p = (const unsigned char *)raw + i;
        size_t k = utf8_len(p, n - i);
        if (k && !(k == 1 && (*p < 0x20 || *p == 0x7f))) {
            memcpy(e->msg + o, p, k);
            o += k;
            i += k;
        } else {
            o += (size_t)snprintf(e->msg + o, sizeof e->msg - o, "\\x%02x", *p);
            i++;
        }
    }
    e->msg[o] = 0;
    return code;
}

lp_status lp_err_set(lp_err *e, lp_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lp_err_setv(e, code, fmt, ap);
    va_end(ap);
    return code;
}

void lp_err_prefix(lp_err *e, const char *fmt, ...) {
    char pre[1024], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    lp_status code = e->code;
    /* re-record through lp_err_set so that the prefix (often a file name) is escaped too */
    e->code = LP_OK;
    lp_err_set(e, code, "%s%s", pre, old);
}

/* ---------------- arena ---------------- */

struct lp_arena_block {
    lp_arena_block *next;
    size_t used, cap;
    /* data follows, 16-aligned */
};

#define LP_BLOCK_HDR ((sizeof(lp_arena_block) + 15) & ~(size_t)15)
#define LP_BLOCK_MIN (64 * 1024)

void lp_arena_init(lp_arena *a) { memset(a, 0, sizeof *a); }

void lp_arena_free(lp_arena *a) {
    lp_arena_block *b = a->head;
    while (b) {
        lp_arena_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
    a->total = 0;
    a->hit_limit = 0;
}

static void *arena_alloc(lp_arena *a, size_t size, int zero) {
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size) return NULL;
    if (size == 0) need = 16;
    lp_arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > LP_BLOCK_MIN ? need : LP_BLOCK_MIN;
        if (cap > SIZE_MAX - LP_BLOCK_HDR) return NULL;
        if (a->limit && (LP_BLOCK_HDR + cap > a->limit || a->total > a->limit - LP_BLOCK_HDR - cap)) {
            a->hit_limit = 1;
            return NULL;
        }
        lp_arena_block *nb = malloc(LP_BLOCK_HDR + cap);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && need > LP_BLOCK_MIN / 4) {
            /* big allocation: put the block behind the head so the head's free space stays usable */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        a->total += LP_BLOCK_HDR + cap;
        b = nb;
    }
    void *p = (char *)b + LP_BLOCK_HDR + b->used;
    b->used += need;
    if (zero) memset(p, 0, need);
    return p;
}

void *lp_arena_alloc(lp_arena *a, size_t size) { return arena_alloc(a, size, 1); }
void *lp_arena_alloc_raw(lp_arena *a, size_t size) { return arena_alloc(a, size, 0); }

void *lp_arena_dup(lp_arena *a, const void *src, size_t size) {
    void *p = lp_arena_alloc_raw(a, size);
    if (p && size) memcpy(p, src, size);
    return p;
}

char *lp_arena_strndup(lp_arena *a, const char *s, size_t n) {
    char *p = lp_arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *lp_arena_strdup(lp_arena *a, const char *s) { return lp_arena_strndup(a, s, strlen(s)); }

char *lp_arena_printf(lp_arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *p = lp_arena_alloc(a, (size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ---------------- checked arithmetic ---------------- */

int lp_mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int lp_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

int lp_mul_i64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return 0;
    if (a && b > INT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int lp_add_i64s(int64_t a, int64_t b, int64_t *out) {
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return 0;
    *out = a + b;
    return 1;
}

int lp_sub_i64s(int64_t a, int64_t b, int64_t *out) {
    if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b)) return 0;
    *out = a - b;
    return 1;
}

int lp_mul_i64s(int64_t a, int64_t b, int64_t *out) {
    if (a == 0 || b == 0) {
        *out = 0;
        return 1;
    }
    /* |a * b| fits when |a| <= INT64_MAX / |b|; INT64_MIN itself only times 1 */
    if (a == INT64_MIN || b == INT64_MIN) {
        if (a == 1 || b == 1) {
            *out = a == 1 ? b : a;
            return 1;
        }
        return 0;
    }
    int64_t ua = a < 0 ? -a : a, ub = b < 0 ? -b : b;
    if (ua > INT64_MAX / ub) return 0;
    *out = a * b;
    return 1;
}

/* ---------------- buffers ---------------- */

void lp_buf_free(lp_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void lp_buf_append(lp_buf *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void lp_buf_puts(lp_buf *b, const char *s) { lp_buf_append(b, s, strlen(s)); }

void lp_buf_printf(lp_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        lp_buf_append(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    lp_buf_append(b, big, (size_t)n);
    free(big);
}

void lp_buf_json_str(lp_buf *b, const char *s) {
    lp_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            lp_buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            lp_buf_printf(b, "\\u%04x", *p);
        } else {
            lp_buf_append(b, p, 1);
        }
    }
    lp_buf_puts(b, "\"");
}

const char *lp_buf_cstr(lp_buf *b) { return (b->data && !b->failed) ? b->data : ""; }

int lp_ivec_push(lp_ivec *a, int x) {
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        int *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) return 0;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 1;
}

void lp_ivec_free(lp_ivec *a) {
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* ---------------- file mapping ---------------- */

#if LP_POSIX
/* Is the file open on fd inside folder `dir` (after symlinks)? Asked of the open file itself, so
 * that a symlink swapped between a path check and the open cannot redirect the read.
 * 1 inside, 0 outside, -1 cannot tell (no /proc). */
static int fd_inside(int fd, const char *dir) {
    char *rdir = realpath(dir, NULL);
    if (!rdir) return 0;
    size_t dl = strlen(rdir);
    int ok = -1;
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) { /* Linux, Android */
        target[n] = 0;
        ok = strncmp(target, rdir, dl) == 0 && (target[dl] == '/' || (dl == 1 && rdir[0] == '/'));
    }
    free(rdir);
    return ok;
}
#endif

static lp_status map_open(lp_map *m, const char *path, const char *inside, lp_err *err) {
    memset(m, 0, sizeof *m);
#if LP_POSIX
    /* O_NONBLOCK: a FIFO or device must not block the open; only regular files are read */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return lp_err_set(err, LP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lp_err_set(err, LP_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lp_err_set(err, LP_ERR_IO, "'%s' is not a regular file", path);
    }
    int in = inside ? fd_inside(fd, inside) : 1;
    if (in == 0) {
        close(fd);
        return lp_err_set(err, LP_ERR_INVALID, "'%s' resolves outside the model's folder", path);
    }
    if (in < 0) {
        /* where /proc is missing: the file opened must be the one the path names now */
        char *real = realpath(path, NULL);
        struct stat st2;
        size_t dl = 0;
        char *rdir = realpath(inside, NULL);
        int ok = real && rdir && stat(real, &st2) == 0 && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino &&
                 (dl = strlen(rdir), strncmp(real, rdir, dl) == 0) && real[dl] == '/';
        free(real);
        free(rdir);
        if (!ok) {
            close(fd);
            return lp_err_set(err, LP_ERR_INVALID, "'%s' resolves outside the model's folder", path);
        }
    }
    if (st.st_size == 0) {
        close(fd);
        m->data = (const uint8_t *)"";
        m->size = 0;
        return LP_OK;
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return lp_err_set(err, LP_ERR_LIMIT, "'%s' is too large to map", path);
    }
    if ((size_t)st.st_size <= LP_READ_MAX) {
        /* Small files are read, not mapped: a file truncated by another process while we convert
         * it then cannot raise SIGBUS (a mapping would); a short read is reported instead. The
         * copy costs little next to the conversion's own memory at these sizes. */
        size_t want = (size_t)st.st_size, got = 0;
        uint8_t *buf = malloc(want);
        if (!buf) {
            close(fd);
            return lp_err_set(err, LP_ERR_NOMEM, "out of memory reading '%s'", path);
        }
        while (got < want) {
            ssize_t k = read(fd, buf + got, want - got);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                int e = errno;
                free(buf);
                close(fd);
                if (k == 0) return lp_err_set(err, LP_ERR_IO, "'%s' shrank while it was being read", path);
                return lp_err_set(err, LP_ERR_IO, "cannot read '%s': %s", path, strerror(e));
            }
            got += (size_t)k;
        }
        close(fd);
        m->data = buf;
        m->size = want;
        m->mapped = 0;
        return LP_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return lp_err_set(err, LP_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
    m->data = p;
    m->size = (size_t)st.st_size;
    m->mapped = 1;
    return LP_OK;
#else
    (void)inside;
    FILE *f = fopen(path, "rb");
    if (!f) return lp_err_set(err, LP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    lp_buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) lp_buf_append(&b, tmp, n);
    int bad = ferror(f);
    fclose(f);
    if (bad || b.failed) {
        lp_buf_free(&b);
        return lp_err_set(err, LP_ERR_IO, "cannot read '%s'", path);
    }
    m->data = (const uint8_t *)(b.data ? b.data : "");
    m->size = b.len;
    m->mapped = 0;
    return LP_OK;
#endif
}

lp_status lp_map_open(lp_map *m, const char *path, lp_err *err) { return map_open(m, path, NULL, err); }

lp_status lp_map_open_inside(lp_map *m, const char *dir, const char *path, lp_err *err) {
    return map_open(m, path, dir, err);
}

void lp_map_close(lp_map *m) {
#if LP_POSIX
    if (m->mapped && m->data) munmap((void *)m->data, m->size);
    else if (m->size) free((void *)m->data);
#else
    if (m->size) free((void *)m->data);
#endif
    memset(m, 0, sizeof *m);
}

/* ---------------- paths ---------------- */

char *lp_path_dir(lp_arena *a, const char *path) {
    const char *slash = strrchr(path, '/');
#if defined(_WIN32)
    const char *bs = strrchr(path, '\\');
    if (bs && (!slash || bs > slash)) slash = bs;
#endif
    if (!slash) return lp_arena_strdup(a, ".");
    if (slash == path) return lp_arena_strdup(a, "/");
    return lp_arena_strndup(a, path, (size_t)(slash - path));
}

char *lp_path_inside(lp_arena *a, const char *dir, const char *rel, lp_err *err) {
    size_t n = strlen(rel);
    if (n == 0) {
        lp_err_set(err, LP_ERR_INVALID, "external data location is empty");
        return NULL;
    }
    if (n > LP_MAX_NAME || memchr(rel, 0, n) != NULL) {
        lp_err_set(err, LP_ERR_INVALID, "external data location is too long");
        return NULL;
    }
    if (rel[0] == '/' || rel[0] == '\\' || (n > 1 && rel[1] == ':')) {
        lp_err_set(err, LP_ERR_INVALID,
                   "external data location '%s' is an absolute path; it must be relative to the model's folder",
                   rel);
        return NULL;
    }
    /* refuse any ".." component */
    const char *p = rel;
    while (*p) {
        const char *q = p;
        while (*q && *q != '/' && *q != '\\') q++;
        if (q - p == 2 && p[0] == '.' && p[1] == '.') {
            lp_err_set(err, LP_ERR_INVALID, "external data location '%s' contains '..'; it must stay inside the model's folder", rel);
            return NULL;
        }
        p = *q ? q + 1 : q;
    }
    char *full = lp_arena_printf(a, "%s/%s", dir, rel);
    if (!full) {
        lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        return NULL;
    }
#if LP_POSIX
    /* after symlinks the file must still be inside the folder */
    char *rdir = realpath(dir, NULL);
    char *rfile = realpath(full, NULL);
    int ok = rdir && rfile;
    if (!ok) {
        lp_err_set(err, LP_ERR_IO, "external data file '%s' not found next to the model", rel);
    } else {
        size_t dl = strlen(rdir);
        int inside = strncmp(rfile, rdir, dl) == 0 && (rfile[dl] == '/' || (dl == 1 && rdir[0] == '/'));
        if (!inside) {
            lp_err_set(err, LP_ERR_INVALID, "external data location '%s' resolves outside the model's folder", rel);
            ok = 0;
        }
    }
    free(rdir);
    free(rfile);
    if (!ok) return NULL;
#endif
    return full;
}

/* ---------------- atomic output ---------------- */

/* the permissions a new output gets (those of the file it replaces, else 0666 less the umask) */
#if LP_POSIX
static mode_t out_mode(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
    mode_t um = umask(0);
    umask(um);
    return 0666 & ~um;
}
#endif

static void outfile_reset(lp_outfile *o) {
    free(o->path);
    free(o->tmp_path);
    memset(o, 0, sizeof *o);
}

/* why the output could not be created; a missing folder is named (the CLI does not create it) */
static lp_status create_failed(lp_err *err, const char *path, size_t dirlen, int e) {
    if (e == ENOENT && dirlen > 1)
        return lp_err_set(err, LP_ERR_IO, "cannot create output '%s': folder '%.*s' does not exist", path,
                          (int)(dirlen - 1), path);
    return lp_err_set(err, LP_ERR_IO, "cannot create output '%s': %s", path, strerror(e));
}

lp_status lp_outfile_open(lp_outfile *o, const char *path, lp_err *err) {
    memset(o, 0, sizeof *o);
    size_t n = strlen(path);
    o->path = malloc(n + 1);
    o->tmp_path = malloc(n + 32);
    if (!o->path || !o->tmp_path) {
        outfile_reset(o);
        return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    }
    memcpy(o->path, path, n + 1);
    /* the temporary file sits in the output's folder (rename is then atomic) under a short name,
     * so that an output name near the file system's limit still works */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    memcpy(o->tmp_path, path, dirlen);
#if LP_POSIX
#if defined(O_TMPFILE)
    {
        /* an unnamed file in the folder: nothing to clean up whatever happens to this process */
        memcpy(o->tmp_path + dirlen, ".", 2);
        if (dirlen > 1) o->tmp_path[dirlen - 1] = 0; /* "dir" ("/" stays "/") */
        int fd = open(o->tmp_path, O_TMPFILE | O_RDWR | O_CLOEXEC, out_mode(path));
        memcpy(o->tmp_path, path, dirlen);
        if (fd >= 0) {
            fchmod(fd, out_mode(path));
            o->fp = fdopen(fd, "w+b");
            if (o->fp) {
                o->unnamed = 1;
                return LP_OK;
            }
            close(fd);
        }
        /* no O_TMPFILE on this kernel or file system: a named temporary file */
    }
#endif
    snprintf(o->tmp_path + dirlen, n + 32 - dirlen, ".liteport-XXXXXX");
    int fd = mkstemp(o->tmp_path);
    if (fd < 0) {
        int e = errno;
        outfile_reset(o);
        return create_failed(err, path, dirlen, e);
    }
    fchmod(fd, out_mode(path)); /* mkstemp uses 0600 */
    o->fp = fdopen(fd, "wb");
    if (!o->fp) {
        close(fd);
        remove(o->tmp_path);
    }
#else
    snprintf(o->tmp_path + dirlen, n + 32 - dirlen, ".liteport.tmp");
    o->fp = fopen(o->tmp_path, "wb");
#endif
    if (!o->fp) {
        int e = errno;
        outfile_reset(o);
        return create_failed(err, path, dirlen, e);
    }
    return LP_OK;
}

void lp_outfile_write(lp_outfile *o, const void *p, size_t n) {
    if (o->failed || !o->fp || n == 0) return;
    if (fwrite(p, 1, n, (FILE *)o->fp) != n) o->failed = 1;
}

void lp_outfile_abort(lp_outfile *o) {
    if (o->fp) {
        fclose((FILE *)o->fp);
        if (!o->unnamed) remove(o->tmp_path);
    }
    outfile_reset(o);
}

#if LP_POSIX && defined(O_TMPFILE)
/* Give the complete unnamed file a name (linkat through /proc, which needs no privilege): the
 * output's own when there is none yet (2), else a temporary one next to it, to be renamed over the
 * output (1). 0 when it cannot be named. */
static int name_unnamed(lp_outfile *o) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno((FILE *)o->fp));
    /* no output yet: link the file under its final name at once (no temporary name, no window in
     * which a killed process leaves one behind) */
    if (linkat(AT_FDCWD, proc, AT_FDCWD, o->path, AT_SYMLINK_FOLLOW) == 0) return 2;
    const char *slash = strrchr(o->path, '/');
    size_t dirlen = slash ? (size_t)(slash - o->path) + 1 : 0;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned long r = (unsigned long)getpid() * 2654435761u + (unsigned long)attempt * 40503u +
                          (unsigned long)(lp_now() * 1e6);
        snprintf(o->tmp_path + dirlen, strlen(o->path) + 32 - dirlen, ".liteport-%06lx", r & 0xffffff);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp_path, AT_SYMLINK_FOLLOW) == 0) return 1;
        if (errno != EEXIST) break;
    }
    /* no /proc (or no link permission): copy the data into a named temporary file */
    snprintf(o->tmp_path + dirlen, strlen(o->path) + 32 - dirlen, ".liteport-XXXXXX");
    int out = mkstemp(o->tmp_path);
    if (out < 0) return 0;
    fchmod(out, out_mode(o->path));
    int in = fileno((FILE *)o->fp), ok = 1;
    char buf[1 << 16];
    off_t at = 0;
    for (;;) {
        ssize_t k = pread(in, buf, sizeof buf, at);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            ok = k == 0;
            break;
        }
        for (ssize_t w = 0; w < k;) {
            ssize_t d = write(out, buf + w, (size_t)(k - w));
            if (d < 0 && errno == EINTR) continue;
            if (d <= 0) {
                ok = 0;
                break;
            }
            w += d;
        }
        if (!ok) break;
        at += k;
    }
    if (close(out) != 0) ok = 0;
    if (!ok) remove(o->tmp_path);
    return ok;
}
#endif

lp_status lp_outfile_commit(lp_outfile *o, lp_err *err) {
    if (!o->fp) return lp_err_set(err, LP_ERR_IO, "output file is not open");
    int bad = o->failed;
    if (fflush((FILE *)o->fp) != 0) bad = 1;
    int named = !o->unnamed;
#if LP_POSIX && defined(O_TMPFILE)
    if (!bad && o->unnamed) named = name_unnamed(o);
#endif
    if (fclose((FILE *)o->fp) != 0) bad = 1;
    o->fp = NULL;
    lp_status st = LP_OK;
    if (bad) {
        st = lp_err_set(err, LP_ERR_IO, "cannot write output '%s' (disk full?)", o->path);
        if (named) remove(named == 2 ? o->path : o->tmp_path); /* 2: the output did not exist before */
    } else if (!named) {
        st = lp_err_set(err, LP_ERR_IO, "cannot name output '%s': %s", o->path, strerror(errno));
    } else if (named == 1 && rename(o->tmp_path, o->path) != 0) {
        st = lp_err_set(err, LP_ERR_IO, "cannot rename output into '%s': %s", o->path, strerror(errno));
        remove(o->tmp_path);
    }
    outfile_reset(o);
    return st;
}

int lp_same_file(const char *a, const char *b) {
#if LP_POSIX
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
#else
    return strcmp(a, b) == 0;
#endif
}

double lp_now(void) {
#if LP_POSIX
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#else
    return (double)clock() / CLOCKS_PER_SEC;
#endif
}

/* ---------------- half precision ---------------- */

float lp_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t lp_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff);
    uint32_t man = x & 0x7fffff;
    if (exp == 255) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int32_t e = exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

float lp_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
