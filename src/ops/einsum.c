/* Linear algebra: Einsum and Det.
 *
 * Einsum is lowered operand by operand: a repeated label inside one term (a diagonal) is taken with
 * an identity mask (SELECT_V2, then SUM over the second copy), labels that appear nowhere else are
 * summed, and each next operand is contracted with the running result as one BATCH_MATMUL:
 *   A -> TRANSPOSE [batch, a_only, contracted] -> RESHAPE [B, M, K]
 *   B -> TRANSPOSE [batch, contracted, b_only] -> RESHAPE [B, K, N]
 *   BATCH_MATMUL -> [B, M, N] -> RESHAPE [batch dims, a_only dims, b_only dims]
 * and a final TRANSPOSE gives the output order. When each of M, K and N is one label (or none), the
 * reshapes are skipped (unit dims are inserted and squeezed), so dynamic dims are fine; otherwise a
 * reshape takes at most one dynamic size. Labels shared by two operands must have equal sizes (no
 * broadcasting of size-1 dims across operands).
 * Det uses the closed forms for 1x1, 2x2 and 3x3 matrices; larger ones are not supported. */
#include <string.h>

#include "ops.h"

#define T(id) lp_T(c, (id))

#define MAX_OPS 8
#define MAX_LABELS LP_MAX_RANK

typedef struct term {
    int n;                 /* number of labels (= rank of the tensor it describes) */
    int lab[MAX_LABELS];   /* label codes: letters, or 256 + k for the k-th broadcast (ellipsis) dim */
} term;

typedef struct eq {
    int n_in;
    term in[MAX_OPS];
    term out;
} eq;

static int is_letter(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* one term of the equation into t, expanding "..." to `ell` labels 256 + (max_ell - ell) + k */
static lp_status parse_term(lp_ctx *c, const char *s, size_t len, int rank, int max_ell, term *t, int *ell_out) {
    int letters = 0, has_ell = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_letter(s[i])) letters++;
        else if (s[i] == '.' && i + 2 < len && s[i + 1] == '.' && s[i + 2] == '.') {
            has_ell++;
            i += 2;
        } else return lp_fail(c, LP_ERR_INVALID, "equation: unexpected character '%c'", s[i]);
    }
    if (has_ell > 1) return lp_fail(c, LP_ERR_INVALID, "equation: more than one ellipsis in a term");
    int ell = rank >= 0 ? rank - letters : max_ell;
    if (ell < 0 || (!has_ell && ell != 0))
        return lp_fail(c, LP_ERR_INVALID, "equation: a term has %d labels for a tensor of rank %d", letters, rank);
    if (letters + ell > MAX_LABELS) return lp_fail(c, LP_ERR_LIMIT, "equation: too many labels");
    t->n = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_letter(s[i])) {
            t->lab[t->n++] = (unsigned char)s[i];
        } else {
            for (int k = 0; k < ell; k++) t->lab[t->n++] = 256 + (max_ell - ell) + k;
            i += 2;
        }
    }
    if (ell_out) *ell_out = has_ell ? ell : 0;
    return LP_OK;
}

static lp_status parse_eq(lp_ctx *c, const lp_node *n, eq *e) {
    const char *raw = lp_attr_s(c, n, "equation", NULL);
    if (!raw) return c->err->code ? c->err->code : lp_fail(c, LP_ERR_INVALID, "attribute 'equation' is missing");
    char s[512];
    size_t L = 0;
    for (const char *p = raw; *p; p++) {
        if (*p == ' ') continue;
        if (L + 1 >= sizeof s) return lp_fail(c, LP_ERR_LIMIT, "equation too long");
        s[L++] = *p;
    }
    s[L] = 0;
    const char *arrow = strstr(s, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - s) : L;
    if (n->n_in > MAX_OPS) return lp_fail(c, LP_ERR_LIMIT, "Einsum with more than %d operands", MAX_OPS);
    e->n_in = n->n_in;
    /* input terms */
    size_t start = 0;
    int max_ell = 0, k = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i == lhs_len || s[i] == ',') {
            if (k >= n->n_in) return lp_fail(c, LP_ERR_INVALID, "equation has more terms than inputs");
            lp_tensor *x = T(n->in[k]);
            LP_TRY(lp_need_rank(c, x, "input"));
            int ell;
            LP_TRY(parse_term(c, s + start, i - start, x->rank, 0, &e->in[k], &ell));
            if (ell > max_ell) max_ell = ell;
            k++;
            start = i + 1;
        }
    }
    if (k != n->n_in) return lp_fail(c, LP_ERR_INVALID, "equation has %d terms for %d inputs", k, n->n_in);
    /* align ellipsis labels to the right across operands */
    start = 0;
    k = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i == lhs_len || s[i] == ',') {
            LP_TRY(parse_term(c, s + start, i - start, T(n->in[k])->rank, max_ell, &e->in[k], NULL));
            k++;
            start = i + 1;
        }
    }
    if (arrow) {
        LP_TRY(parse_term(c, arrow + 2, strlen(arrow + 2), -1, max_ell, &e->out, NULL));
    } else {
        /* implicit output: broadcast dims, then labels seen exactly once, alphabetically */
        e->out.n = 0;
        for (int j = 0; j < max_ell; j++) e->out.lab[e->out.n++] = 256 + j;
        for (int ch = 'A'; ch <= 'z'; ch++) {
            int cnt = 0;
            for (int t = 0; t < e->n_in; t++)
                for (int j = 0; j < e->in[t].n; j++) cnt += e->in[t].lab[j] == ch;
            if (cnt == 1) {
                if (e->out.n >= MAX_LABELS) return lp_fail(c, LP_ERR_LIMIT, "equation: too many labels");
                e->out.lab[e->out.n++] = ch;
            }
        }
    }
    for (int j = 0; j < e->out.n; j++) {
        int found = 0;
        for (int t = 0; t < e->n_in && !found; t++)
            for (int i = 0; i < e->in[t].n; i++) found |= e->in[t].lab[i] == e->out.lab[j];
        if (!found) return lp_fail(c, LP_ERR_INVALID, "equation: an output label is in no input");
        for (int i = 0; i < j; i++)
            if (e->out.lab[i] == e->out.lab[j]) return lp_fail(c, LP_ERR_INVALID, "equation: repeated output label");
    }
    return LP_OK;
}

/* size of a label (from the first operand that has it); -1 if absent */
static int64_t label_size(lp_ctx *c, const lp_node *n, const eq *e, int lab) {
    for (int t = 0; t < e->n_in; t++)
        for (int i = 0; i < e->in[t].n; i++)
            if (e->in[t].lab[i] == lab) {
                int64_t d = T(n->in[t])->dims[i];
                if (d != 1) return d;
            }
    return 1;
}

static lp_status einsum_infer(lp_ctx *c, const lp_node *n) {
    eq e;
    LP_TRY(parse_eq(c, n, &e));
    int64_t dims[LP_MAX_RANK];
    for (int j = 0; j < e.out.n; j++) dims[j] = label_size(c, n, &e, e.out.lab[j]);
    lp_set_out(c, n, 0, T(n->in[0])->dtype, e.out.n, dims);
    return LP_OK;
}

/* ---------------- lowering ---------------- */

typedef struct operand {
    int t;    /* tensor id */
    term lab; /* its labels */
} operand;

static int has_label(const term *t, int lab) {
    for (int i = 0; i < t->n; i++)
        if (t->lab[i] == lab) return 1;
    return 0;
}

/* is `lab` used by the output or by operands after index k? */
static int needed_after(const eq *e, int k, int lab) {
    if (has_label(&e->out, lab)) return 1;
    for (int t = k + 1; t < e->n_in; t++)
        if (has_label(&e->in[t], lab)) return 1;
    return 0;
}

static int emit_transpose_if(lp_ctx *c, int x, const int *perm) {
    int r = T(x)->rank, id = 1;
    for (int i = 0; i < r; i++) id &= perm[i] == i;
    return id ? x : lp_emit_transpose(c, x, perm, -1);
}

static int emit_reshape_if(lp_ctx *c, int x, int rank, const int64_t *dims) {
    lp_tensor *X = T(x);
    if (X->rank == rank && lp_dims_equal(X->dims, dims, rank)) return x;
    return lp_emit_reshape(c, x, rank, dims, -1);
}

/* sum over axis positions in mask (keep_dims 0) */
static lp_status sum_axes(lp_ctx *c, operand *o, int mask) {
    if (!mask) return LP_OK;
    lp_tensor *X = T(o->t);
    int32_t ax[LP_MAX_RANK];
    int k = 0, r = 0;
    int64_t dims[LP_MAX_RANK];
    term nl = {0};
    for (int i = 0; i < X->rank; i++) {
        if (mask & (1 << i)) {
            ax[k++] = i;
        } else {
            dims[r] = X->dims[i];
            nl.lab[r++] = o->lab.lab[i];
        }
    }
    nl.n = r;
    int ai = lp_emit_i32(c, ax, k, "axes");
    int y = lp_emit_tensor(c, X->dtype, r, dims, "sum");
    int in[2] = {o->t, ai};
    if (ai < 0 || y < 0) return c->err->code;
    int id = lp_emit_op(c, LP_TFL_SUM, in, 2, &y, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->keep_dims = 0;
    o->t = y;
    o->lab = nl;
    return LP_OK;
}

/* a label repeated inside one operand: keep the diagonal (mask), sum over the second copy */
static lp_status take_diagonals(lp_ctx *c, operand *o) {
    for (;;) {
        int p = -1, q = -1;
        for (int i = 0; i < o->lab.n && p < 0; i++)
            for (int j = i + 1; j < o->lab.n; j++)
                if (o->lab.lab[i] == o->lab.lab[j]) {
                    p = i;
                    q = j;
                    break;
                }
        if (p < 0) return LP_OK;
        lp_tensor *X = T(o->t);
        int64_t d = X->dims[p];
        if (d < 0 || X->dims[q] != d) return lp_fail(c, LP_ERR_UNSUPPORTED, "a diagonal needs equal static sizes");
        int64_t md[LP_MAX_RANK];
        for (int i = 0; i < X->rank; i++) md[i] = i == p || i == q ? d : 1;
        uint8_t *m = lp_table_alloc(c, d * d, 1, "diagonal mask"); /* d <= 2^31: no overflow */
        if (!m) return c->err->code;
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++) m[i * d + j] = i == j;
        int mask = lp_emit_const(c, LP_DT_BOOL, X->rank, md, m, "eye");
        int z = lp_emit_scalar(c, X->dtype, 0, "zero");
        int y = lp_emit_tensor(c, X->dtype, X->rank, X->dims, "diag");
        if (mask < 0 || z < 0 || y < 0) return c->err->code;
        /* SELECT_V2 rather than a multiplication: off-diagonal inf or NaN must not leak in */
        int in[3] = {mask, o->t, z};
        if (lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &y, 1) < 0) return c->err->code;
        o->t = y;
        LP_TRY(sum_axes(c, o, 1 << q));
    }
}

/* sizes of one label in two operands agree (a dynamic size is assumed to match) */
static int sizes_match(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }

/* product of dims, -1 when one of them is dynamic */
static int64_t dims_product(const int64_t *d, const int *pos, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) {
        if (d[pos[i]] < 0) return -1;
        p *= d[pos[i]];
    }
    return p;
}

/* x with a new unit axis at `axis` */
static int emit_expand(lp_ctx *c, int x, int axis) {
    lp_tensor *X = T(x);
    int64_t dims[LP_MAX_RANK];
    for (int i = 0, k = 0; i <= X->rank; i++) dims[i] = i == axis ? 1 : X->dims[k++];
    int32_t a = axis;
    int ai = lp_emit_const(c, LP_DT_I32, 0, NULL, &a, "axis");
    int y = lp_emit_tensor(c, X->dtype, X->rank + 1, dims, "expanded");
    int in[2] = {x, ai};
    if (ai < 0 || y < 0 || lp_emit_op(c, LP_TFL_EXPAND_DIMS, in, 2, &y, 1) < 0) return -1;
    return y;
}

/* contract a and b (labels in both that are not needed later are summed) */
static lp_status contract(lp_ctx *c, const eq *e, int k, operand *a, const operand *b, operand *res) {
    int batch[MAX_LABELS], aonly[MAX_LABELS], bonly[MAX_LABELS], con[MAX_LABELS];
    int nb = 0, na = 0, nbo = 0, nc = 0;
    for (int i = 0; i < a->lab.n; i++) {
        int l = a->lab.lab[i];
        if (has_label(&b->lab, l)) {
            if (needed_after(e, k, l)) batch[nb++] = l;
            else con[nc++] = l;
        } else {
            aonly[na++] = l;
        }
    }
    for (int i = 0; i < b->lab.n; i++)
        if (!has_label(&a->lab, b->lab.lab[i])) bonly[nbo++] = b->lab.lab[i];
    lp_tensor *A = T(a->t), *B = T(b->t);
    /* A -> [batch, a_only, contracted], B -> [batch, contracted, b_only] */
    int pa[LP_MAX_RANK], pb[LP_MAX_RANK], ra = 0, rb = 0;
    for (int i = 0; i < nb; i++) {
        int p = 0, q = 0;
        while (a->lab.lab[p] != batch[i]) p++;
        while (b->lab.lab[q] != batch[i]) q++;
        if (!sizes_match(A->dims[p], B->dims[q]))
            return lp_fail(c, LP_ERR_UNSUPPORTED, "label sizes differ between operands (broadcasting)");
        pa[ra++] = p;
        pb[rb++] = q;
    }
    for (int i = 0; i < na; i++) {
        int p = 0;
        while (a->lab.lab[p] != aonly[i]) p++;
        pa[ra++] = p;
    }
    for (int i = 0; i < nc; i++) {
        int p = 0, q = 0;
        while (a->lab.lab[p] != con[i]) p++;
        while (b->lab.lab[q] != con[i]) q++;
        if (!sizes_match(A->dims[p], B->dims[q]))
            return lp_fail(c, LP_ERR_UNSUPPORTED, "label sizes differ between operands (broadcasting)");
        pa[ra++] = p;
        pb[rb++] = q;
    }
    for (int i = 0; i < nbo; i++) {
        int q = 0;
        while (b->lab.lab[q] != bonly[i]) q++;
        pb[rb++] = q;
    }
    /* result labels and dims: batch, a_only, b_only */
    int64_t outd[LP_MAX_RANK];
    term outl = {0};
    int r = 0;
    for (int i = 0; i < nb + na; i++) {
        outd[r] = A->dims[pa[i]] >= 0 || i >= nb ? A->dims[pa[i]] : B->dims[pb[i]];
        outl.lab[r++] = a->lab.lab[pa[i]];
    }
    for (int i = 0; i < nbo; i++) {
        outd[r] = B->dims[pb[nb + nc + i]];
        outl.lab[r++] = bonly[i];
    }
    outl.n = r;
    lp_dtype dt = A->dtype;
    int at = emit_transpose_if(c, a->t, pa);
    int bt = at < 0 ? -1 : emit_transpose_if(c, b->t, pb);
    if (bt < 0) return c->err->code;
    int y;
    if (na <= 1 && nc <= 1 && nbo <= 1 && nb <= 3) {
        /* one label (or none) per group: BATCH_MATMUL on the transposed operands, unit dims
         * inserted for empty groups; no reshape, so any dim may be dynamic */
        if (na == 0) at = emit_expand(c, at, nb);
        if (at >= 0 && nc == 0) at = emit_expand(c, at, nb + 1);
        if (nc == 0) bt = emit_expand(c, bt, nb);
        if (bt >= 0 && nbo == 0) bt = emit_expand(c, bt, nb + 1);
        if (at < 0 || bt < 0) return c->err->code;
        int64_t yd[LP_MAX_RANK];
        memcpy(yd, outd, sizeof(int64_t) * (size_t)nb);
        yd[nb] = na ? outd[nb] : 1;
        yd[nb + 1] = nbo ? outd[nb + na] : 1;
        int ym = lp_emit_tensor(c, dt, nb + 2, yd, "matmul");
        int in[2] = {at, bt};
        if (ym < 0 || lp_emit_op(c, LP_TFL_BATCH_MATMUL, in, 2, &ym, 1) < 0) return c->err->code;
        y = ym;
        if (!na || !nbo) {
            y = lp_emit_tensor(c, dt, r, outd, "squeezed");
            int id = y < 0 ? -1 : lp_emit_op(c, LP_TFL_SQUEEZE, &ym, 1, &y, 1);
            if (id < 0) return c->err->code;
            lp_tfl_params *p = lp_emit_params(c, id);
            p->n_squeeze = 0;
            if (!na) p->squeeze_dims[p->n_squeeze++] = nb;
            if (!nbo) p->squeeze_dims[p->n_squeeze++] = nb + 1;
        }
    } else {
        /* groups flattened: [B, M, K] x [B, K, N]; a reshape takes at most one dynamic size */
        int64_t sb = dims_product(A->dims, pa, nb), sa = dims_product(A->dims, pa + nb, na);
        int64_t sk = dims_product(A->dims, pa + nb + na, nc), sn = dims_product(B->dims, pb + nb + nc, nbo);
        if (sb < 0) sb = dims_product(B->dims, pb, nb);
        if (sk < 0) sk = dims_product(B->dims, pb + nb, nc);
        int64_t d3a[3] = {sb, sa, sk}, d3b[3] = {sb, sk, sn}, d3y[3] = {sb, sa, sn};
        int a3 = emit_reshape_if(c, at, 3, d3a);
        int b3 = a3 < 0 ? -1 : emit_reshape_if(c, bt, 3, d3b);
        int y3 = b3 < 0 ? -1 : lp_emit_tensor(c, dt, 3, d3y, "matmul");
        if (y3 < 0) return c->err->code;
        int in[2] = {a3, b3};
        if (lp_emit_op(c, LP_TFL_BATCH_MATMUL, in, 2, &y3, 1) < 0) return c->err->code;
        y = emit_reshape_if(c, y3, r, outd);
        if (y < 0) return c->err->code;
    }
    res->t = y;
    res->lab = outl;
    return LP_OK;
}

static lp_status einsum_lower(lp_ctx *c, const lp_node *n) {
    eq e;
    LP_TRY(parse_eq(c, n, &e));
    operand cur;
    for (int t = 0; t < e.n_in; t++) {
        operand o = {n->in[t], e.in[t]};
        LP_TRY(take_diagonals(c, &o));
        /* labels of this operand used nowhere else (nor by the running result) are summed now */
        int mask = 0;
        for (int i = 0; i < o.lab.n; i++) {
            int l = o.lab.lab[i];
            if (!needed_after(&e, t, l) && !(t > 0 && has_label(&cur.lab, l))) mask |= 1 << i;
        }
        LP_TRY(sum_axes(c, &o, mask));
        if (t == 0) {
            cur = o;
            continue;
        }
        /* labels of the running result needed neither later nor by this operand */
        int cm = 0;
        for (int i = 0; i < cur.lab.n; i++)
            if (!needed_after(&e, t, cur.lab.lab[i]) && !has_label(&o.lab, cur.lab.lab[i])) cm |= 1 << i;
        LP_TRY(sum_axes(c, &cur, cm));
        operand r;
        LP_TRY(contract(c, &e, t, &cur, &o, &r));
        cur = r;
    }
    /* the output order */
    int perm[LP_MAX_RANK];
    if (cur.lab.n != e.out.n) return lp_fail(c, LP_ERR_INTERNAL, "einsum: label bookkeeping");
    for (int j = 0; j < e.out.n; j++) {
        int p = -1;
        for (int i = 0; i < cur.lab.n; i++)
            if (cur.lab.lab[i] == e.out.lab[j]) p = i;
        if (p < 0) return lp_fail(c, LP_ERR_INTERNAL, "einsum: output label lost");
        perm[j] = p;
    }
    int y = n->out[0];
    int id = 1;
    for (int j = 0; j < e.out.n; j++) id &= perm[j] == j;
    if (id) {
        /* already in output order: the op that made it writes y (a RESHAPE copy could not take
         * several dynamic dims) */
        int p = T(cur.t)->producer;
        int is_input = 0;
        for (int t = 0; t < n->n_in; t++) is_input |= n->in[t] == cur.t;
        if (!is_input && p >= 0 && p < c->g->n_n && c->g->n[p].n_out == 1 && c->g->n[p].out[0] == cur.t) {
            c->g->n[p].out[0] = y;
            T(y)->producer = p;
            return LP_OK;
        }
        return lp_emit_identity(c, cur.t, y) < 0 ? c->err->code : LP_OK;
    }
    return lp_emit_transpose(c, cur.t, perm, y) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Einsum = {einsum_infer, NULL, einsum_lower};

/* ---------------- Det ---------------- */

static lp_status det_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (x->rank < 2) return lp_fail(c, LP_ERR_INVALID, "Det needs rank >= 2");
    if (!lp_dtype_is_float(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "Det takes floating point");
    lp_set_out(c, n, 0, x->dtype, x->rank - 2, x->dims);
    return LP_OK;
}

static int bin_to(lp_ctx *c, lp_op op, int a, int b, int y) {
    lp_tensor *A = T(a);
    if (y < 0) y = lp_emit_tensor(c, A->dtype, A->rank, A->dims, "det");
    int in[2] = {a, b};
    if (y < 0 || lp_emit_op(c, op, in, 2, &y, 1) < 0) return -1;
    return y;
}

static int bin(lp_ctx *c, lp_op op, int a, int b) { return bin_to(c, op, a, b, -1); }

static lp_status det_lower(lp_ctx *c, const lp_node *n) {
    int x = n->in[0], y = n->out[0];
    lp_tensor *X = T(x);
    int r = X->rank;
    int64_t m = X->dims[r - 1];
    if (m < 0 || X->dims[r - 2] != m) return lp_fail(c, LP_ERR_UNSUPPORTED, "Det needs static square matrices");
    if (m > 3)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "Det of %lldx%lld matrices (closed forms exist up to 3x3; TFLite has "
                       "no LU decomposition)", (long long)m, (long long)m);
    /* rows, then elements, by GATHER with scalar indices (no reshape: batch dims may be dynamic) */
    int64_t rdims[LP_MAX_RANK];
    memcpy(rdims, X->dims, sizeof(int64_t) * (size_t)(r - 2));
    rdims[r - 2] = m;
    int e[9];
    for (int i = 0; i < m; i++) {
        int32_t ri = i;
        int rk = lp_emit_const(c, LP_DT_I32, 0, NULL, &ri, "row");
        int row = rk < 0 ? -1 : lp_emit_tensor(c, X->dtype, r - 1, rdims, "row");
        int in[2] = {x, rk};
        int id = row < 0 ? -1 : lp_emit_op(c, LP_TFL_GATHER, in, 2, &row, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->axis = r - 2;
        for (int j = 0; j < m; j++) {
            int32_t cj = j;
            int ck = lp_emit_const(c, LP_DT_I32, 0, NULL, &cj, "col");
            /* a 1x1 determinant is its element: gathered straight into y */
            int el = ck < 0 ? -1 : m == 1 ? y : lp_emit_tensor(c, X->dtype, r - 2, X->dims, "element");
            int in2[2] = {row, ck};
            int id2 = el < 0 ? -1 : lp_emit_op(c, LP_TFL_GATHER, in2, 2, &el, 1);
            if (id2 < 0) return c->err->code;
            lp_emit_params(c, id2)->axis = r - 2;
            e[i * m + j] = el;
        }
    }
    int res;
    if (m == 1) {
        return LP_OK;
    } else if (m == 2) {
        int ad = bin(c, LP_TFL_MUL, e[0], e[3]), bc = bin(c, LP_TFL_MUL, e[1], e[2]);
        res = ad < 0 || bc < 0 ? -1 : bin_to(c, LP_TFL_SUB, ad, bc, y);
    } else {
        /* a(ei - fh) - b(di - fg) + c(dh - eg) */
        int ei = bin(c, LP_TFL_MUL, e[4], e[8]), fh = bin(c, LP_TFL_MUL, e[5], e[7]);
        int di = bin(c, LP_TFL_MUL, e[3], e[8]), fg = bin(c, LP_TFL_MUL, e[5], e[6]);
        int dh = bin(c, LP_TFL_MUL, e[3], e[7]), eg = bin(c, LP_TFL_MUL, e[4], e[6]);
        if (ei < 0 || fh < 0 || di < 0 || fg < 0 || dh < 0 || eg < 0) return c->err->code;
        int c0 = bin(c, LP_TFL_SUB, ei, fh), c1 = bin(c, LP_TFL_SUB, di, fg), c2 = bin(c, LP_TFL_SUB, dh, eg);
        if (c0 < 0 || c1 < 0 || c2 < 0) return c->err->code;
        int t0 = bin(c, LP_TFL_MUL, e[0], c0), t1 = bin(c, LP_TFL_MUL, e[1], c1), t2 = bin(c, LP_TFL_MUL, e[2], c2);
        int s = t0 < 0 || t1 < 0 ? -1 : bin(c, LP_TFL_SUB, t0, t1);
        res = s < 0 || t2 < 0 ? -1 : bin_to(c, LP_TFL_ADD, s, t2, y);
    }
    return res < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Det = {det_infer, NULL, det_lower};
