/* Data movement kernels: any element type, bytes copied. Every read position is checked against
 * the input's bounds (the shapes come from the IR; a disagreement is an internal error, not a
 * read outside a buffer). */
#include <stdlib.h>
#include <string.h>

#include "run.h"

int lp_run_move_has(lp_op op) {
    switch (op) {
    case LP_TFL_RESHAPE: case LP_TFL_SQUEEZE: case LP_TFL_EXPAND_DIMS: case LP_TFL_TRANSPOSE:
    case LP_TFL_CONCATENATION: case LP_TFL_PAD: case LP_TFL_PADV2: case LP_TFL_MIRROR_PAD:
    case LP_TFL_STRIDED_SLICE: case LP_TFL_SLICE: case LP_TFL_GATHER: case LP_TFL_SPLIT: case LP_TFL_SPLIT_V:
    case LP_TFL_PACK: case LP_TFL_UNPACK: case LP_TFL_TILE: case LP_TFL_BROADCAST_TO:
    case LP_TFL_DEPTH_TO_SPACE: case LP_TFL_SPACE_TO_DEPTH: case LP_TFL_SHAPE: case LP_TFL_REVERSE_V2:
    case LP_TFL_SCATTER_ND: case LP_TFL_GATHER_ND:
        return 1;
    default: return 0;
    }
}

#define ES(v) lp_dtype_size((v)->dtype)

static void strides(const lp_value *v, int64_t *s) {
    int64_t st = 1;
    for (int d = v->rank - 1; d >= 0; d--) {
        s[d] = st;
        st *= v->dims[d];
    }
}

/* RESHAPE / SQUEEZE / EXPAND_DIMS: the bytes stay, the shape is the IR's with symbols bound; a
 * dim still unknown is the one that takes the remaining elements */
static lp_status k_reshape(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    if (!x) return lp_run_fail(r, LP_ERR_INTERNAL, "missing input");
    const lp_tensor *T = &r->g->t[n->out[0]];
    int64_t dims[LP_MAX_RANK], known = 1;
    int unknown = -1;
    for (int d = 0; d < T->rank; d++) {
        int64_t v = T->dims[d];
        if (v < 0) v = -v <= r->g->n_sym ? r->sym[-v] : -1;
        if (v < 0) {
            if (unknown >= 0) return lp_run_fail(r, LP_ERR_UNSUPPORTED, "more than one output size depends on the data");
            unknown = d;
            v = 1;
        }
        dims[d] = v;
        known *= v;
    }
    if (unknown >= 0) {
        if (known == 0 || x->numel % known) return lp_run_fail(r, LP_ERR_INTERNAL, "the element count does not divide");
        dims[unknown] = x->numel / known;
    }
    lp_value *y = lp_run_out_shape(r, n, 0, T->rank, dims);
    if (!y) return r->err->code;
    if (y->numel != x->numel || y->dtype != x->dtype) return lp_run_fail(r, LP_ERR_INTERNAL, "element counts differ");
    memcpy(y->data, x->data, (size_t)x->numel * ES(x));
    return LP_OK;
}

static lp_status k_transpose(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0), *p = lp_run_in(r, n, 1);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    int64_t perm[LP_MAX_RANK];
    if (!x || lp_run_ints(r, p, perm, LP_MAX_RANK, "the permutation") != x->rank || y->rank != x->rank)
        return r->err->code ? r->err->code : lp_run_fail(r, LP_ERR_INTERNAL, "bad permutation");
    int64_t xs[LP_MAX_RANK], s[LP_MAX_RANK];
    strides(x, xs);
    for (int d = 0; d < y->rank; d++) {
        if (perm[d] < 0 || perm[d] >= x->rank || x->dims[perm[d]] != y->dims[d])
            return lp_run_fail(r, LP_ERR_INTERNAL, "permutation does not agree with the shapes");
        s[d] = xs[perm[d]];
    }
    size_t es = ES(x);
    int64_t idx[LP_MAX_RANK] = {0}, off = 0;
    uint8_t *o = y->data;
    const uint8_t *in = x->data;
    for (int64_t i = 0; i < y->numel; i++) {
        memcpy(o + (size_t)i * es, in + (size_t)off * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            off += s[d];
            if (++idx[d] < y->dims[d]) break;
            off -= s[d] * y->dims[d];
            idx[d] = 0;
        }
    }
    return LP_OK;
}

static float act_f(int act, float x) {
    switch (act) {
    case 1: return x < 0 ? 0 : x;
    case 2: return x < -1 ? -1 : x > 1 ? 1 : x;
    case 3: return x < 0 ? 0 : x > 6 ? 6 : x;
    default: return x;
    }
}

static lp_status k_concat(lp_run *r, const lp_node *n) {
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    int axis = n->p.axis < 0 ? n->p.axis + y->rank : n->p.axis;
    if (axis < 0 || axis >= y->rank) return lp_run_fail(r, LP_ERR_INTERNAL, "axis out of range");
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    for (int d = axis + 1; d < y->rank; d++) inner *= y->dims[d];
    size_t es = ES(y);
    int64_t total = 0;
    for (int j = 0; j < n->n_in; j++) {
        lp_value *x = lp_run_in(r, n, j);
        if (!x || x->rank != y->rank || x->dtype != y->dtype) return lp_run_fail(r, LP_ERR_INTERNAL, "bad operand %d", j);
        total += x->dims[axis];
        if (x->numel != outer * inner * x->dims[axis]) return lp_run_fail(r, LP_ERR_INTERNAL, "operand %d shape", j);
    }
    if (total != y->dims[axis]) return lp_run_fail(r, LP_ERR_INTERNAL, "concatenated sizes do not add up");
    uint8_t *o = y->data;
    int64_t at = 0;
    for (int j = 0; j < n->n_in; j++) {
        lp_value *x = lp_run_in(r, n, j);
        size_t chunk = (size_t)(x->dims[axis] * inner) * es, row = (size_t)(y->dims[axis] * inner) * es;
        for (int64_t k = 0; k < outer; k++)
            memcpy(o + (size_t)k * row + (size_t)(at * inner) * es, (const uint8_t *)x->data + (size_t)k * chunk, chunk);
        at += x->dims[axis];
    }
    if (n->p.act && y->dtype == LP_DT_F32)
        for (int64_t i = 0; i < y->numel; i++) ((float *)y->data)[i] = act_f(n->p.act, ((float *)y->data)[i]);
    return LP_OK;
}

/* PAD / PADV2 / MIRROR_PAD */
static lp_status k_pad(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0), *pv = lp_run_in(r, n, 1), *cv = lp_run_in(r, n, 2);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    int64_t pads[LP_MAX_RANK * 2];
    if (!x || lp_run_ints(r, pv, pads, LP_MAX_RANK * 2, "the paddings") != 2 * x->rank || y->rank != x->rank)
        return r->err->code ? r->err->code : lp_run_fail(r, LP_ERR_INTERNAL, "bad paddings");
    for (int d = 0; d < x->rank; d++)
        if (x->dims[d] + pads[2 * d] + pads[2 * d + 1] != y->dims[d])
            return lp_run_fail(r, LP_ERR_INTERNAL, "paddings do not agree with the output shape");
    size_t es = ES(x);
    uint8_t fill[16] = {0};
    if (n->op == LP_TFL_PADV2 && cv) {
        if (cv->dtype != x->dtype || cv->numel < 1) return lp_run_fail(r, LP_ERR_INTERNAL, "bad pad value");
        memcpy(fill, cv->data, es);
    }
    int mirror = n->op == LP_TFL_MIRROR_PAD, sym = n->p.mode == 1;
    int64_t xs[LP_MAX_RANK];
    strides(x, xs);
    int64_t idx[LP_MAX_RANK] = {0};
    uint8_t *o = y->data;
    const uint8_t *in = x->data;
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t off = 0;
        int inside = 1;
        for (int d = 0; d < y->rank; d++) {
            int64_t p = idx[d] - pads[2 * d], D = x->dims[d];
            if (p < 0 || p >= D) {
                if (!mirror || D == 0) {
                    inside = 0;
                    break;
                }
                /* reflect (edge not repeated) or symmetric (edge repeated), once */
                if (p < 0) p = sym ? -p - 1 : -p;
                else p = sym ? 2 * D - p - 1 : 2 * D - p - 2;
                if (p < 0 || p >= D) return lp_run_fail(r, LP_ERR_INTERNAL, "mirror padding larger than the input");
            }
            off += p * xs[d];
        }
        memcpy(o + (size_t)i * es, inside ? in + (size_t)off * es : fill, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

/* copy a box: out[i] = in[begin + i * step] over the output's dims (rank of the input) */
static lp_status copy_box(lp_run *r, const lp_value *x, uint8_t *o, const int64_t *begin, const int64_t *step,
                          const int64_t *cnt) {
    int64_t xs[LP_MAX_RANK], total = 1;
    strides(x, xs);
    for (int d = 0; d < x->rank; d++) {
        total *= cnt[d];
        if (cnt[d] > 0) {
            int64_t last = begin[d] + (cnt[d] - 1) * step[d];
            if (begin[d] < 0 || begin[d] >= x->dims[d] || last < 0 || last >= x->dims[d])
                return lp_run_fail(r, LP_ERR_INTERNAL, "slice outside the input");
        }
    }
    size_t es = ES(x);
    int64_t idx[LP_MAX_RANK] = {0};
    const uint8_t *in = x->data;
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        for (int d = 0; d < x->rank; d++) off += (begin[d] + idx[d] * step[d]) * xs[d];
        memcpy(o + (size_t)i * es, in + (size_t)off * es, es);
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++idx[d] < cnt[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

static lp_status k_slice(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!x) return lp_run_fail(r, LP_ERR_INTERNAL, "missing input");
    int rank = x->rank;
    int64_t b[LP_MAX_RANK], e[LP_MAX_RANK], s[LP_MAX_RANK], cnt[LP_MAX_RANK];
    if (lp_run_ints(r, lp_run_in(r, n, 1), b, LP_MAX_RANK, "begin") != rank) return r->err->code ? r->err->code : lp_run_fail(r, LP_ERR_INTERNAL, "begin");
    if (n->op == LP_TFL_SLICE) {
        if (lp_run_ints(r, lp_run_in(r, n, 2), e, LP_MAX_RANK, "size") != rank) return r->err->code ? r->err->code : lp_run_fail(r, LP_ERR_INTERNAL, "size");
        for (int d = 0; d < rank; d++) {
            s[d] = 1;
            cnt[d] = e[d] < 0 ? x->dims[d] - b[d] : e[d];
        }
    } else {
        if (n->p.ellipsis_mask || n->p.new_axis_mask)
            return lp_run_fail(r, LP_ERR_UNSUPPORTED, "ellipsis and new-axis masks are not supported");
        if (lp_run_ints(r, lp_run_in(r, n, 2), e, LP_MAX_RANK, "end") != rank ||
            lp_run_ints(r, lp_run_in(r, n, 3), s, LP_MAX_RANK, "strides") != rank)
            return r->err->code ? r->err->code : lp_run_fail(r, LP_ERR_INTERNAL, "end/strides");
        for (int d = 0; d < rank; d++) {
            int64_t D = x->dims[d], st = s[d];
            if (st == 0) return lp_run_fail(r, LP_ERR_INVALID, "stride 0");
            int bm = (n->p.begin_mask >> d) & 1, em = (n->p.end_mask >> d) & 1, sh = (n->p.shrink_axis_mask >> d) & 1;
            int64_t bb = b[d], ee = e[d];
            if (bm) bb = st > 0 ? 0 : D - 1;
            else if (bb < 0) bb += D;
            if (sh) {
                ee = bb + 1;
                st = 1;
            } else if (em) {
                ee = st > 0 ? D : -1;
            } else {
                if (n->p.offset) ee = bb + ee;
                else if (ee < 0) ee += D;
            }
            /* clamp like LiteRT: [0, D] going forward, [-1, D - 1] going backward */
            if (st > 0) {
                bb = bb < 0 ? 0 : bb > D ? D : bb;
                ee = ee < 0 ? 0 : ee > D ? D : ee;
                cnt[d] = ee > bb ? (ee - bb + st - 1) / st : 0;
            } else {
                bb = bb < -1 ? -1 : bb > D - 1 ? D - 1 : bb;
                ee = ee < -1 ? -1 : ee > D - 1 ? D - 1 : ee;
                cnt[d] = bb > ee ? (bb - ee + (-st) - 1) / (-st) : 0;
            }
            b[d] = bb;
            s[d] = st;
        }
    }
    int64_t total = 1;
    for (int d = 0; d < rank; d++) total *= cnt[d];
    if (total != y->numel || y->dtype != x->dtype) return lp_run_fail(r, LP_ERR_INTERNAL, "slice size does not agree");
    return copy_box(r, x, y->data, b, s, cnt);
}

static lp_status k_gather(lp_run *r, const lp_node *n) {
    lp_value *p = lp_run_in(r, n, 0), *ix = lp_run_in(r, n, 1);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!p || !ix || !lp_dtype_is_int(ix->dtype)) return lp_run_fail(r, LP_ERR_INTERNAL, "bad operands");
    int axis = n->p.axis < 0 ? n->p.axis + p->rank : n->p.axis;
    int bd = n->p.batch_dims < 0 ? n->p.batch_dims + ix->rank : n->p.batch_dims;
    if (axis < 0 || axis >= p->rank || bd < 0 || bd > axis || bd > ix->rank) return lp_run_fail(r, LP_ERR_INTERNAL, "bad axis");
    int64_t batch = 1, outer = 1, inner = 1, nidx = 1, A = p->dims[axis];
    for (int d = 0; d < bd; d++) batch *= p->dims[d];
    for (int d = bd; d < axis; d++) outer *= p->dims[d];
    for (int d = axis + 1; d < p->rank; d++) inner *= p->dims[d];
    for (int d = bd; d < ix->rank; d++) nidx *= ix->dims[d];
    if (y->numel != batch * outer * nidx * inner || y->dtype != p->dtype)
        return lp_run_fail(r, LP_ERR_INTERNAL, "output size does not agree");
    size_t es = ES(p), row = (size_t)inner * es;
    uint8_t *o = y->data;
    const uint8_t *in = p->data;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t k = 0; k < outer; k++)
            for (int64_t i = 0; i < nidx; i++) {
                int64_t j = lp_get_i64(ix->dtype, ix->data, b * nidx + i);
                if (j < 0) j += A;
                if (j < 0 || j >= A) return lp_run_fail(r, LP_ERR_INVALID, "index %lld out of range", (long long)j);
                memcpy(o + (size_t)(((b * outer + k) * nidx + i)) * row, in + (size_t)(((b * outer + k) * A + j)) * row, row);
            }
    return LP_OK;
}

/* the flat position of index row i (K coordinates into dims), checked */
static lp_status nd_offset(lp_run *r, const lp_value *ix, int64_t i, int64_t K, const int64_t *dims, int64_t *off) {
    *off = 0;
    for (int64_t k = 0; k < K; k++) {
        int64_t j = lp_get_i64(ix->dtype, ix->data, i * K + k);
        if (j < 0 || j >= dims[k]) return lp_run_fail(r, LP_ERR_INVALID, "index %lld out of range", (long long)j);
        *off = *off * dims[k] + j;
    }
    return LP_OK;
}

/* GATHER_ND (params, indices [..., K]): for each index row the slice params[i0, .., iK-1, ...];
 * a coordinate out of range is an error (the op then stays in the model) */
static lp_status k_gather_nd(lp_run *r, const lp_node *n) {
    lp_value *p = lp_run_in(r, n, 0), *ix = lp_run_in(r, n, 1);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!p || !ix || !lp_dtype_is_int(ix->dtype) || ix->rank < 1 || y->dtype != p->dtype)
        return lp_run_fail(r, LP_ERR_INTERNAL, "bad operands");
    int64_t K = ix->dims[ix->rank - 1];
    if (K < 0 || K > p->rank) return lp_run_fail(r, LP_ERR_INVALID, "index depth %lld", (long long)K);
    int64_t slice = 1, count = 1;
    for (int d = 0; d < ix->rank - 1; d++) count *= ix->dims[d];
    for (int d = (int)K; d < p->rank; d++) slice *= p->dims[d];
    if (y->numel != count * slice) return lp_run_fail(r, LP_ERR_INTERNAL, "output size does not agree");
    size_t row = (size_t)slice * ES(p);
    uint8_t *o = y->data;
    const uint8_t *in = p->data;
    for (int64_t i = 0; i < count; i++) {
        int64_t off;
        lp_status st = nd_offset(r, ix, i, K, p->dims, &off);
        if (st != LP_OK) return st;
        memcpy(o + (size_t)i * row, in + (size_t)off * row, row);
    }
    return LP_OK;
}

/* SCATTER_ND (indices [..., K], updates, shape): zeros of `shape`, each update slice added at its
 * index (TFLite's kernel sums duplicates; an index out of range is an error) */
static lp_status k_scatter_nd(lp_run *r, const lp_node *n) {
    lp_value *ix = lp_run_in(r, n, 0), *u = lp_run_in(r, n, 1);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!ix || !u || !lp_dtype_is_int(ix->dtype) || ix->rank < 1 || u->dtype != y->dtype)
        return lp_run_fail(r, LP_ERR_INTERNAL, "bad operands");
    if (y->dtype != LP_DT_F32 && y->dtype != LP_DT_I32 && y->dtype != LP_DT_I64)
        return lp_run_fail(r, LP_ERR_UNSUPPORTED, "%s scatters are not run", lp_dtype_name(y->dtype));
    int64_t K = ix->dims[ix->rank - 1];
    if (K < 1 || K > y->rank) return lp_run_fail(r, LP_ERR_INVALID, "index depth %lld", (long long)K);
    int64_t slice = 1, count = ix->numel / K;
    for (int d = (int)K; d < y->rank; d++) slice *= y->dims[d];
    if (u->numel != count * slice) return lp_run_fail(r, LP_ERR_INVALID, "updates do not match the indices");
    memset(y->data, 0, (size_t)y->numel * ES(y));
    for (int64_t i = 0; i < count; i++) {
        int64_t off;
        lp_status st = nd_offset(r, ix, i, K, y->dims, &off);
        if (st != LP_OK) return st;
        off *= slice;
        for (int64_t e = 0; e < slice; e++) {
            if (y->dtype == LP_DT_F32)
                ((float *)y->data)[off + e] += ((const float *)u->data)[i * slice + e];
            else
                lp_set_i64(y->dtype, y->data, off + e,
                           lp_get_i64(y->dtype, y->data, off + e) + lp_get_i64(u->dtype, u->data, i * slice + e));
        }
    }
    return LP_OK;
}

/* SPLIT (axis, input) / SPLIT_V (input, sizes, axis) / UNPACK (input) */
static lp_status k_split(lp_run *r, const lp_node *n) {
    lp_value *x;
    int64_t axis;
    if (n->op == LP_TFL_SPLIT) {
        x = lp_run_in(r, n, 1);
        if (lp_run_ints(r, lp_run_in(r, n, 0), &axis, 1, "the axis") != 1) return r->err->code;
    } else if (n->op == LP_TFL_SPLIT_V) {
        x = lp_run_in(r, n, 0);
        if (lp_run_ints(r, lp_run_in(r, n, 2), &axis, 1, "the axis") != 1) return r->err->code;
    } else {
        x = lp_run_in(r, n, 0);
        axis = n->p.axis;
    }
    if (!x) return lp_run_fail(r, LP_ERR_INTERNAL, "missing input");
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis >= x->rank) return lp_run_fail(r, LP_ERR_INTERNAL, "axis out of range");
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
    size_t es = ES(x), row = (size_t)(x->dims[axis] * inner) * es;
    int64_t at = 0;
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        lp_value *y = lp_run_out(r, n, k);
        if (!y) return r->err->code;
        int64_t part = n->op == LP_TFL_UNPACK ? 1 : (y->rank > axis ? y->dims[axis] : 0);
        if (y->numel != outer * part * inner || at + part > x->dims[axis] || y->dtype != x->dtype)
            return lp_run_fail(r, LP_ERR_INTERNAL, "split sizes do not agree");
        size_t chunk = (size_t)(part * inner) * es;
        for (int64_t o = 0; o < outer; o++)
            memcpy((uint8_t *)y->data + (size_t)o * chunk, (const uint8_t *)x->data + (size_t)o * row + (size_t)(at * inner) * es,
                   chunk);
        at += part;
    }
    return LP_OK;
}

static lp_status k_pack(lp_run *r, const lp_node *n) {
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    int axis = n->p.axis < 0 ? n->p.axis + y->rank : n->p.axis;
    if (axis < 0 || axis >= y->rank || y->dims[axis] != n->n_in) return lp_run_fail(r, LP_ERR_INTERNAL, "bad axis");
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    for (int d = axis + 1; d < y->rank; d++) inner *= y->dims[d];
    size_t es = ES(y), chunk = (size_t)inner * es;
    for (int j = 0; j < n->n_in; j++) {
        lp_value *x = lp_run_in(r, n, j);
        if (!x || x->numel != outer * inner || x->dtype != y->dtype) return lp_run_fail(r, LP_ERR_INTERNAL, "operand %d", j);
        for (int64_t o = 0; o < outer; o++)
            memcpy((uint8_t *)y->data + ((size_t)(o * n->n_in + j)) * chunk, (const uint8_t *)x->data + (size_t)o * chunk, chunk);
    }
    return LP_OK;
}

/* TILE and BROADCAST_TO: out[i] = in[i mod dims] (broadcast: dims of 1 repeat) */
static lp_status k_repeat(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!x || x->rank > y->rank || x->dtype != y->dtype) return lp_run_fail(r, LP_ERR_INTERNAL, "bad operand");
    int off = y->rank - x->rank;
    int64_t xs[LP_MAX_RANK], xd[LP_MAX_RANK];
    strides(x, xs);
    for (int d = 0; d < y->rank; d++) {
        xd[d] = d >= off ? x->dims[d - off] : 1;
        if (xd[d] == 0 && y->dims[d] != 0) return lp_run_fail(r, LP_ERR_INTERNAL, "repeat of an empty dim");
        if (n->op == LP_TFL_BROADCAST_TO && xd[d] != 1 && xd[d] != y->dims[d])
            return lp_run_fail(r, LP_ERR_INTERNAL, "shapes do not broadcast");
    }
    size_t es = ES(x);
    int64_t idx[LP_MAX_RANK] = {0};
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t o = 0;
        for (int d = off; d < y->rank; d++) o += (idx[d] % xd[d]) * xs[d - off];
        memcpy((uint8_t *)y->data + (size_t)i * es, (const uint8_t *)x->data + (size_t)o * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

static lp_status k_d2s(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    int64_t bs = n->p.block_size;
    if (!x || x->rank != 4 || y->rank != 4 || bs <= 0 || x->numel != y->numel)
        return lp_run_fail(r, LP_ERR_INTERNAL, "bad shapes");
    int d2s = n->op == LP_TFL_DEPTH_TO_SPACE;
    /* the deep side: [N, H, W, bs, bs, C] ; the wide side: [N, H*bs, W*bs, C] */
    const lp_value *deep = d2s ? x : y, *wide = d2s ? y : x;
    int64_t N = deep->dims[0], H = deep->dims[1], W = deep->dims[2], C = wide->dims[3];
    if (wide->dims[1] != H * bs || wide->dims[2] != W * bs || deep->dims[3] != C * bs * bs)
        return lp_run_fail(r, LP_ERR_INTERNAL, "block size does not agree");
    size_t es = ES(x), row = (size_t)C * es;
    uint8_t *dp = deep->data, *wp = wide->data;
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++)
                for (int64_t dy = 0; dy < bs; dy++)
                    for (int64_t dx = 0; dx < bs; dx++) {
                        size_t di = (size_t)((((nn * H + h) * W + w) * bs + dy) * bs + dx) * row;
                        size_t wi = (size_t)(((nn * H * bs + h * bs + dy) * W * bs) + w * bs + dx) * row;
                        if (d2s) memcpy(wp + wi, dp + di, row);
                        else memcpy(dp + di, wp + wi, row);
                    }
    return LP_OK;
}

static lp_status k_shape(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!x || y->numel != x->rank) return lp_run_fail(r, LP_ERR_INTERNAL, "bad shapes");
    for (int d = 0; d < x->rank; d++) lp_set_i64(y->dtype, y->data, d, x->dims[d]);
    return LP_OK;
}

static lp_status k_reverse(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    int64_t axes[LP_MAX_RANK];
    int na = lp_run_ints(r, lp_run_in(r, n, 1), axes, LP_MAX_RANK, "the axes");
    if (!x || na < 0 || x->numel != y->numel) return r->err->code ? r->err->code : lp_run_fail(r, LP_ERR_INTERNAL, "bad operands");
    int64_t b[LP_MAX_RANK], s[LP_MAX_RANK], cnt[LP_MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        b[d] = 0;
        s[d] = 1;
        cnt[d] = x->dims[d];
    }
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
        if (a < 0 || a >= x->rank) return lp_run_fail(r, LP_ERR_INVALID, "axis out of range");
        b[a] = x->dims[a] - 1;
        s[a] = -1;
    }
    return copy_box(r, x, y->data, b, s, cnt);
}

lp_status lp_run_k_move(lp_run *r, const lp_node *n) {
    switch (n->op) {
    case LP_TFL_RESHAPE: case LP_TFL_SQUEEZE: case LP_TFL_EXPAND_DIMS: return k_reshape(r, n);
    case LP_TFL_TRANSPOSE: return k_transpose(r, n);
    case LP_TFL_CONCATENATION: return k_concat(r, n);
    case LP_TFL_PAD: case LP_TFL_PADV2: case LP_TFL_MIRROR_PAD: return k_pad(r, n);
    case LP_TFL_STRIDED_SLICE: case LP_TFL_SLICE: return k_slice(r, n);
    case LP_TFL_GATHER: return k_gather(r, n);
    case LP_TFL_GATHER_ND: return k_gather_nd(r, n);
    case LP_TFL_SPLIT: case LP_TFL_SPLIT_V: case LP_TFL_UNPACK: return k_split(r, n);
    case LP_TFL_PACK: return k_pack(r, n);
    case LP_TFL_TILE: case LP_TFL_BROADCAST_TO: return k_repeat(r, n);
    case LP_TFL_DEPTH_TO_SPACE: case LP_TFL_SPACE_TO_DEPTH: return k_d2s(r, n);
    case LP_TFL_SHAPE: return k_shape(r, n);
    case LP_TFL_REVERSE_V2: return k_reverse(r, n);
    case LP_TFL_SCATTER_ND: return k_scatter_nd(r, n);
    default: return lp_run_fail(r, LP_ERR_UNSUPPORTED, "no kernel");
    }
}
