/* Transformer blocks of the newer opsets: Attention (23, 24, 25).
 *
 * Attention becomes BATCH_MATMUL / SOFTMAX / SELECT_V2 in float32 (float16 and float64 inputs are
 * cast in and the results cast back). ONNX's rules, from the spec and its function body:
 *   - 3-D inputs [B, S, H*D] are split into heads [B, H, S, D] (q_num_heads / kv_num_heads);
 *   - past_key/past_value are concatenated before K/V on the sequence axis (the present outputs);
 *   - Q and K are each multiplied by sqrt(scale) (scale defaults to 1/sqrt(head size)), rounded to
 *     the input type as the function body's Cast does;
 *   - grouped-query attention repeats every K/V head q_heads/kv_heads times, interleaved
 *     ([h0, h0, h1, h1]); here Q is regrouped instead ([B, Hkv, reps*Sq, D]), which multiplies
 *     exactly the same rows without copying K and V;
 *   - softcap c > 0: c * tanh(qk / c), before the mask;
 *   - the additive bias is the sum of: the mask (bool: true -> 0, false -> -inf; a numeric mask is
 *     added as is; a short last axis is padded with -inf), the causal frontier j <= i + offset,
 *     the sliding window (opset 25) and the padding mask of nonpad_kv_seqlen (opset 24), where
 *     offset = past length, or nonpad_kv_seqlen[b] - Sq per batch;
 *   - a query row whose bias is -inf everywhere gives zero probabilities (not NaN);
 *   - qk_matmul_output: 0 the scaled QK product, 1 after softcap, 2 after the bias, 3 the
 *     guarded softmax. (The reference evaluator returns the softcapped product for mode 0; the
 *     spec and the function body say raw, which is what is emitted.) */
#include <math.h>
#include <string.h>

#include "compose.h"

#define T(id) lp_T(c, (id))

typedef struct att_spec {
    int rank;                /* 3 or 4 */
    int64_t b, hq, hkv, sq, skv, past, total, dk, dv;
    int has_mask, has_past, has_nonpad;
    int causal, mode;
    int64_t left, right;     /* window sizes, -1 = unbounded */
    float softcap;
    double scale;
} att_spec;

static int64_t dim_div(lp_ctx *c, int64_t a, int64_t h) {
    if (a < 0) return lp_graph_new_sym(c->g, NULL);
    return h > 0 ? a / h : -1;
}

static lp_status att_spec_get(lp_ctx *c, const lp_node *n, att_spec *s) {
    lp_tensor *q = T(n->in[0]), *k = T(n->in[1]), *v = T(n->in[2]);
    memset(s, 0, sizeof *s);
    LP_TRY(lp_need_rank(c, q, "Q"));
    LP_TRY(lp_need_rank(c, k, "K"));
    LP_TRY(lp_need_rank(c, v, "V"));
    for (int i = 0; i < 3; i++)
        if (!lp_cx_float_ok(T(n->in[i])->dtype))
            return lp_fail(c, LP_ERR_INVALID, "input %d has type %s", i, lp_dtype_name(T(n->in[i])->dtype));
    s->rank = q->rank;
    if (s->rank != 3 && s->rank != 4) return lp_fail(c, LP_ERR_INVALID, "Q must be 3-D or 4-D, not %d-D", s->rank);
    if (k->rank != s->rank || v->rank != s->rank) return lp_fail(c, LP_ERR_INVALID, "Q, K and V ranks differ");
    s->b = q->dims[0];
    if (s->rank == 3) {
        s->hq = lp_attr_i(c, n, "q_num_heads", 0);
        s->hkv = lp_attr_i(c, n, "kv_num_heads", 0);
        if (s->hq <= 0 || s->hkv <= 0)
            return lp_fail(c, LP_ERR_INVALID, "3-D inputs need the attributes 'q_num_heads' and 'kv_num_heads'");
        s->sq = q->dims[1];
        s->skv = k->dims[1];
        for (int i = 0; i < 3; i++) {
            int64_t hid = T(n->in[i])->dims[2], h = i == 0 ? s->hq : s->hkv;
            if (hid < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the hidden size of input %d must be static", i);
            if (hid % h) return lp_fail(c, LP_ERR_INVALID, "hidden size %lld of input %d is not a multiple of %lld heads",
                                        (long long)hid, i, (long long)h);
        }
        s->dk = dim_div(c, q->dims[2], s->hq);
        if (k->dims[2] / s->hkv != s->dk) return lp_fail(c, LP_ERR_INVALID, "Q and K head sizes differ");
        s->dv = dim_div(c, v->dims[2], s->hkv);
    } else {
        s->hq = q->dims[1];
        s->hkv = k->dims[1];
        s->sq = q->dims[2];
        s->skv = k->dims[2];
        s->dk = q->dims[3];
        s->dv = v->dims[3];
        if (s->hq < 0 || s->hkv < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the head counts must be static");
        if (s->hq == 0 || s->hkv == 0)
            return lp_fail(c, LP_ERR_INVALID, "%lld query heads and %lld key/value heads: both must be at least 1",
                           (long long)s->hq, (long long)s->hkv);
        if (v->dims[1] >= 0 && v->dims[1] != s->hkv)
            return lp_fail(c, LP_ERR_INVALID, "K has %lld heads but V has %lld", (long long)s->hkv, (long long)v->dims[1]);
        if (s->dk < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the head size must be static");
        if (k->dims[3] >= 0 && k->dims[3] != s->dk) return lp_fail(c, LP_ERR_INVALID, "Q and K head sizes differ");
    }
    if (s->hq % s->hkv)
        return lp_fail(c, LP_ERR_INVALID, "%lld query heads are not a multiple of %lld key/value heads",
                       (long long)s->hq, (long long)s->hkv);
    s->has_mask = lp_has_in(n, 3);
    s->has_past = lp_has_in(n, 4) || lp_has_in(n, 5);
    s->has_nonpad = lp_has_in(n, 6);
    if (s->has_past && !(lp_has_in(n, 4) && lp_has_in(n, 5)))
        return lp_fail(c, LP_ERR_INVALID, "past_key and past_value must be given together");
    if (s->has_past && s->has_nonpad)
        return lp_fail(c, LP_ERR_INVALID, "nonpad_kv_seqlen cannot be combined with past_key/past_value");
    s->past = 0;
    if (s->has_past) {
        lp_tensor *pk = T(n->in[4]), *pv = T(n->in[5]);
        if (pk->rank != 4 || pv->rank != 4) return lp_fail(c, LP_ERR_INVALID, "past_key and past_value must be 4-D");
        s->past = pk->dims[2];
    }
    s->total = (s->past < 0 || s->skv < 0) ? -1 : s->past + s->skv;
    if (s->total < 0) s->total = (!s->has_past) ? s->skv : lp_graph_new_sym(c->g, NULL);
    s->causal = (int)lp_attr_i(c, n, "is_causal", 0);
    s->mode = (int)lp_attr_i(c, n, "qk_matmul_output_mode", 0);
    if (s->mode < 0 || s->mode > 3)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'qk_matmul_output_mode'=%d is not 0..3", s->mode);
    s->softcap = lp_attr_f(c, n, "softcap", 0.0f);
    s->left = n->opset >= 25 ? lp_attr_i(c, n, "left_window_size", -1) : -1;
    s->right = n->opset >= 25 ? lp_attr_i(c, n, "right_window_size", -1) : -1;
    if (s->left < -1 || s->right < -1) return lp_fail(c, LP_ERR_INVALID, "window sizes must be -1 or >= 0");
    const lp_attr *sa = lp_node_attr(n, "scale");
    s->scale = sa ? lp_attr_f(c, n, "scale", 1.0f) : 1.0 / sqrt((double)s->dk);
    if (lp_has_in(n, 6) && !lp_dtype_is_int(T(n->in[6])->dtype))
        return lp_fail(c, LP_ERR_INVALID, "nonpad_kv_seqlen must be an integer tensor");
    return c->err->code;
}

static lp_status attention_infer(lp_ctx *c, const lp_node *n) {
    att_spec s;
    LP_TRY(att_spec_get(c, n, &s));
    lp_dtype t1 = T(n->in[0])->dtype, t2 = T(n->in[2])->dtype;
    int64_t y[4];
    if (s.rank == 3) {
        y[0] = s.b;
        y[1] = s.sq;
        y[2] = s.hq * s.dv;
        lp_set_out(c, n, 0, t1, 3, y);
    } else {
        int64_t d[4] = {s.b, s.hq, s.sq, s.dv};
        lp_set_out(c, n, 0, t1, 4, d);
    }
    int64_t pk[4] = {s.b, s.hkv, s.total, s.dk}, pv[4] = {s.b, s.hkv, s.total, s.dv};
    int64_t qk[4] = {s.b, s.hq, s.sq, s.total};
    lp_set_out(c, n, 1, t1, 4, pk);
    lp_set_out(c, n, 2, t2, 4, pv);
    lp_set_out(c, n, 3, t1, 4, qk);
    return LP_OK;
}

/* [B, S, H*D] -> [B, H, S, D] */
static int split_heads(lp_ctx *c, int x, int64_t h) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int64_t d[4] = {X->dims[0], X->dims[1], h, X->dims[2] / h};
    int perm[4] = {0, 2, 1, 3};
    return lp_cx_transpose(c, lp_cx_reshape(c, x, 4, d), perm);
}

/* The structural part of the bias that is known at conversion time (causal frontier and window
 * with a static offset): a [Sq, total] constant of 0 / -inf, or -1 when there is none. */
/* The same [Sq, total] bias when a sequence length is known only at run time: query i (offset
 * by the past length) and key j from RANGE, compared as above. */
static int runtime_bias(lp_ctx *c, const att_spec *s, int q4, int k4, int past_key) {
    const lp_dtype i32 = LP_DT_I32;
    int off = past_key >= 0 ? lp_cx_dim(c, past_key, 2) : lp_cx_scalar(c, i32, 0);
    int64_t col[2] = {s->sq, 1}, row[2] = {1, s->total};
    int i = lp_cx_reshape(c, lp_cx_iota(c, lp_cx_dim(c, q4, 2), s->sq), 2, col);
    int j = lp_cx_reshape(c, lp_cx_iota(c, lp_cx_dim(c, k4, 2), s->total), 2, row);
    int diff = lp_cx_bin(c, LP_TFL_SUB, lp_cx_bin(c, LP_TFL_ADD, i, off), j); /* query minus key position */
    int ok = -1;
    if (s->causal) ok = lp_cx_bin(c, LP_TFL_GREATER_EQUAL, diff, lp_cx_scalar(c, i32, 0));
    if (s->left >= 0) {
        int w = lp_cx_bin(c, LP_TFL_LESS_EQUAL, diff, lp_cx_scalar(c, i32, (double)s->left));
        ok = ok < 0 ? w : lp_cx_bin(c, LP_TFL_LOGICAL_AND, ok, w);
    }
    if (s->right >= 0) {
        int w = lp_cx_bin(c, LP_TFL_GREATER_EQUAL, diff, lp_cx_scalar(c, i32, (double)-s->right));
        ok = ok < 0 ? w : lp_cx_bin(c, LP_TFL_LOGICAL_AND, ok, w);
    }
    return lp_cx_select(c, ok, lp_cx_scalar(c, LP_DT_F32, 0.0), lp_cx_scalar(c, LP_DT_F32, -INFINITY));
}

static int static_bias(lp_ctx *c, const att_spec *s, int *any_full_row) {
    *any_full_row = 0;
    if (s->has_nonpad || (!s->causal && s->left < 0 && s->right < 0)) return -1; /* see nonpad_bias */
    int64_t ne = s->sq * s->total;
    if (ne > LP_MAX_FOLD_ELEMENTS) {
        lp_fail(c, LP_ERR_LIMIT, "a causal mask of %lld elements", (long long)ne);
        return -1;
    }
    float *m = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)(ne ? ne : 1));
    if (!m) {
        lp_fail(c, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (int64_t i = 0; i < s->sq; i++) {
        int row_open = 0;
        for (int64_t j = 0; j < s->total; j++) {
            int64_t diff = i + s->past - j; /* query position minus key position */
            int ok = (!s->causal || diff >= 0) && (s->left < 0 || diff <= s->left) && (s->right < 0 || -diff <= s->right);
            m[i * s->total + j] = ok ? 0.0f : -INFINITY;
            row_open |= ok;
        }
        if (!row_open) *any_full_row = 1;
    }
    int64_t d[2] = {s->sq, s->total};
    return lp_cx_f32s(c, 2, d, m);
}

/* nonpad_kv_seqlen (per batch length n[b]): key j of query i is allowed iff lo[i,j] <= n[b] <= hi[i,j],
 * which gathers the padding mask (j < n), the causal frontier (j <= i + n - Sq) and the window
 * (n - Sq + i - j <= left, j - i - n + Sq <= right). Returns a [B, 1, Sq, total] bias. */
static int nonpad_bias(lp_ctx *c, const lp_node *n, const att_spec *s) {
    if (s->sq < 0 || s->total < 0) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "nonpad_kv_seqlen needs static sequence lengths");
        return -1;
    }
    int64_t ne = s->sq * s->total;
    if (ne > LP_MAX_FOLD_ELEMENTS) {
        lp_fail(c, LP_ERR_LIMIT, "a padding mask of %lld elements", (long long)ne);
        return -1;
    }
    int64_t *lo = lp_arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)(ne ? ne : 1));
    int64_t *hi = lp_arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)(ne ? ne : 1));
    if (!lo || !hi) {
        lp_fail(c, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (int64_t i = 0; i < s->sq; i++)
        for (int64_t j = 0; j < s->total; j++) {
            int64_t l = j + 1;
            if (s->causal && j - i + s->sq > l) l = j - i + s->sq;
            if (s->right >= 0 && j - i + s->sq - s->right > l) l = j - i + s->sq - s->right;
            lo[i * s->total + j] = l;
            hi[i * s->total + j] = s->left + s->sq + j - i;
        }
    int64_t d[2] = {s->sq, s->total}, bd[4] = {s->b, 1, 1, 1};
    int nb = lp_cx_reshape(c, lp_cx_cast(c, n->in[6], LP_DT_I64), 4, bd);
    int ok = lp_cx_bin(c, LP_TFL_GREATER_EQUAL, nb, lp_cx_const(c, LP_DT_I64, 2, d, lo));
    if (s->left >= 0) ok = lp_cx_bin(c, LP_TFL_LOGICAL_AND, ok, lp_cx_bin(c, LP_TFL_LESS_EQUAL, nb, lp_cx_const(c, LP_DT_I64, 2, d, hi)));
    return lp_cx_select(c, ok, lp_cx_scalar(c, LP_DT_F32, 0.0), lp_cx_scalar(c, LP_DT_F32, -INFINITY));
}

/* the user's mask as an additive float bias with the last axis padded to `total` */
static int mask_bias(lp_ctx *c, const lp_node *n, const att_spec *s) {
    int m = n->in[3];
    const lp_tensor Mv = *T(m), *M = &Mv; /* a copy: emitting may move the tensor array */
    if (M->rank < 1 || M->rank > 4) {
        lp_fail(c, LP_ERR_INVALID, "attn_mask of rank %d", M->rank);
        return -1;
    }
    int64_t last = M->dims[M->rank - 1];
    int b;
    if (M->dtype == LP_DT_BOOL)
        b = lp_cx_select(c, m, lp_cx_scalar(c, LP_DT_F32, 0.0), lp_cx_scalar(c, LP_DT_F32, -INFINITY));
    else
        b = lp_cx_cast(c, m, LP_DT_F32);
    if (last >= 0 && s->total >= 0 && last < s->total) {
        int64_t pads[2 * LP_MAX_RANK] = {0};
        pads[2 * (M->rank - 1) + 1] = s->total - last;
        b = lp_cx_pad(c, b, pads, -INFINITY);
    } else if (last < 0 || s->total < 0 || last > s->total) {
        if (last != s->total) {
            lp_fail(c, LP_ERR_UNSUPPORTED, "the last axis of attn_mask must be static and at most the total sequence length");
            return -1;
        }
    }
    return b;
}

static lp_status attention_lower(lp_ctx *c, const lp_node *n) {
    att_spec s;
    LP_TRY(att_spec_get(c, n, &s));
    const lp_dtype f = LP_DT_F32;
    int q = lp_cx_cast(c, n->in[0], f), k = lp_cx_cast(c, n->in[1], f), v = lp_cx_cast(c, n->in[2], f);
    if (s.rank == 3) {
        q = split_heads(c, q, s.hq);
        k = split_heads(c, k, s.hkv);
        v = split_heads(c, v, s.hkv);
    }
    if (s.has_past) {
        int kk[2] = {lp_cx_cast(c, n->in[4], f), k}, vv[2] = {lp_cx_cast(c, n->in[5], f), v};
        k = lp_cx_concat(c, kk, 2, 2);
        v = lp_cx_concat(c, vv, 2, 2);
    }
    int present_k = k, present_v = v; /* bound last: binding renames later readers too */

    /* sqrt(scale) in the input type, on Q and on K */
    uint8_t buf[8];
    lp_dtype t1 = T(n->in[0])->dtype;
    lp_set_f64(t1, buf, 0, sqrt(s.scale));
    double sc = lp_get_f64(t1, buf, 0);
    int scv = lp_cx_scalar(c, f, sc);
    q = lp_cx_bin(c, LP_TFL_MUL, q, scv);
    k = lp_cx_bin(c, LP_TFL_MUL, k, scv);

    int q4 = q, k4 = k;
    if (k >= 0) s.total = T(k)->dims[2];
    int64_t reps = s.hq / s.hkv;
    /* grouped-query attention: the reps query heads of a kv head as more rows ([B, Hkv, reps*Sq, D]),
     * or, when Sq is dynamic, as a batch axis of a rank-5 product */
    int g5 = reps > 1 && s.sq < 0;
    int64_t qkd[4] = {s.b, s.hq, s.sq, s.total};
    if (reps > 1 && !g5) q = lp_cx_reshape(c, q, 4, (int64_t[4]){s.b, s.hkv, reps * s.sq, s.dk});
    if (g5) {
        q = lp_cx_reshape(c, q, 5, (int64_t[5]){s.b, s.hkv, reps, s.sq, s.dk});
        k = lp_cx_reshape(c, k, 5, (int64_t[5]){s.b, s.hkv, 1, s.total, s.dk});
    }
    int qk = lp_cx_matmul(c, q, k, 0, 1);
    if (reps > 1) qk = lp_cx_reshape(c, qk, 4, qkd);
    int qkc = qk;
    if (s.softcap > 0) {
        int cap = lp_cx_scalar(c, f, s.softcap);
        qkc = lp_cx_bin(c, LP_TFL_MUL, lp_cx_un(c, LP_TFL_TANH, lp_cx_bin(c, LP_TFL_DIV, qk, cap)), cap);
    }

    /* the additive bias and the fully-masked-row guard */
    int full_rows = 0, runtime = 0;
    int structural = s.causal || s.left >= 0 || s.right >= 0;
    int sb;
    if (structural && !s.has_nonpad && (s.sq < 0 || s.total < 0 || s.past < 0)) {
        sb = runtime_bias(c, &s, q4, k4, s.has_past ? lp_cx_cast(c, n->in[4], f) : -1);
        runtime = 1;
    } else {
        sb = static_bias(c, &s, &full_rows);
    }
    if (c->err->code) return c->err->code;
    int bias = -1;
    if (s.has_mask) {
        bias = mask_bias(c, n, &s);
        runtime = 1;
    }
    if (sb >= 0) bias = bias >= 0 ? lp_cx_bin(c, LP_TFL_ADD, bias, sb) : sb;
    if (s.has_nonpad) {
        int pb = nonpad_bias(c, n, &s);
        bias = bias >= 0 ? lp_cx_bin(c, LP_TFL_ADD, bias, pb) : pb;
        runtime = 1;
    }
    int qkb = bias >= 0 ? lp_cx_bin(c, LP_TFL_ADD, qkc, bias) : qkc;
    int p = lp_cx_softmax(c, qkb, 0);
    if (bias >= 0 && (runtime || full_rows)) {
        int ax = T(bias)->rank - 1;
        int mx = lp_cx_reduce(c, LP_TFL_REDUCE_MAX, bias, &ax, 1, 1);
        int dead = lp_cx_bin(c, LP_TFL_EQUAL, mx, lp_cx_scalar(c, f, -INFINITY));
        p = lp_cx_select(c, dead, lp_cx_scalar(c, f, 0.0), p);
    }
    int pg = p;
    if (reps > 1 && !g5) pg = lp_cx_reshape(c, p, 4, (int64_t[4]){s.b, s.hkv, reps * s.sq, s.total});
    if (g5) {
        pg = lp_cx_reshape(c, p, 5, (int64_t[5]){s.b, s.hkv, reps, s.sq, s.total});
        v = lp_cx_reshape(c, v, 5, (int64_t[5]){s.b, s.hkv, 1, s.total, s.dv});
    }
    int y = lp_cx_matmul(c, pg, v, 0, 0);
    if (reps > 1) y = lp_cx_reshape(c, y, 4, (int64_t[4]){s.b, s.hq, s.sq, s.dv});
    if (s.rank == 3) {
        int perm[4] = {0, 2, 1, 3};
        y = lp_cx_reshape(c, lp_cx_transpose(c, y, perm), 3, T(n->out[0])->dims);
    }
    if (c->err->code) return c->err->code;
    if (n->n_out > 3 && n->out[3] >= 0) {
        int src = s.mode == 0 ? qk : s.mode == 1 ? qkc : s.mode == 2 ? qkb : p;
        LP_TRY(lp_cx_bind(c, src, n->out[3]));
    }
    if (n->n_out > 1) LP_TRY(lp_cx_bind(c, present_k, n->out[1]));
    if (n->n_out > 2) LP_TRY(lp_cx_bind(c, present_v, n->out[2]));
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_Attention = {attention_infer, NULL, attention_lower};

/* ---------------- LinearAttention (27) ----------------
 * The recurrence of the spec, unrolled over the (static) sequence length T in float32, as the
 * reference does: per step t, with the state S [B, Hkv, dk, dv],
 *   gated:  S = exp(g_t) * S                       (g per key dim [.., dk, 1] or per head [.., 1, 1])
 *   delta:  v_t = beta_t * (v_t - S^T k_t)         (BATCH_MATMUL of the key row and S)
 *   write:  S = S + k_t (x) v_t                    (broadcast MUL: an exact outer product)
 *   read:   o_t = scale * q_t S, the q heads of one kv head stacked as rows ([B, Hkv, reps, dk]),
 *           which is the interleaved head repetition of the reference.
 * Chunk-parallel forms give the same values but are not needed for correctness; T is capped so
 * the unrolled graph stays reasonable. */

#define LA_MAX_T 512

typedef struct la_spec {
    int64_t b, t, hq, hkv, dk, dv;
    int gating, delta;
    int decay_per_head, beta_heads; /* decay last dim == Hkv; beta last dim (Hkv or 1) */
    double scale;
} la_spec;

static lp_status la_spec_get(lp_ctx *c, const lp_node *n, la_spec *s) {
    memset(s, 0, sizeof *s);
    lp_tensor *q = T(n->in[0]), *k = T(n->in[1]), *v = T(n->in[2]);
    for (int i = 0; i < 3; i++) {
        lp_tensor *x = T(n->in[i]);
        LP_TRY(lp_need_rank(c, x, "input"));
        if (x->rank != 3) return lp_fail(c, LP_ERR_INVALID, "input %d must be 3-D (B, T, H*D)", i);
        if (!lp_cx_float_ok(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input %d has type %s", i, lp_dtype_name(x->dtype));
        if (x->dims[2] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the hidden size of input %d must be static", i);
    }
    const char *rule = lp_attr_s(c, n, "update_rule", "gated_delta");
    s->hq = lp_attr_i(c, n, "q_num_heads", 0);
    s->hkv = lp_attr_i(c, n, "kv_num_heads", 0);
    if (c->err->code) return c->err->code;
    if (s->hq <= 0 || s->hkv <= 0 || s->hq % s->hkv)
        return lp_fail(c, LP_ERR_INVALID, "q_num_heads (%lld) must be a positive multiple of kv_num_heads (%lld)",
                       (long long)s->hq, (long long)s->hkv);
    if (strcmp(rule, "linear") == 0) s->gating = 0, s->delta = 0;
    else if (strcmp(rule, "gated") == 0) s->gating = 1, s->delta = 0;
    else if (strcmp(rule, "delta") == 0) s->gating = 0, s->delta = 1;
    else if (strcmp(rule, "gated_delta") == 0) s->gating = 1, s->delta = 1;
    else return lp_fail(c, LP_ERR_INVALID, "attribute 'update_rule'='%s' is not linear, gated, delta or gated_delta", rule);
    if (s->gating != lp_has_in(n, 4))
        return lp_fail(c, LP_ERR_INVALID, "update_rule '%s' %s the decay input", rule, s->gating ? "requires" : "forbids");
    if (s->delta != lp_has_in(n, 5))
        return lp_fail(c, LP_ERR_INVALID, "update_rule '%s' %s the beta input", rule, s->delta ? "requires" : "forbids");
    s->b = q->dims[0];
    s->t = q->dims[1];
    /* every per-step input has the query's batch and sequence length (the loop reads step t of each) */
    static const char *const names[6] = {"query", "key", "value", "", "decay", "beta"};
    for (int i = 1; i < 6 && i < n->n_in; i++) {
        lp_tensor *x = i == 3 ? NULL : lp_in(c, n, i);
        if (!x || x->rank < 2) continue;
        for (int d = 0; d < 2; d++)
            if (x->dims[d] >= 0 && q->dims[d] >= 0 && x->dims[d] != q->dims[d])
                return lp_fail(c, LP_ERR_INVALID, "input %d '%s' has %s %lld; the query has %lld", i, names[i],
                               d ? "sequence length" : "batch", (long long)x->dims[d], (long long)q->dims[d]);
    }
    if (q->dims[2] % s->hq || k->dims[2] % s->hkv || v->dims[2] % s->hkv)
        return lp_fail(c, LP_ERR_INVALID, "hidden sizes are not multiples of the head counts");
    s->dk = q->dims[2] / s->hq;
    s->dv = v->dims[2] / s->hkv;
    if (k->dims[2] != s->hkv * s->dk) return lp_fail(c, LP_ERR_INVALID, "key hidden size must be kv_num_heads * d_k");
    if (s->gating) {
        lp_tensor *g = T(n->in[4]);
        if (g->rank != 3 || (g->dims[2] != s->hkv && g->dims[2] != s->hkv * s->dk))
            return lp_fail(c, LP_ERR_INVALID, "decay must be (B, T, kv_num_heads) or (B, T, kv_num_heads * d_k)");
        s->decay_per_head = g->dims[2] == s->hkv;
    }
    if (s->delta) {
        lp_tensor *be = T(n->in[5]);
        if (be->rank != 3 || (be->dims[2] != s->hkv && be->dims[2] != 1))
            return lp_fail(c, LP_ERR_INVALID, "beta must be (B, T, kv_num_heads) or (B, T, 1)");
        s->beta_heads = (int)be->dims[2];
    }
    if (lp_has_in(n, 3)) {
        lp_tensor *ps = T(n->in[3]);
        if (ps->rank != 4 || ps->dims[1] != s->hkv || ps->dims[2] != s->dk || ps->dims[3] != s->dv)
            return lp_fail(c, LP_ERR_INVALID, "past_state must be (B, %lld, %lld, %lld)", (long long)s->hkv,
                           (long long)s->dk, (long long)s->dv);
        if (!lp_cx_float_ok(ps->dtype)) return lp_fail(c, LP_ERR_INVALID, "past_state has type %s", lp_dtype_name(ps->dtype));
    }
    float sc = lp_attr_f(c, n, "scale", 0.0f);
    s->scale = sc == 0.0f ? 1.0 / sqrt((double)s->dk) : (double)sc;
    return c->err->code;
}

static lp_status la_infer(lp_ctx *c, const lp_node *n) {
    la_spec s;
    LP_TRY(la_spec_get(c, n, &s));
    lp_dtype dt = T(n->in[0])->dtype;
    int64_t o[3] = {s.b, s.t, s.hq * s.dv}, st[4] = {s.b, s.hkv, s.dk, s.dv};
    lp_set_out(c, n, 0, dt, 3, o);
    lp_set_out(c, n, 1, lp_has_in(n, 3) ? T(n->in[3])->dtype : dt, 4, st);
    return LP_OK;
}

static lp_status la_lower(lp_ctx *c, const lp_node *n) {
    la_spec s;
    LP_TRY(la_spec_get(c, n, &s));
    if (s.t < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "LinearAttention needs a static sequence length (it is unrolled)");
    if (s.t > LA_MAX_T)
        return lp_fail(c, LP_ERR_LIMIT, "sequence length %lld: the recurrence is unrolled up to %d steps", (long long)s.t,
                       LA_MAX_T);
    const lp_dtype f = LP_DT_F32;
    int64_t reps = s.hq / s.hkv, T_ = s.t;
    /* every input split into its T steps */
    int qs[LA_MAX_T], ks[LA_MAX_T], vs[LA_MAX_T], gs[LA_MAX_T], bs[LA_MAX_T];
    int src[5] = {lp_cx_cast(c, n->in[0], f), lp_cx_cast(c, n->in[1], f), lp_cx_cast(c, n->in[2], f), -1, -1};
    if (s.gating) src[3] = lp_cx_un(c, LP_TFL_EXP, lp_cx_cast(c, n->in[4], f));
    if (s.delta) src[4] = lp_cx_cast(c, n->in[5], f);
    int *dst[5] = {qs, ks, vs, gs, bs};
    for (int i = 0; i < 5; i++) {
        if (i == 3 && !s.gating) continue;
        if (i == 4 && !s.delta) continue;
        if (T_ == 1) {
            lp_tensor *X = T(src[i]);
            int64_t d2[2] = {X->dims[0], X->dims[2]};
            dst[i][0] = lp_cx_reshape(c, src[i], 2, d2);
        } else if (lp_cx_unpack(c, src[i], 1, dst[i]) < 0) {
            return c->err->code;
        }
    }
    if (c->err->code) return c->err->code;
    int S = lp_has_in(n, 3) ? lp_cx_cast(c, n->in[3], f) : -2; /* -2: the zero state */
    int64_t kcol[4] = {s.b, s.hkv, s.dk, 1}, krow[4] = {s.b, s.hkv, 1, s.dk}, vrow[4] = {s.b, s.hkv, 1, s.dv};
    int64_t qg[4] = {s.b, s.hkv, reps, s.dk}, oh[3] = {s.b, s.hq, s.dv};
    int64_t gd[4] = {s.b, s.hkv, s.decay_per_head ? 1 : s.dk, 1}, bd[4] = {s.b, s.beta_heads, 1, 1};
    int outs[LA_MAX_T];
    for (int64_t t = 0; t < T_; t++) {
        int k_c = lp_cx_reshape(c, ks[t], 4, kcol);
        int v_r = lp_cx_reshape(c, vs[t], 4, vrow);
        if (s.gating && S != -2) S = lp_cx_bin(c, LP_TFL_MUL, S, lp_cx_reshape(c, gs[t], 4, gd));
        if (s.delta) {
            if (S != -2) v_r = lp_cx_bin(c, LP_TFL_SUB, v_r, lp_cx_matmul(c, lp_cx_reshape(c, ks[t], 4, krow), S, 0, 0));
            v_r = lp_cx_bin(c, LP_TFL_MUL, lp_cx_reshape(c, bs[t], 4, bd), v_r);
        }
        int kv = lp_cx_bin(c, LP_TFL_MUL, k_c, v_r);
        S = S == -2 ? kv : lp_cx_bin(c, LP_TFL_ADD, S, kv);
        int o = lp_cx_matmul(c, lp_cx_reshape(c, qs[t], 4, qg), S, 0, 0);
        outs[t] = lp_cx_reshape(c, o, 3, oh);
        if (c->err->code) return c->err->code;
    }
    int all = T_ == 1 ? lp_cx_reshape(c, outs[0], 4, (int64_t[4]){s.b, 1, s.hq, s.dv}) : lp_cx_pack(c, outs, (int)T_, 1);
    int y = lp_cx_bin(c, LP_TFL_MUL, all, lp_cx_scalar(c, f, s.scale));
    y = lp_cx_reshape(c, y, 3, T(n->out[0])->dims);
    if (c->err->code) return c->err->code;
    if (n->n_out > 1 && n->out[1] >= 0) LP_TRY(lp_cx_bind(c, S, n->out[1]));
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_LinearAttention = {la_infer, NULL, la_lower};

/* ---------------- CausalConvWithState (27) ----------------
 * padded = concat(past_state or zeros, input) on the time axis; a valid depthwise convolution of
 * it (DEPTHWISE_CONV_2D on [B, 1, L+k-1, C] with the filter [1, 1, k, C]); optional SiLU
 * (x * sigmoid(x)); present_state = the last k-1 steps of padded. */

static lp_status ccs_check(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *w = T(n->in[1]);
    LP_TRY(lp_need_rank(c, x, "input"));
    LP_TRY(lp_need_rank(c, w, "weight"));
    if (x->rank != 3 || w->rank != 3) return lp_fail(c, LP_ERR_INVALID, "input and weight must be 3-D");
    if (!lp_cx_float_ok(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    if (w->dims[2] < 1) return lp_fail(c, LP_ERR_UNSUPPORTED, "the kernel size must be static");
    if (w->dims[1] != 1 || (x->dims[1] >= 0 && w->dims[0] >= 0 && w->dims[0] != x->dims[1]))
        return lp_fail(c, LP_ERR_INVALID, "weight must be (channels, 1, k)");
    if (x->dims[1] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the channel count must be static");
    const char *act = lp_attr_s(c, n, "activation", "none");
    if (c->err->code) return c->err->code;
    if (strcmp(act, "none") && strcmp(act, "silu") && strcmp(act, "swish"))
        return lp_fail(c, LP_ERR_INVALID, "attribute 'activation'='%s' is not none, silu or swish", act);
    return LP_OK;
}

static lp_status ccs_infer(lp_ctx *c, const lp_node *n) {
    LP_TRY(ccs_check(c, n));
    lp_tensor *x = T(n->in[0]);
    int64_t st[3] = {x->dims[0], x->dims[1], T(n->in[1])->dims[2] - 1};
    lp_set_out(c, n, 0, x->dtype, 3, x->dims);
    lp_set_out(c, n, 1, x->dtype, 3, st);
    return LP_OK;
}

static lp_status ccs_lower(lp_ctx *c, const lp_node *n) {
    LP_TRY(ccs_check(c, n));
    const lp_dtype f = LP_DT_F32;
    lp_tensor *X = T(n->in[0]);
    int64_t B = X->dims[0], C = X->dims[1], L = X->dims[2], K = T(n->in[1])->dims[2];
    int x = lp_cx_cast(c, n->in[0], f), padded;
    if (lp_has_in(n, 3)) {
        int parts[2] = {lp_cx_cast(c, n->in[3], f), x};
        padded = K > 1 ? lp_cx_concat(c, parts, 2, 2) : x;
    } else {
        int64_t pads[6] = {0, 0, 0, 0, K - 1, 0};
        padded = lp_cx_pad(c, x, pads, 0.0);
    }
    int64_t Lp = T(padded)->dims[2];
    /* [B, C, Lp] -> [B, 1, Lp, C] */
    int perm[3] = {0, 2, 1};
    int64_t nhwc[4] = {B, 1, Lp, C}, fd[4] = {1, 1, K, C}, yd[4] = {B, 1, L, C};
    int xin = lp_cx_reshape(c, lp_cx_transpose(c, padded, perm), 4, nhwc);
    int w = lp_cx_reshape(c, lp_cx_transpose(c, lp_cx_reshape(c, lp_cx_cast(c, n->in[1], f), 2, (int64_t[2]){C, K}),
                                             (int[2]){1, 0}), 4, fd);
    /* a zero bias when there is none: the kernel wants one when the filter is not a constant */
    float *zb = lp_table_alloc(c, C, sizeof(float), "zero bias");
    if (!zb) return c->err->code;
    memset(zb, 0, sizeof(float) * (size_t)C);
    int bias = lp_has_in(n, 2) ? lp_cx_cast(c, n->in[2], f) : lp_cx_f32s(c, 1, &C, zb);
    if (c->err->code) return c->err->code;
    int yc = lp_emit_tensor(c, f, 4, yd, "conv");
    int in[3] = {xin, w, bias};
    int id = yc < 0 ? -1 : lp_emit_op(c, LP_TFL_DEPTHWISE_CONV_2D, in, 3, &yc, 1);
    if (id < 0) return c->err->code;
    lp_tfl_params *p = lp_emit_params(c, id);
    p->padding = 1; /* VALID */
    p->stride_w = p->stride_h = 1;
    p->dil_w = p->dil_h = 1;
    p->depth_mult = 1;
    int y = lp_cx_transpose(c, lp_cx_reshape(c, yc, 3, (int64_t[3]){B, L, C}), perm);
    if (strcmp(lp_attr_s(c, n, "activation", "none"), "none") != 0)
        y = lp_cx_bin(c, LP_TFL_MUL, y, lp_cx_un(c, LP_TFL_LOGISTIC, y));
    if (c->err->code) return c->err->code;
    if (n->n_out > 1 && n->out[1] >= 0) {
        int st = lp_cx_slice(c, padded, (int64_t[3]){0, 0, Lp - (K - 1)}, (int64_t[3]){-1, -1, K - 1});
        LP_TRY(lp_cx_bind(c, st, n->out[1]));
    }
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_CausalConvWithState = {ccs_infer, NULL, ccs_lower};

/* ---------------- RotaryEmbedding (23) ----------------
 * x viewed as [B, H, S, D] (4-D input) or [B, S, H, D] (3-D input split into num_heads); cos and
 * sin ([B, S, rot/2], gathered by position_ids from a [max_pos, rot/2] cache when given) get a
 * unit head axis so that they broadcast. With x1, x2 the two halves of the first rot channels
 * (or its even and odd channels when interleaved): [cos*x1 - sin*x2, sin*x1 + cos*x2, rest].
 * The interleaved form permutes the channels with a constant GATHER, rotates as halves and
 * permutes back. */

static lp_status rope_check(lp_ctx *c, const lp_node *n, int64_t *rot) {
    lp_tensor *x = T(n->in[0]), *cc = T(n->in[1]), *sc = T(n->in[2]);
    LP_TRY(lp_need_rank(c, x, "input"));
    LP_TRY(lp_need_rank(c, cc, "cos_cache"));
    if (x->rank != 3 && x->rank != 4) return lp_fail(c, LP_ERR_INVALID, "input must be 3-D or 4-D");
    if (!lp_cx_float_ok(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    if (x->dims[x->rank - 1] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the hidden size must be static");
    int64_t head = x->dims[x->rank - 1];
    if (x->rank == 3) {
        int64_t h = lp_attr_i(c, n, "num_heads", 0);
        if (h <= 0 || head % h) return lp_fail(c, LP_ERR_INVALID, "3-D input needs num_heads dividing the hidden size");
        head /= h;
    }
    *rot = lp_attr_i(c, n, "rotary_embedding_dim", 0);
    if (*rot == 0) *rot = head;
    if (*rot < 0 || *rot > head || *rot % 2) return lp_fail(c, LP_ERR_INVALID, "rotary_embedding_dim %lld", (long long)*rot);
    int want = lp_has_in(n, 3) ? 2 : 3;
    if (cc->rank != want || sc->rank != want)
        return lp_fail(c, LP_ERR_INVALID, "cos_cache and sin_cache must be %d-D %s position_ids", want,
                       lp_has_in(n, 3) ? "with" : "without");
    if (cc->dims[want - 1] != *rot / 2)
        return lp_fail(c, LP_ERR_INVALID, "the last dimension of cos_cache must be rotary_embedding_dim/2 = %lld",
                       (long long)(*rot / 2));
    return c->err->code;
}

static lp_status rope_infer(lp_ctx *c, const lp_node *n) {
    int64_t rot;
    LP_TRY(rope_check(c, n, &rot));
    lp_tensor *x = T(n->in[0]);
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return LP_OK;
}

static lp_status rope_lower(lp_ctx *c, const lp_node *n) {
    int64_t rot;
    LP_TRY(rope_check(c, n, &rot));
    const lp_dtype f = LP_DT_F32;
    const lp_tensor Xv = *T(n->in[0]), *X = &Xv; /* a copy: emitting may move the tensor array */
    int64_t half = rot / 2;
    int x = lp_cx_cast(c, n->in[0], f);
    int64_t D = X->dims[X->rank - 1];
    if (X->rank == 3) {
        int64_t h = lp_attr_i(c, n, "num_heads", 0);
        D /= h;
        x = lp_cx_reshape(c, x, 4, (int64_t[4]){X->dims[0], X->dims[1], h, D});
    }
    int cs[2];
    for (int i = 0; i < 2; i++) {
        int t = lp_cx_cast(c, n->in[1 + i], f);
        if (lp_has_in(n, 3)) t = lp_cx_gather(c, t, lp_cx_cast(c, n->in[3], LP_DT_I32), 0, 0);
        /* [B, S, half] -> [B, S, 1, half] (3-D input) or [B, 1, S, half] */
        if (t < 0) return c->err->code;
        int64_t d4[4] = {T(t)->dims[0], 1, 1, half};
        d4[X->rank == 3 ? 1 : 2] = T(t)->dims[1];
        cs[i] = lp_cx_reshape(c, t, 4, d4);
    }
    int interleaved = (int)lp_attr_i(c, n, "interleaved", 0);
    int32_t *perm = NULL, *inv = NULL;
    if (interleaved) {
        perm = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)D);
        inv = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)D);
        if (!perm || !inv) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < D; i++) perm[i] = (int32_t)i;
        for (int64_t i = 0; i < half; i++) {
            perm[i] = (int32_t)(2 * i);
            perm[half + i] = (int32_t)(2 * i + 1);
        }
        for (int64_t i = 0; i < D; i++) inv[perm[i]] = (int32_t)i;
        x = lp_cx_gather(c, x, lp_cx_i32s(c, perm, (int)D), 3, 0);
    }
    if (x < 0) return c->err->code;
    int64_t xd[4];
    memcpy(xd, T(x)->dims, sizeof xd);
    int64_t sz[4] = {-1, -1, -1, half};
    int x1 = lp_cx_slice(c, x, (int64_t[4]){0, 0, 0, 0}, sz);
    int x2 = lp_cx_slice(c, x, (int64_t[4]){0, 0, 0, half}, sz);
    int real = lp_cx_bin(c, LP_TFL_SUB, lp_cx_bin(c, LP_TFL_MUL, cs[0], x1), lp_cx_bin(c, LP_TFL_MUL, cs[1], x2));
    int imag = lp_cx_bin(c, LP_TFL_ADD, lp_cx_bin(c, LP_TFL_MUL, cs[1], x1), lp_cx_bin(c, LP_TFL_MUL, cs[0], x2));
    int parts[3] = {real, imag, -1}, np = 2;
    if (rot < D) parts[np++] = lp_cx_slice(c, x, (int64_t[4]){0, 0, 0, rot}, (int64_t[4]){-1, -1, -1, -1});
    int y = lp_cx_concat(c, parts, np, 3);
    if (y >= 0) {
        /* the broadcast may have picked the cache's dims: keep x's */
        memcpy(T(y)->dims, xd, sizeof xd);
    }
    if (interleaved) y = lp_cx_gather(c, y, lp_cx_i32s(c, inv, (int)D), 3, 0);
    if (X->rank == 3) y = lp_cx_reshape(c, y, 3, X->dims);
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_RotaryEmbedding = {rope_infer, NULL, rope_lower};

/* ---------------- SwiGLU (28) ----------------
 * Y = A * sigmoid(alpha * A) * B, no broadcasting (the shapes are equal). */

static lp_status swiglu_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]);
    LP_TRY(lp_need_rank(c, a, "A"));
    if (a->dtype != b->dtype || a->rank != b->rank) return lp_fail(c, LP_ERR_INVALID, "A and B must have one type and shape");
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] >= 0 && b->dims[i] >= 0 && a->dims[i] != b->dims[i])
            return lp_fail(c, LP_ERR_INVALID, "A and B shapes differ (SwiGLU does not broadcast)");
    if (!lp_cx_float_ok(a->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(a->dtype));
    lp_set_out(c, n, 0, a->dtype, a->rank, a->dims);
    return LP_OK;
}

static lp_status swiglu_lower(lp_ctx *c, const lp_node *n) {
    const lp_dtype f = LP_DT_F32;
    float alpha = lp_attr_f(c, n, "alpha", 1.0f);
    int a = lp_cx_cast(c, n->in[0], f), b = lp_cx_cast(c, n->in[1], f);
    int g = alpha == 1.0f ? a : lp_cx_bin(c, LP_TFL_MUL, a, lp_cx_scalar(c, f, alpha));
    int y = lp_cx_bin(c, LP_TFL_MUL, lp_cx_bin(c, LP_TFL_MUL, a, lp_cx_un(c, LP_TFL_LOGISTIC, g)), b);
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_SwiGLU = {swiglu_infer, NULL, swiglu_lower};
