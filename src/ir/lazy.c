/* Lazily transformed constant payloads: see "lazily transformed constants" in ir.h.
 *
 * A new view is built in two steps. First the source's virtual dims are refined against the shape
 * the caller sees the source with: a virtual dim of size n and stride s splits into (n/m, m) with
 * strides (s*m, s) wherever a boundary of the caller's shape falls inside it, so every axis of that
 * shape becomes a run of consecutive virtual dims. Then the transform moves runs (permutation),
 * sets a scale stride on a run (scaling) or puts an index map on a run of one dim (gathering).
 * When no refinement exists (a boundary splits a dim unevenly, a gathered dim would split, or a
 * second map or scale would be needed) the source is computed into the arena first and the view is
 * built over those plain bytes: always correct, only no longer free. */
#include <string.h>

#include "ir.h"

#ifndef LP_LAZY_MIN_BYTES
#define LP_LAZY_MIN_BYTES 4096 /* smaller payloads are computed at once: readers of shapes, axes and
                                  scalars then never meet a lazy tensor */
#endif

/* ---------------- reading ---------------- */

/* elements [e0, e0 + cnt) of the view into dst */
static void read_elems(const lp_lazy *z, int64_t e0, int64_t cnt, uint8_t *dst) {
    int r = z->rank;
    size_t es = z->es;
    int64_t idx[LP_LAZY_MAX_DIMS];
    int64_t rem = e0;
    for (int k = r - 1; k >= 0; k--) {
        idx[k] = rem % z->dims[k];
        rem /= z->dims[k];
    }
    int last = r - 1;
    int64_t st = z->stride[last], sst = z->sstride[last];
    int inner_map = z->gaxis == last;
    /* a transpose (the dim before the last one is contiguous in the source, the last one is not):
     * up to 16 output rows at a time, in tiles, so each source cache line is read once and not
     * once per row (a [K, N] -> [N, K] weight otherwise misses the cache on every element) */
    int tiled = r >= 2 && es == 4 && !z->scale && z->stride[last - 1] == 1 && st != 1 && z->gaxis != last &&
                z->gaxis != last - 1 && z->dims[last] >= 16;
    while (cnt > 0) {
        int64_t L = z->dims[last], rows = 0;
        if (tiled && idx[last] == 0) {
            rows = z->dims[last - 1] - idx[last - 1];
            if (rows > 16) rows = 16;
            if (rows > cnt / L) rows = cnt / L;
        }
        if (rows >= 2) {
            int64_t so = z->offset;
            for (int k = 0; k < last; k++) so += (k == z->gaxis ? z->gmap[idx[k]] : idx[k]) * z->stride[k];
            const uint8_t *s = z->base + (size_t)so * 4;
            for (int64_t j0 = 0; j0 < L; j0 += 64) {
                int64_t jn = L - j0 < 64 ? L - j0 : 64;
                for (int64_t b = 0; b < rows; b++)
                    for (int64_t j = j0; j < j0 + jn; j++)
                        memcpy(dst + (size_t)(b * L + j) * 4, s + (size_t)(b + j * st) * 4, 4);
            }
            dst += (size_t)(rows * L) * 4;
            cnt -= rows * L;
            idx[last - 1] += rows;
            for (int k = last - 1; k > 0 && idx[k] == z->dims[k]; k--) {
                idx[k] = 0;
                idx[k - 1]++;
            }
            continue;
        }
        int64_t so = z->offset, sc = z->soffset;
        for (int k = 0; k < last; k++) {
            int64_t ik = k == z->gaxis ? z->gmap[idx[k]] : idx[k];
            so += ik * z->stride[k];
            sc += ik * z->sstride[k];
        }
        int64_t j0 = idx[last], run = z->dims[last] - j0;
        if (run > cnt) run = cnt;
        if (!inner_map && !z->scale && st == 1) {
            memcpy(dst, z->base + (size_t)(so + j0) * es, (size_t)run * es);
        } else if (!inner_map && !z->scale && es == 4) {
            const uint8_t *s = z->base + (size_t)(so + j0 * st) * 4;
            for (int64_t j = 0; j < run; j++) memcpy(dst + 4 * j, s + (size_t)(j * st) * 4, 4);
        } else {
            for (int64_t j = 0; j < run; j++) {
                int64_t ij = inner_map ? z->gmap[j0 + j] : j0 + j;
                const uint8_t *s = z->base + (size_t)(so + ij * st) * es;
                if (z->scale) {
                    float v;
                    memcpy(&v, s, 4);
                    v *= z->scale[sc + ij * sst];
                    memcpy(dst + 4 * j, &v, 4);
                } else {
                    memcpy(dst + (size_t)j * es, s, es);
                }
            }
        }
        dst += (size_t)run * es;
        cnt -= run;
        idx[last] = 0;
        for (int k = last - 1; k >= 0; k--) {
            if (++idx[k] < z->dims[k]) break;
            idx[k] = 0;
        }
    }
}

static void lazy_read(const lp_lazy *z, uint64_t off, uint8_t *dst, size_t n) {
    size_t es = z->es;
    uint8_t tmp[16];
    /* a partial first element */
    if (n && off % es) {
        int64_t e = (int64_t)(off / es);
        size_t skip = (size_t)(off % es), take = es - skip < n ? es - skip : n;
        read_elems(z, e, 1, tmp);
        memcpy(dst, tmp + skip, take);
        dst += take;
        off += take;
        n -= take;
    }
    size_t whole = n / es;
    if (whole) {
        read_elems(z, (int64_t)(off / es), (int64_t)whole, dst);
        dst += whole * es;
        off += whole * es;
        n -= whole * es;
    }
    if (n) { /* a partial last element */
        read_elems(z, (int64_t)(off / es), 1, tmp);
        memcpy(dst, tmp, n);
    }
}

void lp_tensor_read(const lp_tensor *t, uint64_t off, void *dst, size_t n) {
    if (t->lazy) lazy_read(t->lazy, off, dst, n);
    else if (n) memcpy(dst, (const uint8_t *)t->data + off, n);
}

static size_t payload_bytes(const lp_tensor *t) {
    int64_t n = lp_tensor_numel(t);
    return n > 0 ? (size_t)n * lp_dtype_size(t->dtype) : 0;
}

const void *lp_tensor_bytes(lp_graph *g, int id) {
    lp_tensor *t = &g->t[id];
    if (!t->lazy) return t->data;
    size_t n = payload_bytes(t);
    uint8_t *p = lp_arena_alloc_raw(&g->arena, n ? n : 1);
    if (!p) {
        lp_err_set(g->err, LP_ERR_NOMEM, "out of memory computing constant '%s'", t->name);
        return NULL;
    }
    lazy_read(t->lazy, 0, p, n);
    t->data = p;
    t->lazy = NULL;
    t->flags |= LP_T_OWNED;
    return p;
}

int lp_lazy_same(const lp_lazy *a, const lp_lazy *b) {
    if (a->base != b->base || a->es != b->es || a->rank != b->rank || a->offset != b->offset ||
        a->gaxis != b->gaxis || !a->scale != !b->scale || a->soffset != b->soffset)
        return 0;
    for (int k = 0; k < a->rank; k++)
        if (a->dims[k] != b->dims[k] || a->stride[k] != b->stride[k] || a->sstride[k] != b->sstride[k]) return 0;
    if (a->gaxis >= 0 && a->gmap != b->gmap &&
        memcmp(a->gmap, b->gmap, sizeof(int64_t) * (size_t)a->dims[a->gaxis]) != 0)
        return 0;
    /* scale tables: equal pointers only (their length is not kept) */
    return a->scale == b->scale;
}

/* ---------------- building ---------------- */

/* the view of constant src (its payload as it is) */
static lp_status source_view(lp_graph *g, int src, lp_lazy *z) {
    const lp_tensor *t = &g->t[src];
    if (t->lazy) {
        *z = *t->lazy;
        return LP_OK;
    }
    memset(z, 0, sizeof *z);
    z->base = t->data;
    z->es = lp_dtype_size(t->dtype);
    z->rank = 1;
    z->dims[0] = lp_tensor_numel(t);
    z->stride[0] = 1;
    z->gaxis = -1;
    return LP_OK;
}

/* z's virtual dims split so that every axis of vdims is the run [run[a], run[a+1]) of the result.
 * Size-1 virtual dims are dropped first (their index is 0, or gmap[0]). 0 when impossible. */
static int refine(const lp_lazy *z, int vrank, const int64_t *vdims, lp_lazy *o, int *run) {
    lp_lazy s = *z; /* without unit dims */
    s.rank = 0;
    s.gaxis = -1;
    for (int k = 0; k < z->rank; k++) {
        if (z->dims[k] == 1) {
            int64_t i = k == z->gaxis ? z->gmap[0] : 0;
            s.offset += i * z->stride[k];
            s.soffset += i * z->sstride[k];
            continue;
        }
        if (k == z->gaxis) s.gaxis = s.rank;
        s.dims[s.rank] = z->dims[k];
        s.stride[s.rank] = z->stride[k];
        s.sstride[s.rank] = z->sstride[k];
        s.rank++;
    }
    if (s.gaxis < 0) s.gmap = NULL;
    *o = s;
    o->rank = 0;
    o->gaxis = -1;
    int k = 0;
    int64_t cd = s.rank ? s.dims[0] : 1;
    for (int a = 0; a < vrank; a++) {
        run[a] = o->rank;
        int64_t need = vdims[a];
        while (need > 1) {
            if (k >= s.rank || o->rank >= LP_LAZY_MAX_DIMS) return 0;
            if (cd <= need) {
                if (need % cd) return 0;
                /* the (rest of the) virtual dim k belongs to this axis */
                if (k == s.gaxis) {
                    if (cd != s.dims[k]) return 0;
                    o->gaxis = o->rank;
                }
                o->dims[o->rank] = cd;
                o->stride[o->rank] = s.stride[k];
                o->sstride[o->rank] = s.sstride[k];
                o->rank++;
                need /= cd;
                k++;
                cd = k < s.rank ? s.dims[k] : 1;
            } else {
                /* split: the outer `need` of virtual dim k here, the inner cd/need for what follows */
                if (cd % need || k == s.gaxis) return 0;
                int64_t innr = cd / need;
                o->dims[o->rank] = need;
                o->stride[o->rank] = s.stride[k] * innr;
                o->sstride[o->rank] = s.sstride[k] * innr;
                o->rank++;
                cd = innr;
                need = 1;
            }
        }
    }
    run[vrank] = o->rank;
    return k == s.rank;
}

/* the plain view of bytes p (n elements of size es) */
static void plain_view(lp_lazy *z, const void *p, size_t es, int64_t n) {
    memset(z, 0, sizeof *z);
    z->base = p;
    z->es = es;
    z->rank = 1;
    z->dims[0] = n;
    z->stride[0] = 1;
    z->gaxis = -1;
}

/* src's payload computed now (when it cannot be refined) */
static int plain_source(lp_graph *g, int src, lp_lazy *z) {
    const lp_tensor *t = &g->t[src];
    int64_t n = lp_tensor_numel(t);
    size_t es = lp_dtype_size(t->dtype);
    const void *p = t->data;
    if (t->lazy) {
        uint8_t *m = lp_arena_alloc_raw(&g->arena, (size_t)n * es);
        if (!m) return 0;
        lazy_read(t->lazy, 0, m, (size_t)n * es);
        p = m;
    }
    plain_view(z, p, es, n);
    return 1;
}

/* source view refined against vdims; falls back to the computed source. 0 on out of memory. */
static int refined_source(lp_graph *g, int src, int vrank, const int64_t *vdims, int plain, lp_lazy *o,
                          int *run) {
    lp_lazy z;
    if (!plain) {
        source_view(g, src, &z);
        if (refine(&z, vrank, vdims, o, run)) return 1;
    }
    if (!plain_source(g, src, &z)) return 0;
    return refine(&z, vrank, vdims, o, run); /* a plain dim always splits evenly */
}

/* a unit-size virtual dim of stride 0 standing for an axis that has no virtual dims */
static void put_unit(lp_lazy *o, int at) {
    memmove(&o->dims[at + 1], &o->dims[at], sizeof(int64_t) * (size_t)(o->rank - at));
    memmove(&o->stride[at + 1], &o->stride[at], sizeof(int64_t) * (size_t)(o->rank - at));
    memmove(&o->sstride[at + 1], &o->sstride[at], sizeof(int64_t) * (size_t)(o->rank - at));
    o->dims[at] = 1;
    o->stride[at] = 0;
    o->sstride[at] = 0;
    if (o->gaxis >= at) o->gaxis++;
    o->rank++;
}

/* the new constant: lazy when large, computed now when small */
static int add_view(lp_graph *g, const char *name, lp_dtype dt, int rank, const int64_t *dims, const lp_lazy *z) {
    if (z->rank == 0) { /* every dim had size 1 */
        lp_lazy one = *z;
        one.rank = 1;
        one.dims[0] = 1;
        one.stride[0] = 0;
        one.sstride[0] = 0;
        one.gaxis = -1;
        return add_view(g, name, dt, rank, dims, &one);
    }
    int id = lp_graph_add_tensor(g, name, dt, rank, dims);
    if (id < 0) return -1;
    lp_tensor *t = &g->t[id];
    size_t n = payload_bytes(t);
    t->nbytes = n;
    t->flags |= LP_T_CONST | LP_T_OWNED;
    if (n < LP_LAZY_MIN_BYTES) {
        uint8_t *p = lp_arena_alloc_raw(&g->arena, n ? n : 1);
        if (!p) goto oom;
        lazy_read(z, 0, p, n);
        t->data = p;
        return id;
    }
    lp_lazy *c = lp_arena_dup(&g->arena, z, sizeof *z);
    if (!c) goto oom;
    t->data = NULL;
    t->lazy = c;
    return id;
oom:
    lp_err_set(g->err, LP_ERR_NOMEM, "out of memory for constant '%s'", name);
    return -1;
}

static int check_view(lp_graph *g, int src, int vrank, const int64_t *vdims, const char *what) {
    const lp_tensor *t = &g->t[src];
    int64_t n = 1;
    for (int a = 0; a < vrank; a++) {
        if (vdims[a] < 0) n = -1;
        if (n >= 0) n *= vdims[a];
    }
    if (!(t->flags & LP_T_CONST) || (!t->data && !t->lazy) || vrank < 0 || vrank > LP_MAX_RANK || n < 0 ||
        n != lp_tensor_numel(t) || lp_dtype_size(t->dtype) == 0) {
        lp_err_set(g->err, LP_ERR_INTERNAL, "cannot %s constant '%s'", what, t->name);
        return 0;
    }
    return 1;
}

int lp_graph_add_permuted(lp_graph *g, const char *name, int src, int vrank, const int64_t *vdims,
                          const int *perm) {
    if (!check_view(g, src, vrank, vdims, "permute")) return -1;
    lp_dtype dt = g->t[src].dtype;
    int64_t od[LP_MAX_RANK];
    for (int i = 0; i < vrank; i++) od[i] = vdims[perm[i]];
    if (lp_tensor_numel(&g->t[src]) == 0) return add_view(g, name, dt, vrank, od, &(lp_lazy){.es = 1, .gaxis = -1});
    lp_lazy r, o;
    int run[LP_MAX_RANK + 1];
    if (!refined_source(g, src, vrank, vdims, 0, &r, run)) goto oom;
    o = r;
    o.rank = 0;
    o.gaxis = -1;
    for (int i = 0; i < vrank; i++)
        for (int k = run[perm[i]]; k < run[perm[i] + 1]; k++) {
            if (k == r.gaxis) o.gaxis = o.rank;
            o.dims[o.rank] = r.dims[k];
            o.stride[o.rank] = r.stride[k];
            o.sstride[o.rank] = r.sstride[k];
            o.rank++;
        }
    return add_view(g, name, dt, vrank, od, &o);
oom:
    lp_err_set(g->err, LP_ERR_NOMEM, "out of memory permuting constant '%s'", g->t[src].name);
    return -1;
}

int lp_graph_add_scaled(lp_graph *g, const char *name, int src, int vrank, const int64_t *vdims,
                        const int64_t *sstride, const float *scale, int64_t n_scale) {
    if (!check_view(g, src, vrank, vdims, "scale")) return -1;
    if (g->t[src].dtype != LP_DT_F32) {
        lp_err_set(g->err, LP_ERR_INTERNAL, "cannot scale constant '%s' of type %s", g->t[src].name,
                   lp_dtype_name(g->t[src].dtype));
        return -1;
    }
    if (lp_tensor_numel(&g->t[src]) == 0)
        return add_view(g, name, LP_DT_F32, vrank, vdims, &(lp_lazy){.es = 4, .gaxis = -1});
    const lp_lazy *sz = g->t[src].lazy;
    /* a scale is indexed by the view's positions: a source that already maps or scales is computed */
    int plain = sz && (sz->scale || sz->gaxis >= 0);
    lp_lazy o;
    int run[LP_MAX_RANK + 1];
    float *tab = lp_arena_dup(&g->arena, scale, sizeof(float) * (size_t)(n_scale ? n_scale : 1));
    if (!tab || !refined_source(g, src, vrank, vdims, plain, &o, run)) goto oom;
    o.scale = tab;
    o.soffset = 0;
    for (int k = 0; k < o.rank; k++) o.sstride[k] = 0;
    for (int a = 0; a < vrank; a++) {
        int64_t mult = sstride[a];
        for (int k = run[a + 1] - 1; k >= run[a]; k--) {
            o.sstride[k] = mult;
            mult *= o.dims[k];
        }
    }
    return add_view(g, name, LP_DT_F32, vrank, vdims, &o);
oom:
    lp_err_set(g->err, LP_ERR_NOMEM, "out of memory scaling constant '%s'", g->t[src].name);
    return -1;
}

int lp_graph_add_gathered(lp_graph *g, const char *name, int src, int vrank, const int64_t *vdims, int axis,
                          const int64_t *index, int64_t n_index) {
    if (!check_view(g, src, vrank, vdims, "reorder") || axis < 0 || axis >= vrank || n_index < 0) {
        if (g->err->code == LP_OK) lp_err_set(g->err, LP_ERR_INTERNAL, "bad reorder of constant '%s'", g->t[src].name);
        return -1;
    }
    for (int64_t i = 0; i < n_index; i++)
        if (index[i] < 0 || index[i] >= vdims[axis]) {
            lp_err_set(g->err, LP_ERR_INTERNAL, "index %lld out of range reordering constant '%s'",
                       (long long)index[i], g->t[src].name);
            return -1;
        }
    lp_dtype dt = g->t[src].dtype;
    int64_t od[LP_MAX_RANK];
    memcpy(od, vdims, sizeof(int64_t) * (size_t)vrank);
    od[axis] = n_index;
    if (lp_tensor_numel(&g->t[src]) == 0 || n_index == 0) {
        /* nothing to read: a payload of zeros of the right size */
        int64_t n = 1;
        for (int a = 0; a < vrank; a++) n *= od[a];
        size_t es = lp_dtype_size(dt);
        void *p = lp_arena_alloc(&g->arena, (size_t)n * es + 1);
        if (!p) goto oom;
        lp_lazy z;
        plain_view(&z, p, es, n ? n : 1);
        return add_view(g, name, dt, vrank, od, &z);
    }
    const lp_lazy *sz = g->t[src].lazy;
    lp_lazy o;
    int run[LP_MAX_RANK + 1];
    int64_t *map = lp_arena_dup(&g->arena, index, sizeof(int64_t) * (size_t)n_index);
    if (!map || !refined_source(g, src, vrank, vdims, sz && sz->gaxis >= 0, &o, run)) goto oom;
    if (run[axis + 1] - run[axis] > 1) {
        /* the axis spans several virtual dims: gather over plain bytes, where it is one */
        if (!refined_source(g, src, vrank, vdims, 1, &o, run)) goto oom;
    }
    if (run[axis + 1] == run[axis]) {
        if (o.rank >= LP_LAZY_MAX_DIMS) {
            if (!refined_source(g, src, vrank, vdims, 1, &o, run)) goto oom;
        }
        if (run[axis + 1] == run[axis]) {
            put_unit(&o, run[axis]);
            for (int a = axis + 1; a <= vrank; a++) run[a]++;
        }
    }
    int k = run[axis];
    o.dims[k] = n_index;
    o.gaxis = k;
    o.gmap = map;
    return add_view(g, name, dt, vrank, od, &o);
oom:
    lp_err_set(g->err, LP_ERR_NOMEM, "out of memory reordering constant '%s'", g->t[src].name);
    return -1;
}
