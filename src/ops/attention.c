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
static int static_bias(lp_ctx *c, const att_spec *s, int *any_full_row) {
    *any_full_row = 0;
    if (s->has_nonpad || (!s->causal && s->left < 0 && s->right < 0)) return -1; /* see nonpad_bias */
    if (s->sq < 0 || s->total < 0 || s->past < 0) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "causal or windowed attention needs static sequence lengths");
        return -1;
    }
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
    lp_tensor *M = T(m);
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

    int64_t reps = s.hq / s.hkv;
    int64_t grouped[4] = {s.b, s.hkv, reps * s.sq, s.dk};
    if (reps > 1 && s.sq < 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "grouped-query attention with a dynamic query length");
    if (reps > 1) q = lp_cx_reshape(c, q, 4, grouped);
    int qk = lp_cx_matmul(c, q, k, 0, 1);
    int64_t qkd[4] = {s.b, s.hq, s.sq, s.total};
    if (reps > 1) qk = lp_cx_reshape(c, qk, 4, qkd);
    int qkc = qk;
    if (s.softcap > 0) {
        int cap = lp_cx_scalar(c, f, s.softcap);
        qkc = lp_cx_bin(c, LP_TFL_MUL, lp_cx_un(c, LP_TFL_TANH, lp_cx_bin(c, LP_TFL_DIV, qk, cap)), cap);
    }

    /* the additive bias and the fully-masked-row guard */
    int full_rows = 0;
    int sb = static_bias(c, &s, &full_rows);
    if (c->err->code) return c->err->code;
    int bias = -1, runtime = 0;
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
    int pg = reps > 1 ? lp_cx_reshape(c, p, 4, (int64_t[4]){s.b, s.hkv, reps * s.sq, s.total}) : p;
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
