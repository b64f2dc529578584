/* Calibration / evaluation samples from a folder or a file: .npy arrays and images. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif
#include "data.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(_WIN32)
#include <io.h>
#else
#include <dirent.h>
#endif

#include "image.h"

#define DATA_MAX_FILES 1000000
#define NPY_MAX_HEADER 65536

/* ---------------- .npy ---------------- */

typedef struct npy_info {
    lp_dtype dtype;
    int rank;
    int64_t dims[LP_MAX_RANK];
    size_t data_off;
    int64_t numel;
} npy_info;

static const char *npy_parse(const uint8_t *d, size_t n, npy_info *info) {
    if (n < 10 || memcmp(d, "\x93NUMPY", 6)) return "not a .npy file";
    int major = d[6];
    size_t hl, ho;
    if (major == 1) {
        hl = d[8] | (size_t)d[9] << 8;
        ho = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12) return "truncated .npy header";
        hl = d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
        ho = 12;
    } else {
        return "unknown .npy version";
    }
    if (hl > NPY_MAX_HEADER || hl > n - ho) return "truncated .npy header";
    char h[NPY_MAX_HEADER + 1];
    memcpy(h, d + ho, hl);
    h[hl] = 0;
    const char *p = strstr(h, "'descr'");
    if (!p) return ".npy header has no 'descr'";
    p = strchr(p + 7, ':');
    const char *q1 = p ? strchr(p, '\'') : NULL;
    if (!q1) return "bad 'descr' in the .npy header";
    char descr[16] = {0};
    size_t k = 0;
    for (const char *s = q1 + 1; *s && *s != '\'' && k < sizeof descr - 1; s++) descr[k++] = *s;
    static const struct {
        const char *d;
        lp_dtype t;
    } types[] = {{"<f4", LP_DT_F32}, {"<f8", LP_DT_F64}, {"<f2", LP_DT_F16}, {"|u1", LP_DT_U8}, {"|i1", LP_DT_I8},
                 {"<i2", LP_DT_I16}, {"<u2", LP_DT_U16}, {"<i4", LP_DT_I32}, {"<u4", LP_DT_U32}, {"<i8", LP_DT_I64},
                 {"<u8", LP_DT_U64}, {"|b1", LP_DT_BOOL}, {"u1", LP_DT_U8}, {"i1", LP_DT_I8}, {"b1", LP_DT_BOOL}};
    info->dtype = LP_DT_UNDEF;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(descr, types[i].d)) info->dtype = types[i].t;
    if (info->dtype == LP_DT_UNDEF) return "unsupported .npy dtype (little-endian numbers and bool are supported)";
    p = strstr(h, "'fortran_order'");
    if (!p) return ".npy header has no 'fortran_order'";
    p = strchr(p + 15, ':');
    while (p && (*p == ':' || *p == ' ')) p++;
    if (!p || strncmp(p, "False", 5)) return "Fortran-order .npy arrays are not supported (save np.ascontiguousarray(a))";
    p = strstr(h, "'shape'");
    p = p ? strchr(p, '(') : NULL;
    if (!p) return ".npy header has no 'shape'";
    p++;
    info->rank = 0;
    info->numel = 1;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') break;
        char *e;
        long long v = strtoll(p, &e, 10);
        if (e == p || v < 0) return "bad 'shape' in the .npy header";
        if (info->rank == LP_MAX_RANK) return ".npy array has too many dimensions";
        info->dims[info->rank++] = v;
        if (!lp_mul_i64(info->numel, v, &info->numel) || info->numel > LP_MAX_ELEMENTS) return ".npy array is too large";
        p = e;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ')') return "bad 'shape' in the .npy header";
    }
    info->data_off = ho + hl;
    size_t bytes;
    if (!lp_mul_size((size_t)info->numel, lp_dtype_size(info->dtype), &bytes) || bytes > n - info->data_off)
        return ".npy data is shorter than its shape says";
    return NULL;
}

lp_status lp_npy_write(const char *path, const lp_array *a, lp_err *err) {
    const char *descr = NULL;
    switch (a->dtype) {
    case LP_DT_F32: descr = "<f4"; break;
    case LP_DT_F64: descr = "<f8"; break;
    case LP_DT_F16: descr = "<f2"; break;
    case LP_DT_U8: descr = "|u1"; break;
    case LP_DT_I8: descr = "|i1"; break;
    case LP_DT_I16: descr = "<i2"; break;
    case LP_DT_U16: descr = "<u2"; break;
    case LP_DT_I32: descr = "<i4"; break;
    case LP_DT_U32: descr = "<u4"; break;
    case LP_DT_I64: descr = "<i8"; break;
    case LP_DT_U64: descr = "<u8"; break;
    case LP_DT_BOOL: descr = "|b1"; break;
    default: return lp_err_set(err, LP_ERR_UNSUPPORTED, "%s: cannot write %s arrays as .npy", path, lp_dtype_name(a->dtype));
    }
    char h[600];
    int len = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    int64_t numel = 1;
    for (int d = 0; d < a->rank; d++) {
        len += snprintf(h + len, sizeof h - (size_t)len, "%lld,%s", (long long)a->dims[d], d + 1 < a->rank ? " " : "");
        numel *= a->dims[d];
    }
    len += snprintf(h + len, sizeof h - (size_t)len, "), }");
    while ((10 + len + 1) % 64) h[len++] = ' ';
    h[len++] = '\n';
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(len & 255), (uint8_t)(len >> 8)};
    lp_outfile of;
    lp_status st = lp_outfile_open(&of, path, err);
    if (st != LP_OK) return st;
    lp_outfile_write(&of, pre, 10);
    lp_outfile_write(&of, h, (size_t)len);
    lp_outfile_write(&of, a->data, (size_t)numel * lp_dtype_size(a->dtype));
    return lp_outfile_commit(&of, err);
}

/* ---------------- folder listing ---------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_dir(const char *p) {
    struct stat s;
    #if defined(_WIN32)
    return stat(p, &s) == 0 && (s.st_mode & _S_IFDIR);
#else
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
#endif
}

static int ext_is(const char *name, const char *ext) {
    size_t n = strlen(name), e = strlen(ext);
    if (n <= e) return 0;
    for (size_t i = 0; i < e; i++)
        if (tolower((unsigned char)name[n - e + i]) != ext[i]) return 0;
    return 1;
}

static int is_image_name(const char *n) {
    return ext_is(n, ".png") || ext_is(n, ".bmp") || ext_is(n, ".ppm") || ext_is(n, ".pgm") || ext_is(n, ".pnm") ||
           ext_is(n, ".jpg") || ext_is(n, ".jpeg");
}

/* names of the entries of dir (sorted; hidden entries skipped); dirs_only / files_only */
static lp_status list_dir(lp_arena *a, const char *dir, int want_dirs, char ***out, int *n_out, lp_err *err) {
    char **names = NULL;
    int n = 0, cap = 0;
#if defined(_WIN32)
    char *pat = lp_arena_printf(a, "%s\\*", dir);
    struct _finddata_t fd;
    intptr_t h = pat ? _findfirst(pat, &fd) : -1;
    if (h == -1) return lp_err_set(err, LP_ERR_IO, "cannot list folder '%s'", dir);
    do {
        const char *nm = fd.name;
#else
    DIR *dp = opendir(dir);
    if (!dp) return lp_err_set(err, LP_ERR_IO, "cannot list folder '%s'", dir);
    struct dirent *de;
    while ((de = readdir(dp))) {
        const char *nm = de->d_name;
#endif
        if (nm[0] == '.') continue;
        char *full = lp_arena_printf(a, "%s/%s", dir, nm);
        if (!full) break;
        if (is_dir(full) != want_dirs) continue;
        if (n == cap) {
            if (cap >= DATA_MAX_FILES) break;
            cap = cap ? cap * 2 : 64;
            char **q = realloc(names, sizeof(char *) * (size_t)cap);
            if (!q) break;
            names = q;
        }
        names[n++] = lp_arena_strdup(a, nm);
#if defined(_WIN32)
    } while (_findnext(h, &fd) == 0);
    _findclose(h);
#else
    }
    closedir(dp);
#endif
    char **keep = lp_arena_alloc(a, sizeof(char *) * (size_t)(n + 1));
    if (!keep) {
        free(names);
        return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) keep[i] = names[i];
    free(names);
    qsort(keep, (size_t)n, sizeof(char *), cmp_str);
    *out = keep;
    *n_out = n;
    return LP_OK;
}

/* ---------------- the data set ---------------- */

typedef struct unit {
    const char *path;
    int image;         /* 1: an image file */
    int64_t row, rows; /* .npy: first sample row and count; rows 0 = the whole array is one sample */
    npy_info npy;
} unit;

typedef struct input_info {
    int tensor;
    lp_dtype dtype;
    int rank;
    int64_t onnx_dims[LP_MAX_RANK];  /* dims in ONNX layout (negative = dynamic) */
    int perm[LP_MAX_RANK];           /* tflite dim i = onnx dim perm[i] */
    const char *name;
    unit *units;
    int n_units, cap_units;
} input_info;

struct lp_dataset {
    lp_arena arena;
    lp_err *err;
    lp_data_opts o;
    int n_inputs;
    input_info *in;
    int n_samples;
    char desc[512];
};

static lp_status add_unit(lp_dataset *ds, input_info *ii, const unit *u) {
    if (ii->n_units == ii->cap_units) {
        if (ii->cap_units >= DATA_MAX_FILES * 4)
            return lp_err_set(ds->err, LP_ERR_LIMIT, "more than %d samples", DATA_MAX_FILES * 4);
        int nc = ii->cap_units ? ii->cap_units * 2 : 64;
        unit *q = lp_arena_alloc(&ds->arena, sizeof(unit) * (size_t)nc);
        if (!q) return lp_err_set(ds->err, LP_ERR_NOMEM, "out of memory");
        if (ii->n_units) memcpy(q, ii->units, sizeof(unit) * (size_t)ii->n_units);
        ii->units = q;
        ii->cap_units = nc;
    }
    ii->units[ii->n_units++] = *u;
    return LP_OK;
}

static void dims_text(char *buf, size_t n, int rank, const int64_t *dims) {
    size_t at = 0;
    at += (size_t)snprintf(buf + at, n - at, "[");
    for (int d = 0; d < rank && at < n; d++)
        at += (size_t)(dims[d] >= 0 ? snprintf(buf + at, n - at, "%s%lld", d ? "," : "", (long long)dims[d])
                                    : snprintf(buf + at, n - at, "%s?", d ? "," : ""));
    if (at < n) snprintf(buf + at, n - at, "]");
}

/* index one file for input ii */
static lp_status index_file(lp_dataset *ds, input_info *ii, const char *path) {
    unit u;
    memset(&u, 0, sizeof u);
    u.path = lp_arena_strdup(&ds->arena, path);
    if (!u.path) return lp_err_set(ds->err, LP_ERR_NOMEM, "out of memory");
    if (is_image_name(path)) {
        if (ii->rank != 4)
            return lp_err_set(ds->err, LP_ERR_INVALID, "%s: an image cannot feed input '%s' of rank %d (images feed 4-D inputs)",
                              path, ii->name, ii->rank);
        u.image = 1;
        return add_unit(ds, ii, &u);
    }
    lp_map m;
    lp_status st = lp_map_open(&m, path, ds->err);
    if (st != LP_OK) return st;
    const char *e = npy_parse(m.data, m.size, &u.npy);
    lp_map_close(&m);
    if (e) return lp_err_set(ds->err, LP_ERR_PARSE, "%s: %s", path, e);
    char want[200], got[200];
    dims_text(want, sizeof want, ii->rank, ii->onnx_dims);
    dims_text(got, sizeof got, u.npy.rank, u.npy.dims);
    int full = u.npy.rank == ii->rank;
    if (!full && u.npy.rank != ii->rank - 1)
        return lp_err_set(ds->err, LP_ERR_INVALID,
                          "%s: array of shape %s does not fit input '%s' %s (ONNX layout; give the input's rank, with "
                          "samples along the first axis, or one less for a single sample)",
                          path, got, ii->name, want);
    /* dims after the batch must match the input's fixed dims */
    for (int d = 1; d < ii->rank; d++) {
        int64_t have = u.npy.dims[full ? d : d - 1];
        if (ii->onnx_dims[d] >= 0 && have != ii->onnx_dims[d])
            return lp_err_set(ds->err, LP_ERR_INVALID, "%s: array of shape %s does not fit input '%s' %s (ONNX layout)", path,
                              got, ii->name, want);
    }
    if (!full) {
        if (ii->rank > 0 && ii->onnx_dims[0] >= 0 && ii->onnx_dims[0] != 1)
            return lp_err_set(ds->err, LP_ERR_INVALID,
                              "%s: input '%s' %s has a fixed batch of %lld; give arrays with the batch dimension", path,
                              ii->name, want, (long long)ii->onnx_dims[0]);
        return add_unit(ds, ii, &u);
    }
    int64_t batch = ii->onnx_dims[0] >= 0 ? ii->onnx_dims[0] : 1, total = u.npy.dims[0];
    if (batch <= 0 || total % batch)
        return lp_err_set(ds->err, LP_ERR_INVALID, "%s: %lld rows are not a whole number of batches of %lld for input '%s'",
                          path, (long long)total, (long long)batch, ii->name);
    for (int64_t r0 = 0; r0 < total; r0 += batch) {
        u.row = r0;
        u.rows = batch;
        st = add_unit(ds, ii, &u);
        if (st != LP_OK) return st;
        if (ds->o.limit > 0 && ii->n_units >= ds->o.limit) break;
    }
    return LP_OK;
}

static lp_status index_folder(lp_dataset *ds, input_info *ii, const char *dir) {
    char **names;
    int n;
    lp_status st = list_dir(&ds->arena, dir, 0, &names, &n, ds->err);
    if (st != LP_OK) return st;
    for (int i = 0; i < n; i++) {
        if (ds->o.limit > 0 && ii->n_units >= ds->o.limit) break;
        if (!ext_is(names[i], ".npy") && !is_image_name(names[i])) continue;
        char *full = lp_arena_printf(&ds->arena, "%s/%s", dir, names[i]);
        if (!full) return lp_err_set(ds->err, LP_ERR_NOMEM, "out of memory");
        st = index_file(ds, ii, full);
        if (st != LP_OK) return st;
    }
    if (!ii->n_units)
        return lp_err_set(ds->err, LP_ERR_INVALID, "no samples (.npy arrays or PNG/JPEG/BMP/PGM/PPM images) in '%s'", dir);
    return LP_OK;
}

/* a sub-folder named like the input (or its name with characters a file system dislikes as '_') */
static const char *input_folder(lp_arena *a, const char *dir, const char *name, char **subs, int n_subs) {
    char *safe = lp_arena_strdup(a, name);
    if (!safe) return NULL;
    for (char *p = safe; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_')) *p = '_';
    for (int i = 0; i < n_subs; i++)
        if (!strcmp(subs[i], name) || !strcmp(subs[i], safe)) return lp_arena_printf(a, "%s/%s", dir, subs[i]);
    return NULL;
}

lp_status lp_dataset_open(lp_dataset **out, const char *path, const lp_graph *g, const lp_data_opts *o, lp_err *err) {
    *out = NULL;
    lp_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    lp_arena_init(&ds->arena);
    ds->err = err;
    ds->o = *o;
    ds->n_inputs = g->inputs.n;
    ds->in = lp_arena_alloc(&ds->arena, sizeof(input_info) * (size_t)(g->inputs.n + 1));
    lp_status st = LP_OK;
    if (!ds->in) {
        st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (g->inputs.n == 0) {
        st = lp_err_set(err, LP_ERR_INVALID, "the model has no inputs to feed");
        goto fail;
    }
    for (int i = 0; i < g->inputs.n; i++) {
        input_info *ii = &ds->in[i];
        const lp_tensor *T = &g->t[g->inputs.v[i]];
        ii->tensor = g->inputs.v[i];
        ii->dtype = T->dtype;
        ii->rank = T->rank;
        ii->name = T->name;
        for (int d = 0; d < T->rank; d++) ii->perm[d] = T->has_io_perm ? T->io_perm[d] : d;
        for (int d = 0; d < T->rank; d++) ii->onnx_dims[ii->perm[d]] = T->dims[d];
    }
    int file_given = !is_dir(path);
    if (file_given) {
        if (g->inputs.n != 1) {
            st = lp_err_set(err, LP_ERR_INVALID,
                            "'%s' is a file, but the model has %d inputs: give a folder with one sub-folder per input",
                            path, g->inputs.n);
            goto fail;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) {
            st = lp_err_set(err, LP_ERR_IO, "cannot open data '%s': no such file or folder", path);
            goto fail;
        }
        st = index_file(ds, &ds->in[0], path);
    } else {
        char **subs;
        int n_subs;
        st = list_dir(&ds->arena, path, 1, &subs, &n_subs, err);
        if (st != LP_OK) goto fail;
        for (int i = 0; i < g->inputs.n && st == LP_OK; i++) {
            const char *sub = input_folder(&ds->arena, path, ds->in[i].name, subs, n_subs);
            if (!sub && g->inputs.n > 1) {
                st = lp_err_set(err, LP_ERR_INVALID, "'%s' has no sub-folder for input '%s' (the model has %d inputs)", path,
                                ds->in[i].name, g->inputs.n);
                goto fail;
            }
            st = index_folder(ds, &ds->in[i], sub ? sub : path);
        }
    }
    if (st != LP_OK) goto fail;
    ds->n_samples = ds->in[0].n_units;
    for (int i = 1; i < g->inputs.n; i++)
        if (ds->in[i].n_units != ds->n_samples) {
            st = lp_err_set(err, LP_ERR_INVALID, "'%s': input '%s' has %d samples but input '%s' has %d", path, ds->in[0].name,
                            ds->n_samples, ds->in[i].name, ds->in[i].n_units);
            goto fail;
        }
    if (o->limit > 0 && ds->n_samples > o->limit) ds->n_samples = o->limit;
    {
        int images = 0;
        for (int k = 0; k < ds->in[0].n_units; k++) images += ds->in[0].units[k].image;
        snprintf(ds->desc, sizeof ds->desc, "%d %s from %s", ds->n_samples,
                 images == ds->in[0].n_units ? "images" : "samples", path);
    }
    *out = ds;
    return LP_OK;
fail:
    lp_dataset_free(ds);
    return st;
}

void lp_dataset_free(lp_dataset *ds) {
    if (!ds) return;
    lp_arena_free(&ds->arena);
    free(ds);
}

int lp_dataset_count(const lp_dataset *ds) { return ds->n_samples; }
const char *lp_dataset_describe(const lp_dataset *ds) { return ds->desc; }

/* ---- image -> float planes ---- */

/* resize one axis: out[i] from src[off + ...] with a triangle filter widened when shrinking */
typedef struct taps {
    int *first, *count;
    float *w;
    int max;
} taps;

static int taps_make(taps *t, int in, double off, double extent, int out) {
    double scale = extent / out, support = scale > 1 ? scale : 1;
    t->max = (int)ceil(support) * 2 + 2;
    t->first = malloc(sizeof(int) * (size_t)out);
    t->count = malloc(sizeof(int) * (size_t)out);
    t->w = malloc(sizeof(float) * (size_t)out * (size_t)t->max);
    if (!t->first || !t->count || !t->w) return 0;
    for (int i = 0; i < out; i++) {
        double c = off + (i + 0.5) * scale;
        int lo = (int)floor(c - support), hi = (int)ceil(c + support);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > t->max) hi = lo + t->max;
        double sum = 0;
        int k = 0;
        for (int j = lo; j < hi; j++, k++) {
            double x = fabs((j + 0.5 - c) / support);
            double w = x < 1 ? 1 - x : 0;
            t->w[(size_t)i * (size_t)t->max + (size_t)k] = (float)w;
            sum += w;
        }
        if (sum <= 0) { /* the sample lies outside every pixel's support: nearest pixel */
            int j = (int)floor(c);
            j = j < 0 ? 0 : j >= in ? in - 1 : j;
            lo = j;
            k = 1;
            t->w[(size_t)i * (size_t)t->max] = 1;
            sum = 1;
        }
        for (int j = 0; j < k; j++) t->w[(size_t)i * (size_t)t->max + (size_t)j] /= (float)sum;
        t->first[i] = lo;
        t->count[i] = k;
    }
    return 1;
}

static void taps_free(taps *t) {
    free(t->first);
    free(t->count);
    free(t->w);
}

/* image -> float [C][H][W] in 0..255 (channels converted), resized */
static lp_status image_planes(lp_dataset *ds, const lp_image *img, int C, int H, int W, float *out, const char *what) {
    int iw = img->w, ih = img->h, ic = img->channels;
    /* the source window: all of it (stretch) or the centred part with the output's aspect (crop) */
    double x0 = 0, y0 = 0, ew = iw, eh = ih;
    if (ds->o.crop) {
        double s = fmax((double)W / iw, (double)H / ih);
        ew = W / s;
        eh = H / s;
        x0 = (iw - ew) / 2;
        y0 = (ih - eh) / 2;
    }
    taps tx = {0}, ty = {0};
    float *src = malloc(sizeof(float) * (size_t)ih * (size_t)iw);
    float *mid = malloc(sizeof(float) * (size_t)ih * (size_t)W);
    lp_status st = LP_OK;
    if (!src || !mid || !taps_make(&tx, iw, x0, ew, W) || !taps_make(&ty, ih, y0, eh, H)) {
        st = lp_err_set(ds->err, LP_ERR_NOMEM, "out of memory resizing %s", what);
        goto done;
    }
    for (int c = 0; c < C; c++) {
        /* channel c of the input from the image's channels */
        for (int64_t p = 0; p < (int64_t)ih * iw; p++) {
            const uint8_t *px = img->px + p * ic;
            float v;
            int gray = ic <= 2;
            if (C == 1) v = gray ? px[0] : 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
            else if (c < 3) v = gray ? px[0] : px[c];
            else v = (ic == 2 || ic == 4) ? px[ic - 1] : 255.0f;
            src[p] = v;
        }
        for (int y = 0; y < ih; y++)
            for (int x = 0; x < W; x++) {
                float s = 0;
                const float *w = tx.w + (size_t)x * (size_t)tx.max;
                const float *row = src + (size_t)y * (size_t)iw + tx.first[x];
                for (int k = 0; k < tx.count[x]; k++) s += w[k] * row[k];
                mid[(size_t)y * (size_t)W + (size_t)x] = s;
            }
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float s = 0;
                const float *w = ty.w + (size_t)y * (size_t)ty.max;
                for (int k = 0; k < ty.count[y]; k++) s += w[k] * mid[(size_t)(ty.first[y] + k) * (size_t)W + (size_t)x];
                out[((size_t)c * (size_t)H + (size_t)y) * (size_t)W + (size_t)x] = s;
            }
    }
done:
    free(src);
    free(mid);
    taps_free(&tx);
    taps_free(&ty);
    return st;
}

/* ONNX-layout array (float64 values in `vals`, dims `od`) -> TFLite-layout array of the input's dtype */
static lp_status to_input(lp_dataset *ds, const input_info *ii, const double *vals, const int64_t *od, lp_array *a) {
    int64_t numel = 1;
    for (int d = 0; d < ii->rank; d++) numel *= od[d];
    a->dtype = ii->dtype;
    a->rank = ii->rank;
    size_t es = lp_dtype_size(ii->dtype);
    if (!es) return lp_err_set(ds->err, LP_ERR_UNSUPPORTED, "input '%s' has type %s, which sample files cannot fill", ii->name,
                               lp_dtype_name(ii->dtype));
    a->data = malloc((size_t)numel * es + 1);
    if (!a->data) return lp_err_set(ds->err, LP_ERR_NOMEM, "out of memory");
    int64_t ostr[LP_MAX_RANK], s = 1;
    for (int d = ii->rank - 1; d >= 0; d--) {
        ostr[d] = s;
        s *= od[d];
    }
    int64_t istr[LP_MAX_RANK];
    for (int d = 0; d < ii->rank; d++) {
        a->dims[d] = od[ii->perm[d]];
        istr[d] = ostr[ii->perm[d]];
    }
    int64_t idx[LP_MAX_RANK] = {0}, off = 0;
    int is_f = lp_dtype_is_float(ii->dtype);
    for (int64_t i = 0; i < numel; i++) {
        if (is_f) lp_set_f64(a->dtype, a->data, i, vals[off]);
        else lp_set_i64(a->dtype, a->data, i, (int64_t)llround(vals[off]));
        for (int d = ii->rank - 1; d >= 0; d--) {
            off += istr[d];
            if (++idx[d] < a->dims[d]) break;
            off -= istr[d] * a->dims[d];
            idx[d] = 0;
        }
    }
    return LP_OK;
}

static lp_status load_unit(lp_dataset *ds, const input_info *ii, const unit *u, lp_array *a) {
    memset(a, 0, sizeof *a);
    lp_map m;
    lp_status st = lp_map_open(&m, u->path, ds->err);
    if (st != LP_OK) return st;
    double *vals = NULL;
    int64_t od[LP_MAX_RANK];
    if (u->image) {
        lp_image img;
        st = lp_image_decode(&img, m.data, m.size, u->path, ds->err);
        lp_map_close(&m);
        if (st != LP_OK) return st;
        /* NCHW when dim 1 looks like channels, else NHWC */
        int nchw = ii->onnx_dims[1] >= 1 && ii->onnx_dims[1] <= 4;
        int nhwc = !nchw && ii->onnx_dims[3] >= 1 && ii->onnx_dims[3] <= 4;
        if (!nchw && !nhwc) {
            lp_image_free(&img);
            char want[200];
            dims_text(want, sizeof want, ii->rank, ii->onnx_dims);
            return lp_err_set(ds->err, LP_ERR_INVALID,
                              "%s: input '%s' %s does not look like an image (1, 3 or 4 channels in dimension 1 or 3); "
                              "give .npy arrays instead",
                              u->path, ii->name, want);
        }
        int C = (int)(nchw ? ii->onnx_dims[1] : ii->onnx_dims[3]);
        int64_t H = nchw ? ii->onnx_dims[2] : ii->onnx_dims[1], W = nchw ? ii->onnx_dims[3] : ii->onnx_dims[2];
        if (H < 0) H = img.h;
        if (W < 0) W = img.w;
        if (H <= 0 || W <= 0 || H > LP_IMAGE_MAX_SIDE || W > LP_IMAGE_MAX_SIDE) {
            lp_image_free(&img);
            return lp_err_set(ds->err, LP_ERR_LIMIT, "input '%s' has an unusable image size", ii->name);
        }
        float *planes = malloc(sizeof(float) * (size_t)C * (size_t)H * (size_t)W);
        vals = malloc(sizeof(double) * (size_t)C * (size_t)H * (size_t)W);
        if (!planes || !vals) {
            free(planes);
            free(vals);
            lp_image_free(&img);
            return lp_err_set(ds->err, LP_ERR_NOMEM, "out of memory");
        }
        st = image_planes(ds, &img, C, (int)H, (int)W, planes, u->path);
        lp_image_free(&img);
        if (st == LP_OK) {
            int raw = !lp_dtype_is_float(ii->dtype); /* integer inputs take pixel values as they are */
            for (int c = 0; c < C; c++) {
                float mean = ds->o.n_mean == 0 ? 0 : ds->o.mean[ds->o.n_mean == 1 ? 0 : c];
                float sd = ds->o.n_std == 0 ? 1 : ds->o.std[ds->o.n_std == 1 ? 0 : c];
                for (int64_t y = 0; y < H; y++)
                    for (int64_t x = 0; x < W; x++) {
                        float v = planes[((size_t)c * (size_t)H + (size_t)y) * (size_t)W + (size_t)x];
                        double r = raw ? v : ((double)v / 255.0 - mean) / sd;
                        size_t at = nchw ? ((size_t)c * (size_t)H + (size_t)y) * (size_t)W + (size_t)x
                                         : ((size_t)y * (size_t)W + (size_t)x) * (size_t)C + (size_t)c;
                        vals[at] = r;
                    }
            }
            od[0] = 1;
            od[1] = nchw ? C : H;
            od[2] = nchw ? H : W;
            od[3] = nchw ? W : C;
        }
        free(planes);
    } else {
        npy_info info;
        const char *e = npy_parse(m.data, m.size, &info);
        if (e || info.numel != u->npy.numel) {
            lp_map_close(&m);
            return lp_err_set(ds->err, LP_ERR_PARSE, "%s: %s", u->path, e ? e : "the file changed while reading");
        }
        int full = info.rank == ii->rank;
        int64_t row_elems = 1;
        for (int d = full ? 1 : 0; d < info.rank; d++) row_elems *= info.dims[d];
        int64_t first = full ? u->row : 0, count = full ? u->rows : 1;
        vals = malloc(sizeof(double) * (size_t)(row_elems * count + 1));
        if (!vals) {
            lp_map_close(&m);
            return lp_err_set(ds->err, LP_ERR_NOMEM, "out of memory");
        }
        const uint8_t *base = m.data + info.data_off;
        for (int64_t i = 0; i < row_elems * count; i++) vals[i] = lp_get_f64(info.dtype, base, first * row_elems + i);
        lp_map_close(&m);
        od[0] = count;
        for (int d = 1; d < ii->rank; d++) od[d] = info.dims[full ? d : d - 1];
    }
    if (st == LP_OK) st = to_input(ds, ii, vals, od, a);
    free(vals);
    return st;
}

lp_status lp_dataset_load(lp_dataset *ds, int k, lp_array *arrays) {
    for (int i = 0; i < ds->n_inputs; i++) memset(&arrays[i], 0, sizeof arrays[i]);
    for (int i = 0; i < ds->n_inputs; i++) {
        lp_status st = load_unit(ds, &ds->in[i], &ds->in[i].units[k], &arrays[i]);
        if (st != LP_OK) {
            for (int j = 0; j <= i; j++) {
                free(arrays[j].data);
                arrays[j].data = NULL;
            }
            return st;
        }
    }
    return LP_OK;
}
