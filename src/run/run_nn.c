/* Kernels with windows and reductions: convolutions, pooling, fully connected, batch matmul,
 * softmax, reductions, resize, arg max/min. Float32 only, NHWC, following LiteRT's reference
 * kernels (padding, resize coordinates, average pooling over in-bounds elements). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

int lp_run_nn_has(lp_op op) {
    switch (op) {
    case LP_TFL_CONV_2D: case LP_TFL_DEPTHWISE_CONV_2D: case LP_TFL_TRANSPOSE_CONV:
    case LP_TFL_FULLY_CONNECTED: case LP_TFL_BATCH_MATMUL: case LP_TFL_AVERAGE_POOL_2D:
    case LP_TFL_MAX_POOL_2D: case LP_TFL_L2_POOL_2D: case LP_TFL_MEAN: case LP_TFL_SUM:
    case LP_TFL_REDUCE_MAX: case LP_TFL_REDUCE_MIN: case LP_TFL_REDUCE_PROD: case LP_TFL_REDUCE_ALL:
    case LP_TFL_SOFTMAX: case LP_TFL_LOG_SOFTMAX: case LP_TFL_L2_NORMALIZATION:
    case LP_TFL_RESIZE_BILINEAR: case LP_TFL_RESIZE_NEAREST_NEIGHBOR: case LP_TFL_ARG_MAX:
    case LP_TFL_ARG_MIN:
        return 1;
    default: return 0;
    }
}

static float act_f(int act, float x) {
    switch (act) {
    case 1: return x < 0 ? 0 : x;
    case 2: return x < -1 ? -1 : x > 1 ? 1 : x;
    case 3: return x < 0 ? 0 : x > 6 ? 6 : x;
    default: return x;
    }
}

static int f32_all(const lp_value *a, const lp_value *b) {
    return a && a->dtype == LP_DT_F32 && (!b || b->dtype == LP_DT_F32);
}

/* TFLite's padding before the first element: SAME splits the total, extra at the end */
static int64_t pad_before(int padding, int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dil) {
    if (padding != 0) return 0;
    int64_t eff = (k - 1) * dil + 1;
    int64_t total = (out - 1) * stride + eff - in;
    return total > 0 ? total / 2 : 0;
}

static int stride_of(int s) { return s > 0 ? s : 1; }

/* ---- CONV_2D (grouped when the filter's depth is smaller than the input's) ----
 * One output row at a time: the row's input patches are gathered (im2col, zeros where the window
 * leaves the input), then a 4-pixel x 8-channel block of accumulators runs over the patch length,
 * a loop shape compilers keep in registers and vectorise without fast-math. */
#define CONV_PX 4
#define CONV_CH 8

/* acc[p][c] = sum_k patch[p*K + k] * w[k*ldw + c] */
#if defined(__GNUC__) || defined(__clang__)
typedef float lp_v4f __attribute__((vector_size(16)));
static lp_v4f v4_load(const float *p) {
    lp_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static void conv_block(const float *patch, const float *w, int64_t K, int64_t ldw, float acc[CONV_PX][CONV_CH]) {
    lp_v4f a00 = {0, 0, 0, 0}, a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    const float *q0 = patch, *q1 = patch + K, *q2 = patch + 2 * K, *q3 = patch + 3 * K;
    for (int64_t k = 0; k < K; k++) {
        lp_v4f w0 = v4_load(w + k * ldw), w1 = v4_load(w + k * ldw + 4);
        lp_v4f x0 = {q0[k], q0[k], q0[k], q0[k]}, x1 = {q1[k], q1[k], q1[k], q1[k]};
        lp_v4f x2 = {q2[k], q2[k], q2[k], q2[k]}, x3 = {q3[k], q3[k], q3[k], q3[k]};
        a00 += x0 * w0;
        a01 += x0 * w1;
        a10 += x1 * w0;
        a11 += x1 * w1;
        a20 += x2 * w0;
        a21 += x2 * w1;
        a30 += x3 * w0;
        a31 += x3 * w1;
    }
    memcpy(acc[0], &a00, 16);
    memcpy(acc[0] + 4, &a01, 16);
    memcpy(acc[1], &a10, 16);
    memcpy(acc[1] + 4, &a11, 16);
    memcpy(acc[2], &a20, 16);
    memcpy(acc[2] + 4, &a21, 16);
    memcpy(acc[3], &a30, 16);
    memcpy(acc[3] + 4, &a31, 16);
}
#else
static void conv_block(const float *patch, const float *w, int64_t K, int64_t ldw, float acc[CONV_PX][CONV_CH]) {
    for (int p = 0; p < CONV_PX; p++)
        for (int c = 0; c < CONV_CH; c++) acc[p][c] = 0;
    for (int64_t k = 0; k < K; k++)
        for (int p = 0; p < CONV_PX; p++) {
            float v = patch[p * K + k];
            for (int c = 0; c < CONV_CH; c++) acc[p][c] += v * w[k * ldw + c];
        }
}
#endif
static lp_status k_conv(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0), *w = lp_run_in(r, n, 1), *b = lp_run_in(r, n, 2);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!f32_all(x, w) || (b && b->dtype != LP_DT_F32) || y->dtype != LP_DT_F32)
        return lp_run_fail(r, LP_ERR_UNSUPPORTED, "float32 only");
    if (x->rank != 4 || w->rank != 4 || y->rank != 4) return lp_run_fail(r, LP_ERR_INTERNAL, "CONV_2D needs 4-D tensors");
    int64_t N = x->dims[0], IH = x->dims[1], IW = x->dims[2], C = x->dims[3];
    int64_t O = w->dims[0], KH = w->dims[1], KW = w->dims[2], CF = w->dims[3];
    int64_t OH = y->dims[1], OW = y->dims[2];
    if (CF <= 0 || C % CF || y->dims[0] != N || y->dims[3] != O || (O % (C / CF)) || (b && b->numel != O))
        return lp_run_fail(r, LP_ERR_INTERNAL, "CONV_2D shapes do not agree");
    int64_t G = C / CF, OG = O / G, K = KH * KW * CF;
    int64_t OGp = (OG + CONV_CH - 1) / CONV_CH * CONV_CH, OWp = (OW + CONV_PX - 1) / CONV_PX * CONV_PX;
    int sh = stride_of(n->p.stride_h), sw = stride_of(n->p.stride_w);
    int dh = stride_of(n->p.dil_h), dw = stride_of(n->p.dil_w);
    int64_t ph = pad_before(n->p.padding, IH, OH, KH, sh, dh), pw = pad_before(n->p.padding, IW, OW, KW, sw, dw);
    /* filter as [g][k][o padded to 8], patches as [ox padded to 4][k] */
    float *wt = calloc((size_t)(G * K * OGp) + 1, sizeof(float));
    float *patch = calloc((size_t)(OWp * K) + 1, sizeof(float));
    if (!wt || !patch) {
        free(wt);
        free(patch);
        return lp_run_fail(r, LP_ERR_NOMEM, "out of memory");
    }
    const float *W = w->data, *X = x->data, *B = b ? b->data : NULL;
    for (int64_t g = 0; g < G; g++)
        for (int64_t o = 0; o < OG; o++)
            for (int64_t k = 0; k < K; k++) wt[(g * K + k) * OGp + o] = W[(g * OG + o) * K + k];
    float *Y = y->data;
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t g = 0; g < G; g++) {
                for (int64_t ox = 0; ox < OW; ox++) {
                    float *pp = patch + ox * K;
                    for (int64_t ky = 0; ky < KH; ky++) {
                        int64_t iy = oy * sh - ph + ky * dh;
                        for (int64_t kx = 0; kx < KW; kx++) {
                            int64_t ix = ox * sw - pw + kx * dw;
                            float *dst = pp + (ky * KW + kx) * CF;
                            if (iy < 0 || iy >= IH || ix < 0 || ix >= IW) memset(dst, 0, sizeof(float) * (size_t)CF);
                            else memcpy(dst, X + ((nn * IH + iy) * IW + ix) * C + g * CF, sizeof(float) * (size_t)CF);
                        }
                    }
                }
                for (int64_t ox0 = 0; ox0 < OW; ox0 += CONV_PX)
                    for (int64_t c0 = 0; c0 < OGp; c0 += CONV_CH) {
                        float acc[CONV_PX][CONV_CH];
                        conv_block(patch + ox0 * K, wt + g * K * OGp + c0, K, OGp, acc);
                        for (int p = 0; p < CONV_PX && ox0 + p < OW; p++) {
                            float *py = Y + ((nn * OH + oy) * OW + ox0 + p) * O + g * OG;
                            for (int c = 0; c < CONV_CH && c0 + c < OG; c++)
                                py[c0 + c] = act_f(n->p.act, acc[p][c] + (B ? B[g * OG + c0 + c] : 0.0f));
                        }
                    }
            }
    free(wt);
    free(patch);
    return LP_OK;
}

static lp_status k_depthwise(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0), *w = lp_run_in(r, n, 1), *b = lp_run_in(r, n, 2);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!f32_all(x, w) || (b && b->dtype != LP_DT_F32) || y->dtype != LP_DT_F32)
        return lp_run_fail(r, LP_ERR_UNSUPPORTED, "float32 only");
    if (x->rank != 4 || w->rank != 4 || y->rank != 4) return lp_run_fail(r, LP_ERR_INTERNAL, "needs 4-D tensors");
    int64_t N = x->dims[0], IH = x->dims[1], IW = x->dims[2], C = x->dims[3];
    int64_t KH = w->dims[1], KW = w->dims[2], O = w->dims[3];
    int64_t OH = y->dims[1], OW = y->dims[2];
    if (C <= 0 || O % C || y->dims[3] != O || y->dims[0] != N || (b && b->numel != O))
        return lp_run_fail(r, LP_ERR_INTERNAL, "DEPTHWISE_CONV_2D shapes do not agree");
    int64_t M = O / C;
    int sh = stride_of(n->p.stride_h), sw = stride_of(n->p.stride_w);
    int dh = stride_of(n->p.dil_h), dw = stride_of(n->p.dil_w);
    int64_t ph = pad_before(n->p.padding, IH, OH, KH, sh, dh), pw = pad_before(n->p.padding, IW, OW, KW, sw, dw);
    const float *W = w->data, *X = x->data, *B = b ? b->data : NULL;
    float *Y = y->data;
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                float *py = Y + ((nn * OH + oy) * OW + ox) * O;
                for (int64_t o = 0; o < O; o++) py[o] = B ? B[o] : 0.0f;
                for (int64_t ky = 0; ky < KH; ky++) {
                    int64_t iy = oy * sh - ph + ky * dh;
                    if (iy < 0 || iy >= IH) continue;
                    for (int64_t kx = 0; kx < KW; kx++) {
                        int64_t ix = ox * sw - pw + kx * dw;
                        if (ix < 0 || ix >= IW) continue;
                        const float *px = X + ((nn * IH + iy) * IW + ix) * C;
                        const float *pw_ = W + (ky * KW + kx) * O;
                        if (M == 1)
                            for (int64_t o = 0; o < O; o++) py[o] += px[o] * pw_[o];
                        else
                            for (int64_t o = 0; o < O; o++) py[o] += px[o / M] * pw_[o];
                    }
                }
                for (int64_t o = 0; o < O; o++) py[o] = act_f(n->p.act, py[o]);
            }
    return LP_OK;
}

/* TRANSPOSE_CONV: (output_shape, weights [O,KH,KW,I], input, bias) */
static lp_status k_transpose_conv(lp_run *r, const lp_node *n) {
    lp_value *w = lp_run_in(r, n, 1), *x = lp_run_in(r, n, 2), *b = lp_run_in(r, n, 3);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!f32_all(x, w) || (b && b->dtype != LP_DT_F32) || y->dtype != LP_DT_F32)
        return lp_run_fail(r, LP_ERR_UNSUPPORTED, "float32 only");
    if (x->rank != 4 || w->rank != 4 || y->rank != 4) return lp_run_fail(r, LP_ERR_INTERNAL, "needs 4-D tensors");
    int64_t N = x->dims[0], IH = x->dims[1], IW = x->dims[2], C = x->dims[3];
    int64_t O = w->dims[0], KH = w->dims[1], KW = w->dims[2];
    int64_t OH = y->dims[1], OW = y->dims[2];
    if (w->dims[3] != C || y->dims[3] != O || y->dims[0] != N || (b && b->numel != O))
        return lp_run_fail(r, LP_ERR_INTERNAL, "TRANSPOSE_CONV shapes do not agree");
    int sh = stride_of(n->p.stride_h), sw = stride_of(n->p.stride_w);
    int64_t ph = 0, pw = 0;
    if (n->p.padding == 0) {
        int64_t th = (IH - 1) * sh + KH - OH, tw = (IW - 1) * sw + KW - OW;
        ph = th > 0 ? th / 2 : 0;
        pw = tw > 0 ? tw / 2 : 0;
    }
    const float *W = w->data, *X = x->data, *B = b ? b->data : NULL;
    float *Y = y->data;
    memset(Y, 0, sizeof(float) * (size_t)y->numel);
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t iy = 0; iy < IH; iy++)
            for (int64_t ix = 0; ix < IW; ix++) {
                const float *px = X + ((nn * IH + iy) * IW + ix) * C;
                for (int64_t ky = 0; ky < KH; ky++) {
                    int64_t oy = iy * sh - ph + ky;
                    if (oy < 0 || oy >= OH) continue;
                    for (int64_t kx = 0; kx < KW; kx++) {
                        int64_t ox = ix * sw - pw + kx;
                        if (ox < 0 || ox >= OW) continue;
                        float *py = Y + ((nn * OH + oy) * OW + ox) * O;
                        for (int64_t o = 0; o < O; o++) {
                            const float *pw_ = W + ((o * KH + ky) * KW + kx) * C;
                            float s = 0;
                            for (int64_t c = 0; c < C; c++) s += px[c] * pw_[c];
                            py[o] += s;
                        }
                    }
                }
            }
    for (int64_t i = 0; i < y->numel; i++) Y[i] = act_f(n->p.act, Y[i] + (B ? B[i % O] : 0.0f));
    return LP_OK;
}

static float dot(const float *a, const float *b, int64_t k) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < k; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static lp_status k_fc(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0), *w = lp_run_in(r, n, 1), *b = lp_run_in(r, n, 2);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!f32_all(x, w) || (b && b->dtype != LP_DT_F32) || y->dtype != LP_DT_F32)
        return lp_run_fail(r, LP_ERR_UNSUPPORTED, "float32 only");
    if (w->rank != 2) return lp_run_fail(r, LP_ERR_INTERNAL, "weights must be 2-D");
    int64_t U = w->dims[0], K = w->dims[1];
    if (K <= 0 || x->numel % K || (b && b->numel != U)) return lp_run_fail(r, LP_ERR_INTERNAL, "shapes do not agree");
    int64_t batch = x->numel / K;
    if (y->numel != batch * U) return lp_run_fail(r, LP_ERR_INTERNAL, "output size does not agree");
    const float *X = x->data, *W = w->data, *B = b ? b->data : NULL;
    float *Y = y->data;
    for (int64_t i = 0; i < batch; i++)
        for (int64_t u = 0; u < U; u++) Y[i * U + u] = act_f(n->p.act, dot(X + i * K, W + u * K, K) + (B ? B[u] : 0.0f));
    return LP_OK;
}

static lp_status k_bmm(lp_run *r, const lp_node *n) {
    lp_value *a = lp_run_in(r, n, 0), *b = lp_run_in(r, n, 1);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!f32_all(a, b) || y->dtype != LP_DT_F32) return lp_run_fail(r, LP_ERR_UNSUPPORTED, "float32 only");
    if (a->rank < 2 || b->rank < 2 || y->rank < 2) return lp_run_fail(r, LP_ERR_INTERNAL, "needs rank >= 2");
    int64_t M = n->p.adj_x ? a->dims[a->rank - 1] : a->dims[a->rank - 2];
    int64_t K = n->p.adj_x ? a->dims[a->rank - 2] : a->dims[a->rank - 1];
    int64_t K2 = n->p.adj_y ? b->dims[b->rank - 1] : b->dims[b->rank - 2];
    int64_t N = n->p.adj_y ? b->dims[b->rank - 2] : b->dims[b->rank - 1];
    if (K != K2 || y->dims[y->rank - 2] != M || y->dims[y->rank - 1] != N)
        return lp_run_fail(r, LP_ERR_INTERNAL, "BATCH_MATMUL shapes do not agree");
    int br = y->rank - 2;
    int64_t nb = 1;
    for (int d = 0; d < br; d++) nb *= y->dims[d];
    float *col = malloc(sizeof(float) * (size_t)(K ? K : 1));
    if (!col) return lp_run_fail(r, LP_ERR_NOMEM, "out of memory");
    const float *A = a->data, *B = b->data;
    float *Y = y->data;
    for (int64_t bi = 0; bi < nb; bi++) {
        /* broadcast batch index into a and b */
        int64_t rem = bi, oa = 0, ob = 0, sa = 1, sb = 1;
        for (int d = br - 1; d >= 0; d--) {
            int64_t idx = rem % y->dims[d];
            rem /= y->dims[d];
            int da = d - (br - (a->rank - 2)), db = d - (br - (b->rank - 2));
            if (da >= 0) {
                if (a->dims[da] != 1) oa += idx * sa;
                sa *= a->dims[da];
            }
            if (db >= 0) {
                if (b->dims[db] != 1) ob += idx * sb;
                sb *= b->dims[db];
            }
        }
        const float *pa = A + oa * M * K, *pb = B + ob * K * N;
        float *py = Y + bi * M * N;
        for (int64_t j = 0; j < N; j++) {
            for (int64_t k = 0; k < K; k++) col[k] = n->p.adj_y ? pb[j * K + k] : pb[k * N + j];
            for (int64_t i = 0; i < M; i++) {
                float s = 0;
                if (n->p.adj_x)
                    for (int64_t k = 0; k < K; k++) s += pa[k * M + i] * col[k];
                else
                    s = dot(pa + i * K, col, K);
                py[i * N + j] = s;
            }
        }
    }
    free(col);
    return LP_OK;
}

static lp_status k_pool(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!f32_all(x, NULL) || y->dtype != LP_DT_F32) return lp_run_fail(r, LP_ERR_UNSUPPORTED, "float32 only");
    if (x->rank != 4 || y->rank != 4) return lp_run_fail(r, LP_ERR_INTERNAL, "needs 4-D tensors");
    int64_t N = x->dims[0], IH = x->dims[1], IW = x->dims[2], C = x->dims[3], OH = y->dims[1], OW = y->dims[2];
    if (y->dims[0] != N || y->dims[3] != C) return lp_run_fail(r, LP_ERR_INTERNAL, "shapes do not agree");
    int sh = stride_of(n->p.stride_h), sw = stride_of(n->p.stride_w);
    int64_t KH = n->p.filter_h, KW = n->p.filter_w;
    int64_t ph = pad_before(n->p.padding, IH, OH, KH, sh, 1), pw = pad_before(n->p.padding, IW, OW, KW, sw, 1);
    const float *X = x->data;
    float *Y = y->data;
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++)
                for (int64_t c = 0; c < C; c++) {
                    float acc = n->op == LP_TFL_MAX_POOL_2D ? -INFINITY : 0.0f;
                    int64_t cnt = 0;
                    for (int64_t ky = 0; ky < KH; ky++) {
                        int64_t iy = oy * sh - ph + ky;
                        if (iy < 0 || iy >= IH) continue;
                        for (int64_t kx = 0; kx < KW; kx++) {
                            int64_t ix = ox * sw - pw + kx;
                            if (ix < 0 || ix >= IW) continue;
                            float v = X[((nn * IH + iy) * IW + ix) * C + c];
                            if (n->op == LP_TFL_MAX_POOL_2D) acc = v > acc ? v : acc;
                            else if (n->op == LP_TFL_L2_POOL_2D) acc += v * v;
                            else acc += v;
                            cnt++;
                        }
                    }
                    if (n->op == LP_TFL_AVERAGE_POOL_2D) acc = cnt ? acc / (float)cnt : 0.0f;
                    if (n->op == LP_TFL_L2_POOL_2D) acc = cnt ? sqrtf(acc / (float)cnt) : 0.0f;
                    Y[((nn * OH + oy) * OW + ox) * C + c] = act_f(n->p.act, acc);
                }
    return LP_OK;
}

/* ---- reductions over the axes given by input 1 ---- */
static lp_status k_reduce(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0), *ax = lp_run_in(r, n, 1);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!x) return lp_run_fail(r, LP_ERR_INTERNAL, "missing input");
    int64_t axes[LP_MAX_RANK * 2];
    int na = lp_run_ints(r, ax, axes, LP_MAX_RANK * 2, "the axes");
    if (na < 0) return r->err->code;
    int red[LP_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
        if (a < 0 || a >= x->rank) return lp_run_fail(r, LP_ERR_INVALID, "axis %lld out of range", (long long)axes[i]);
        red[a] = 1;
    }
    /* output strides in the input's index space (0 on reduced axes) */
    int64_t ostr[LP_MAX_RANK], s = 1, kept = 1, cnt = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        ostr[d] = red[d] ? 0 : s;
        if (!red[d]) s *= x->dims[d];
        else cnt *= x->dims[d];
    }
    kept = s;
    if (kept != y->numel) return lp_run_fail(r, LP_ERR_INTERNAL, "output size does not agree");
    double *acc = malloc(sizeof(double) * (size_t)(kept ? kept : 1));
    if (!acc) return lp_run_fail(r, LP_ERR_NOMEM, "out of memory");
    double init = 0;
    switch (n->op) {
    case LP_TFL_REDUCE_MAX: init = -INFINITY; break;
    case LP_TFL_REDUCE_MIN: init = INFINITY; break;
    case LP_TFL_REDUCE_PROD: case LP_TFL_REDUCE_ALL: init = 1; break;
    default: break;
    }
    if (!lp_dtype_is_float(x->dtype) && (n->op == LP_TFL_REDUCE_MAX || n->op == LP_TFL_REDUCE_MIN))
        init = n->op == LP_TFL_REDUCE_MAX ? -9.3e18 : 9.3e18;
    for (int64_t i = 0; i < kept; i++) acc[i] = init;
    int64_t idx[LP_MAX_RANK] = {0}, o = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        double v = x->dtype == LP_DT_F32 ? (double)((const float *)x->data)[i] : lp_get_f64(x->dtype, x->data, i);
        switch (n->op) {
        case LP_TFL_REDUCE_MAX: if (v > acc[o] || v != v) acc[o] = v; break;
        case LP_TFL_REDUCE_MIN: if (v < acc[o] || v != v) acc[o] = v; break;
        case LP_TFL_REDUCE_PROD: acc[o] *= v; break;
        case LP_TFL_REDUCE_ALL: acc[o] = acc[o] != 0 && v != 0; break;
        default: acc[o] += v; break;
        }
        for (int d = x->rank - 1; d >= 0; d--) {
            o += ostr[d];
            if (++idx[d] < x->dims[d]) break;
            o -= ostr[d] * x->dims[d];
            idx[d] = 0;
        }
    }
    for (int64_t i = 0; i < kept; i++) {
        double v = acc[i];
        if (n->op == LP_TFL_MEAN) v = cnt ? v / (double)cnt : NAN;
        if (lp_dtype_is_float(y->dtype)) lp_set_f64(y->dtype, y->data, i, v);
        else if (y->dtype == LP_DT_BOOL) ((uint8_t *)y->data)[i] = v != 0;
        else lp_set_i64(y->dtype, y->data, i, n->op == LP_TFL_MEAN ? (int64_t)v : (int64_t)llround(v));
    }
    free(acc);
    return LP_OK;
}

static lp_status k_softmax(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!f32_all(x, NULL) || y->dtype != LP_DT_F32 || x->numel != y->numel || x->rank < 1)
        return lp_run_fail(r, LP_ERR_UNSUPPORTED, "float32 only");
    int64_t D = x->dims[x->rank - 1];
    if (D <= 0) return LP_OK;
    int64_t rows = x->numel / D;
    const float *X = x->data;
    float *Y = y->data;
    float beta = n->op == LP_TFL_SOFTMAX ? n->p.beta : 1.0f;
    for (int64_t i = 0; i < rows; i++) {
        const float *px = X + i * D;
        float *py = Y + i * D;
        float m = px[0];
        for (int64_t j = 1; j < D; j++) m = px[j] > m ? px[j] : m;
        if (n->op == LP_TFL_L2_NORMALIZATION) {
            float ss = 0;
            for (int64_t j = 0; j < D; j++) ss += px[j] * px[j];
            float nrm = sqrtf(ss);
            if (nrm < 1e-6f) nrm = 1e-6f;
            for (int64_t j = 0; j < D; j++) py[j] = px[j] / nrm;
            continue;
        }
        float sum = 0;
        for (int64_t j = 0; j < D; j++) {
            float e = expf((px[j] - m) * beta);
            sum += e;
            if (n->op == LP_TFL_SOFTMAX) py[j] = e;
        }
        if (n->op == LP_TFL_SOFTMAX)
            for (int64_t j = 0; j < D; j++) py[j] /= sum;
        else {
            float ls = logf(sum);
            for (int64_t j = 0; j < D; j++) py[j] = (px[j] - m) - ls;
        }
    }
    return LP_OK;
}

/* LiteRT's resize coordinates (reference_ops ResizeBilinear / ResizeNearestNeighbor) */
static float resize_scale(int64_t in, int64_t out, int align) {
    return (align && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
}

static lp_status k_resize(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!x || x->rank != 4 || y->rank != 4 || y->dtype != x->dtype) return lp_run_fail(r, LP_ERR_INTERNAL, "needs 4-D");
    if (x->dtype != LP_DT_F32 && n->op == LP_TFL_RESIZE_BILINEAR) return lp_run_fail(r, LP_ERR_UNSUPPORTED, "float32 only");
    int64_t N = x->dims[0], IH = x->dims[1], IW = x->dims[2], C = x->dims[3], OH = y->dims[1], OW = y->dims[2];
    if (y->dims[0] != N || y->dims[3] != C || IH <= 0 || IW <= 0) return lp_run_fail(r, LP_ERR_INTERNAL, "shapes do not agree");
    float hs = resize_scale(IH, OH, n->p.align_corners), ws = resize_scale(IW, OW, n->p.align_corners);
    size_t es = lp_dtype_size(x->dtype);
    const uint8_t *X = x->data;
    uint8_t *Y = y->data;
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                if (n->op == LP_TFL_RESIZE_NEAREST_NEIGHBOR) {
                    float off = n->p.half_pixel ? 0.5f : 0.0f;
                    int64_t iy = n->p.align_corners ? (int64_t)roundf(((float)oy + off) * hs) : (int64_t)floorf(((float)oy + off) * hs);
                    int64_t ix = n->p.align_corners ? (int64_t)roundf(((float)ox + off) * ws) : (int64_t)floorf(((float)ox + off) * ws);
                    iy = iy < IH - 1 ? iy : IH - 1;
                    ix = ix < IW - 1 ? ix : IW - 1;
                    if (iy < 0) iy = 0;
                    if (ix < 0) ix = 0;
                    memcpy(Y + (size_t)(((nn * OH + oy) * OW + ox) * C) * es, X + (size_t)(((nn * IH + iy) * IW + ix) * C) * es,
                           (size_t)C * es);
                    continue;
                }
                float fy = n->p.half_pixel ? ((float)oy + 0.5f) * hs - 0.5f : (float)oy * hs;
                float fx = n->p.half_pixel ? ((float)ox + 0.5f) * ws - 0.5f : (float)ox * ws;
                int64_t y0 = (int64_t)floorf(fy), x0 = (int64_t)floorf(fx);
                int64_t y1 = (int64_t)ceilf(fy), x1 = (int64_t)ceilf(fx);
                if (y0 < 0) y0 = 0;
                if (x0 < 0) x0 = 0;
                if (y1 > IH - 1) y1 = IH - 1;
                if (x1 > IW - 1) x1 = IW - 1;
                if (y0 > IH - 1) y0 = IH - 1;
                if (x0 > IW - 1) x0 = IW - 1;
                if (y1 < 0) y1 = 0;
                if (x1 < 0) x1 = 0;
                float dy = fy - (float)y0, dx = fx - (float)x0;
                const float *F = lp_run_f32(x); /* data is 16-byte aligned (run.h) */
                float *o = (float *)y->data + ((nn * OH + oy) * OW + ox) * C;
                const float *a = F + ((nn * IH + y0) * IW + x0) * C, *b = F + ((nn * IH + y1) * IW + x0) * C;
                const float *c2 = F + ((nn * IH + y0) * IW + x1) * C, *d = F + ((nn * IH + y1) * IW + x1) * C;
                for (int64_t c = 0; c < C; c++)
                    o[c] = a[c] * (1 - dy) * (1 - dx) + b[c] * dy * (1 - dx) + c2[c] * (1 - dy) * dx + d[c] * dy * dx;
            }
    return LP_OK;
}

static lp_status k_argmax(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0), *ax = lp_run_in(r, n, 1);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    int64_t a;
    if (!x || lp_run_ints(r, ax, &a, 1, "the axis") != 1) return r->err->code ? r->err->code : LP_ERR_INTERNAL;
    if (a < 0) a += x->rank;
    if (a < 0 || a >= x->rank) return lp_run_fail(r, LP_ERR_INVALID, "axis out of range");
    int64_t outer = 1, inner = 1, D = x->dims[a];
    for (int d = 0; d < a; d++) outer *= x->dims[d];
    for (int d = (int)a + 1; d < x->rank; d++) inner *= x->dims[d];
    if (y->numel != outer * inner) return lp_run_fail(r, LP_ERR_INTERNAL, "output size does not agree");
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = 0;
            double bv = 0;
            for (int64_t k = 0; k < D; k++) {
                double v = lp_get_f64(x->dtype, x->data, (o * D + k) * inner + i);
                if (k == 0 || (n->op == LP_TFL_ARG_MAX ? v > bv : v < bv)) {
                    bv = v;
                    best = k;
                }
            }
            lp_set_i64(y->dtype, y->data, o * inner + i, best);
        }
    return LP_OK;
}

lp_status lp_run_k_nn(lp_run *r, const lp_node *n) {
    switch (n->op) {
    case LP_TFL_CONV_2D: return k_conv(r, n);
    case LP_TFL_DEPTHWISE_CONV_2D: return k_depthwise(r, n);
    case LP_TFL_TRANSPOSE_CONV: return k_transpose_conv(r, n);
    case LP_TFL_FULLY_CONNECTED: return k_fc(r, n);
    case LP_TFL_BATCH_MATMUL: return k_bmm(r, n);
    case LP_TFL_AVERAGE_POOL_2D: case LP_TFL_MAX_POOL_2D: case LP_TFL_L2_POOL_2D: return k_pool(r, n);
    case LP_TFL_SOFTMAX: case LP_TFL_LOG_SOFTMAX: case LP_TFL_L2_NORMALIZATION: return k_softmax(r, n);
    case LP_TFL_RESIZE_BILINEAR: case LP_TFL_RESIZE_NEAREST_NEIGHBOR: return k_resize(r, n);
    case LP_TFL_ARG_MAX: case LP_TFL_ARG_MIN: return k_argmax(r, n);
    default: return k_reduce(r, n);
    }
}
