/* Signal processing: BlackmanWindow, HammingWindow, HannWindow, MelWeightMatrix (17), DFT (17, 20),
 * STFT (17).
 *
 * Windows and the mel matrix are constants whenever their inputs are (eval folds them); a window
 * of run-time size is computed with RANGE/COS/SIN. A DFT is a multiplication by a constant
 * matrix: the transformed axis is moved next to the complex axis, [.., N, c] is flattened to
 * [.., N*c] (c = 1 real, 2 complex: re, im interleaved) and FULLY_CONNECTED with the weights
 * [2K, N*c] (or [K, N*2] for IRFFT) gives [.., K, 2]. dft_length L truncates (zero weights) or
 * zero-pads (no weights needed) the signal, so no slicing or padding ops are emitted. STFT frames
 * the signal with one constant-index GATHER, applies the window and uses the same matrix. */
#include <math.h>
#include <string.h>

#include "compose.h"

#define T(id) lp_T(c, (id))

#define LP_PI 3.14159265358979323846
#define DFT_MAX_WEIGHTS ((int64_t)1 << 24) /* 64 MB of float32 weights */

/* ---------------- windows ---------------- */

static double window_value(lp_op op, int64_t i, double n1) {
    double x = (double)i;
    switch (op) {
    case LP_OP_HannWindow: {
        double s = sin(x * LP_PI / n1);
        return s * s;
    }
    case LP_OP_HammingWindow: {
        double a = 25.0 / 46.0;
        return a - cos(x * LP_PI * 2 / n1) * (1 - a);
    }
    default: /* BlackmanWindow */
        return cos((x * (LP_PI * 2)) / n1) * -0.5 + cos((x * (LP_PI * 4)) / n1) * 0.08 + 0.42;
    }
}

static lp_dtype out_datatype(lp_ctx *c, const lp_node *n) {
    int64_t dt = lp_attr_i(c, n, "output_datatype", LP_DT_F32);
    if (dt <= LP_DT_UNDEF || dt >= LP_DT_COUNT || lp_dtype_size((lp_dtype)dt) == 0 || dt == LP_DT_BOOL) {
        lp_fail(c, LP_ERR_INVALID, "attribute 'output_datatype' is not a numeric type");
        return LP_DT_UNDEF;
    }
    return (lp_dtype)dt;
}

static lp_status window_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *s = T(n->in[0]);
    if (!lp_dtype_is_int(s->dtype)) return lp_fail(c, LP_ERR_INVALID, "size must be an integer scalar");
    lp_dtype dt = out_datatype(c, n);
    if (dt == LP_DT_UNDEF) return c->err->code;
    int64_t v;
    int known = lp_known_ints(c, n, 0, &v, 1) == 1;
    if (known && (v < 0 || v > LP_MAX_ELEMENTS)) return lp_fail(c, LP_ERR_INVALID, "window size %lld", (long long)v);
    int64_t len = known ? v : lp_graph_new_sym(c->g, NULL);
    lp_set_out(c, n, 0, dt, 1, &len);
    return LP_OK;
}

static lp_status window_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *y = T(n->out[0]);
    int64_t size = y->dims[0];
    double n1 = (double)(lp_attr_i(c, n, "periodic", 1) ? size : size - 1);
    void *p = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < size; i++) {
        double v = window_value(n->op, i, n1);
        if (lp_dtype_is_int(y->dtype)) lp_set_i64(y->dtype, p, i, (int64_t)v); /* numpy astype truncates */
        else lp_set_f64(y->dtype, p, i, v);
    }
    return LP_OK;
}

/* a window of run-time size: n = RANGE(0, size, 1) as float, then the formula */
static lp_status window_lower(lp_ctx *c, const lp_node *n) {
    const lp_dtype f = LP_DT_F32;
    int size = lp_cx_cast(c, n->in[0], LP_DT_I32);
    int64_t len = T(n->out[0])->dims[0];
    int r = lp_emit_tensor(c, LP_DT_I32, 1, &len, "range");
    int in[3] = {lp_cx_scalar(c, LP_DT_I32, 0), size, lp_cx_scalar(c, LP_DT_I32, 1)};
    if (size < 0 || r < 0 || in[0] < 0 || in[2] < 0 || lp_emit_op(c, LP_TFL_RANGE, in, 3, &r, 1) < 0)
        return c->err->code;
    int x = lp_cx_cast(c, r, f);
    int n1 = lp_cx_cast(c, size, f);
    if (!lp_attr_i(c, n, "periodic", 1)) n1 = lp_cx_bin(c, LP_TFL_SUB, n1, lp_cx_scalar(c, f, 1.0));
    int y;
    if (n->op == LP_OP_HannWindow) {
        int s = lp_cx_un(c, LP_TFL_SIN, lp_cx_bin(c, LP_TFL_DIV, lp_cx_bin(c, LP_TFL_MUL, x, lp_cx_scalar(c, f, LP_PI)), n1));
        y = lp_cx_bin(c, LP_TFL_MUL, s, s);
    } else {
        int w = lp_cx_bin(c, LP_TFL_DIV, lp_cx_bin(c, LP_TFL_MUL, x, lp_cx_scalar(c, f, 2 * LP_PI)), n1);
        if (n->op == LP_OP_HammingWindow) {
            double a = 25.0 / 46.0;
            y = lp_cx_bin(c, LP_TFL_SUB, lp_cx_scalar(c, f, a),
                          lp_cx_bin(c, LP_TFL_MUL, lp_cx_un(c, LP_TFL_COS, w), lp_cx_scalar(c, f, 1 - a)));
        } else {
            int w2 = lp_cx_bin(c, LP_TFL_DIV, lp_cx_bin(c, LP_TFL_MUL, x, lp_cx_scalar(c, f, 4 * LP_PI)), n1);
            y = lp_cx_bin(c, LP_TFL_ADD, lp_cx_bin(c, LP_TFL_MUL, lp_cx_un(c, LP_TFL_COS, w), lp_cx_scalar(c, f, -0.5)),
                          lp_cx_bin(c, LP_TFL_MUL, lp_cx_un(c, LP_TFL_COS, w2), lp_cx_scalar(c, f, 0.08)));
            y = lp_cx_bin(c, LP_TFL_ADD, y, lp_cx_scalar(c, f, 0.42));
        }
    }
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_BlackmanWindow = {window_infer, window_eval, window_lower};
const lp_op_impl lp_impl_HammingWindow = {window_infer, window_eval, window_lower};
const lp_op_impl lp_impl_HannWindow = {window_infer, window_eval, window_lower};

/* ---------------- MelWeightMatrix ---------------- */

typedef struct mel_args {
    int64_t bins, dft, rate;
    double lo, hi;
} mel_args;

static int mel_known(lp_ctx *c, const lp_node *n, mel_args *m) {
    int64_t v[3];
    for (int i = 0; i < 3; i++)
        if (lp_known_ints(c, n, i, &v[i], 1) != 1) return 0;
    if (!lp_const_scalar(c, n->in[3], &m->lo) || !lp_const_scalar(c, n->in[4], &m->hi)) return 0;
    m->bins = v[0];
    m->dft = v[1];
    m->rate = v[2];
    return 1;
}

static lp_status mel_infer(lp_ctx *c, const lp_node *n) {
    lp_dtype dt = out_datatype(c, n);
    if (dt == LP_DT_UNDEF) return c->err->code;
    mel_args m;
    int64_t d[2];
    if (mel_known(c, n, &m)) {
        if (m.bins < 0 || m.dft < 0 || m.rate <= 0 || m.bins > (1 << 20) || m.dft > (1 << 24))
            return lp_fail(c, LP_ERR_INVALID, "num_mel_bins %lld, dft_length %lld, sample_rate %lld", (long long)m.bins,
                           (long long)m.dft, (long long)m.rate);
        d[0] = m.dft / 2 + 1;
        d[1] = m.bins;
    } else {
        int64_t v;
        d[0] = lp_known_ints(c, n, 1, &v, 1) == 1 ? v / 2 + 1 : lp_graph_new_sym(c->g, NULL);
        d[1] = lp_known_ints(c, n, 0, &v, 1) == 1 ? v : lp_graph_new_sym(c->g, NULL);
    }
    lp_set_out(c, n, 0, dt, 2, d);
    return LP_OK;
}

/* the reference's triangles: bin edges are whole DFT bins, later writes win */
static lp_status mel_eval(lp_ctx *c, const lp_node *n) {
    mel_args m;
    if (!mel_known(c, n, &m)) return lp_fail(c, LP_ERR_INTERNAL, "MelWeightMatrix inputs are not constants");
    lp_tensor *y = T(n->out[0]);
    int64_t rows = m.dft / 2 + 1, cols = m.bins;
    double *out = lp_arena_alloc(&c->g->arena, sizeof(double) * (size_t)(rows * cols > 0 ? rows * cols : 1));
    int64_t *fb = lp_arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)(cols + 2));
    if (!out || !fb) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    memset(out, 0, sizeof(double) * (size_t)(rows * cols));
    double lo_mel = 2595 * log1p(m.lo / 700) / log(10), hi_mel = 2595 * log1p(m.hi / 700) / log(10);
    double step = (hi_mel - lo_mel) / (double)(cols + 2);
    for (int64_t i = 0; i < cols + 2; i++) {
        double hz = 700 * expm1(((double)i * step + lo_mel) / 2595 * log(10));
        fb[i] = (int64_t)floor(((double)(m.dft + 1) * hz) / (double)m.rate);
    }
    for (int64_t i = 0; i < cols; i++) {
        int64_t l = fb[i], ce = fb[i + 1], h = fb[i + 2];
        if (l < 0 || h > rows || ce >= rows || ce < 0)
            return lp_fail(c, LP_ERR_INVALID, "mel band %lld falls outside the %lld spectrogram bins", (long long)i,
                           (long long)rows);
        if (ce == l) out[ce * cols + i] = 1;
        else
            for (int64_t j = l; j <= ce; j++) out[j * cols + i] = (double)(j - l) / (double)(ce - l);
        for (int64_t j = ce; j < h; j++) out[j * cols + i] = (double)(h - j) / (double)(h - ce);
    }
    void *p = lp_out_data(c, n, 0);
    for (int64_t k = 0; k < rows * cols; k++) {
        if (lp_dtype_is_int(y->dtype)) lp_set_i64(y->dtype, p, k, (int64_t)out[k]);
        else lp_set_f64(y->dtype, p, k, out[k]);
    }
    return LP_OK;
}

/* Run-time inputs (the usual case is a constant, folded by eval): the same formulas in float32
 * over j = 0..dft/2 (rows) and i = 0..bins-1 (columns), with band edges l, c, h = the floored
 * bins i, i+1, i+2: rising (j - l) / (c - l) on [l, c] (1 at c when c == l), then falling
 * (h - j) / (h - c) on [c, h), which the reference writes last. */
static lp_status mel_lower(lp_ctx *c, const lp_node *n) {
    const lp_dtype f = LP_DT_F32, i32 = LP_DT_I32;
    const lp_tensor Yv = *T(n->out[0]), *Y = &Yv; /* a copy: emitting may move the tensor array */
    int nm = lp_cx_reshape(c, lp_cx_cast(c, n->in[0], i32), 0, NULL);
    int dl = lp_cx_reshape(c, lp_cx_cast(c, n->in[1], i32), 0, NULL);
    int rate = lp_cx_cast(c, lp_cx_reshape(c, n->in[2], 0, NULL), f);
    int lo = lp_cx_reshape(c, lp_cx_cast(c, n->in[3], f), 0, NULL), hi = lp_cx_reshape(c, lp_cx_cast(c, n->in[4], f), 0, NULL);
    const double ln10 = log(10.0);
#define S(v) lp_cx_scalar(c, f, (v))
#define B(op, a, b) lp_cx_bin(c, LP_TFL_##op, a, b)
    /* mel(f) = 2595 * log(1 + f / 700) / ln 10 */
    int lo_mel = B(DIV, B(MUL, S(2595.0), lp_cx_un(c, LP_TFL_LOG, B(ADD, S(1.0), B(DIV, lo, S(700.0))))), S(ln10));
    int hi_mel = B(DIV, B(MUL, S(2595.0), lp_cx_un(c, LP_TFL_LOG, B(ADD, S(1.0), B(DIV, hi, S(700.0))))), S(ln10));
    int np2 = lp_cx_bin(c, LP_TFL_ADD, nm, lp_cx_scalar(c, i32, 2));
    int step = B(DIV, B(SUB, hi_mel, lo_mel), lp_cx_cast(c, np2, f));
    int64_t n2 = lp_graph_new_sym(c->g, NULL);
    int mel = B(ADD, B(MUL, lp_cx_cast(c, lp_cx_iota(c, np2, n2), f), step), lo_mel);
    int hz = B(MUL, S(700.0), B(SUB, lp_cx_un(c, LP_TFL_EXP, B(MUL, B(DIV, mel, S(2595.0)), S(ln10))), S(1.0)));
    int d1 = lp_cx_cast(c, lp_cx_bin(c, LP_TFL_ADD, dl, lp_cx_scalar(c, i32, 1)), f);
    int bins = lp_cx_un(c, LP_TFL_FLOOR, B(DIV, B(MUL, d1, hz), rate));
    /* l, c, h as [1, M] rows; j as a [J, 1] column */
    int im = lp_cx_iota(c, nm, Y->dims[1]);
    int64_t row[2] = {1, Y->dims[1]}, col[2] = {Y->dims[0], 1};
    int el = lp_cx_reshape(c, lp_cx_gather(c, bins, im, 0, 0), 2, row);
    int ec = lp_cx_reshape(c, lp_cx_gather(c, bins, lp_cx_bin(c, LP_TFL_ADD, im, lp_cx_scalar(c, i32, 1)), 0, 0), 2, row);
    int eh = lp_cx_reshape(c, lp_cx_gather(c, bins, lp_cx_bin(c, LP_TFL_ADD, im, lp_cx_scalar(c, i32, 2)), 0, 0), 2, row);
    int nj = lp_cx_bin(c, LP_TFL_ADD, lp_cx_bin(c, LP_TFL_FLOOR_DIV, dl, lp_cx_scalar(c, i32, 2)), lp_cx_scalar(c, i32, 1));
    int j = lp_cx_reshape(c, lp_cx_cast(c, lp_cx_iota(c, nj, Y->dims[0]), f), 2, col);
    int rising = lp_cx_select(c, B(EQUAL, ec, el), S(1.0), B(DIV, B(SUB, j, el), B(SUB, ec, el)));
    int in_rise = B(LOGICAL_AND, B(GREATER_EQUAL, j, el), B(LESS_EQUAL, j, ec));
    int falling = B(DIV, B(SUB, eh, j), B(SUB, eh, ec));
    int in_fall = B(LOGICAL_AND, B(GREATER_EQUAL, j, ec), B(LESS, j, eh));
    int y = lp_cx_select(c, in_fall, falling, lp_cx_select(c, in_rise, rising, S(0.0)));
#undef S
#undef B
    if (y >= 0) memcpy(T(y)->dims, Y->dims, sizeof(int64_t) * 2);
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_MelWeightMatrix = {mel_infer, mel_eval, mel_lower};

/* ---------------- DFT ---------------- */

typedef struct dft_spec {
    int rank, axis;          /* axis < 0: chosen at run time among the candidates */
    int inverse, onesided;
    int64_t len;             /* dft_length, or -1 for the default of each axis */
    int cin, cout;           /* 1 real, 2 complex */
} dft_spec;

static lp_status dft_spec_get(lp_ctx *c, const lp_node *n, dft_spec *s) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (!lp_cx_float_ok(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    s->rank = x->rank;
    if (x->rank < 2) return lp_fail(c, LP_ERR_INVALID, "input must have rank 2 or more");
    s->cin = (int)x->dims[x->rank - 1];
    if (s->cin != 1 && s->cin != 2) return lp_fail(c, LP_ERR_INVALID, "the last dimension must be 1 (real) or 2 (complex)");
    s->inverse = (int)lp_attr_i(c, n, "inverse", 0);
    s->onesided = (int)lp_attr_i(c, n, "onesided", 0);
    s->cout = s->inverse && s->onesided ? 1 : 2;
    s->len = -1;
    if (lp_has_in(n, 1)) {
        int64_t v;
        if (lp_known_ints(c, n, 1, &v, 1) != 1)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "input 'dft_length' must be a constant (it sets the output shape)");
        if (v < 1) return lp_fail(c, LP_ERR_INVALID, "dft_length %lld", (long long)v);
        s->len = v;
    }
    int64_t a;
    if (n->opset >= 20) {
        if (!lp_has_in(n, 2)) a = -2;
        else if (lp_known_ints(c, n, 2, &a, 1) != 1) a = INT64_MIN; /* a run-time axis */
    } else {
        a = lp_attr_i(c, n, "axis", 1);
    }
    if (a == INT64_MIN) {
        s->axis = -1;
    } else {
        if (a < 0) a += x->rank;
        if (a < 0 || a > x->rank - 2) return lp_fail(c, LP_ERR_INVALID, "axis is out of range for rank %d", x->rank);
        s->axis = (int)a;
    }
    return c->err->code;
}

/* output length and dft length along axis a */
static lp_status dft_lengths(lp_ctx *c, const dft_spec *s, int64_t n_in, int64_t *L, int64_t *K) {
    if (n_in < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the transformed axis must have a static length");
    *L = s->len >= 0 ? s->len : (s->inverse && s->onesided ? 2 * (n_in - 1) : n_in);
    if (*L < 1) return lp_fail(c, LP_ERR_INVALID, "DFT length %lld", (long long)*L);
    *K = !s->inverse && s->onesided ? *L / 2 + 1 : *L;
    return LP_OK;
}

static lp_status dft_out_dims(lp_ctx *c, const dft_spec *s, const lp_tensor *x, int axis, int64_t *dims) {
    int64_t L = 0, K = 0;
    LP_TRY(dft_lengths(c, s, x->dims[axis], &L, &K));
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[axis] = K;
    dims[x->rank - 1] = s->cout;
    return LP_OK;
}

static lp_status dft_infer(lp_ctx *c, const lp_node *n) {
    dft_spec s;
    LP_TRY(dft_spec_get(c, n, &s));
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK], other[LP_MAX_RANK];
    if (s.axis >= 0) {
        LP_TRY(dft_out_dims(c, &s, x, s.axis, dims));
    } else {
        /* a run-time axis is fine when every axis it may name gives the same output shape */
        for (int a = 0; a <= x->rank - 2; a++) {
            if (dft_out_dims(c, &s, x, a, a ? other : dims) != LP_OK) {
                lp_err_clear(c->err);
                return lp_fail(c, LP_ERR_UNSUPPORTED, "input 'axis' must be a constant: axis %d would be invalid", a);
            }
            if (a && !lp_dims_equal(dims, other, x->rank))
                return lp_fail(c, LP_ERR_UNSUPPORTED,
                               "input 'axis' must be a constant: the output shape depends on which axis it names");
        }
    }
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

static float *weights_alloc(lp_ctx *c, int64_t units, int64_t in) {
    if (in * units > DFT_MAX_WEIGHTS) {
        lp_fail(c, LP_ERR_LIMIT, "a DFT matrix of %lld x %lld weights (at most %lld are emitted)", (long long)units,
                (long long)in, (long long)DFT_MAX_WEIGHTS);
        return NULL;
    }
    size_t ne = (size_t)(in * units > 0 ? in * units : 1);
    float *w = lp_arena_alloc(&c->g->arena, sizeof(float) * ne);
    if (!w) lp_fail(c, LP_ERR_NOMEM, "out of memory");
    else memset(w, 0, sizeof(float) * ne);
    return w;
}

/* angle 2 pi (t k mod L) / L: exact periodicity, so cos/sin of paired indices agree */
static double dft_angle(int64_t t, int64_t k, int64_t L) { return 2 * LP_PI * (double)((t * k) % L) / (double)L; }

/* IRFFT weights [K, n_in * c_in]: output sample k from input bin t is Re(Y_t e^{2 pi i t k / L})
 * times 1 or 2, over 1/L (numpy's irfft drops the imaginary parts of bin 0 and of bin L/2, and
 * reads only bins 0..L/2: later bins get no weight, missing ones count as zero). */
static int irfft_weights(lp_ctx *c, const dft_spec *s, int64_t n_in, int64_t L) {
    int64_t in = n_in * s->cin, K = L;
    float *w = weights_alloc(c, K, in);
    if (!w) return -1;
    for (int64_t k = 0; k < K; k++)
        for (int64_t t = 0; t < n_in && t <= L / 2; t++) {
            double m = (t == 0 || (L % 2 == 0 && t == L / 2)) ? 1.0 : 2.0, ang = dft_angle(t, k, L);
            w[k * in + t * s->cin] = (float)(m * cos(ang) / (double)L);
            if (s->cin == 2 && m == 2.0) w[k * in + t * s->cin + 1] = (float)(-m * sin(ang) / (double)L);
        }
    int64_t wd[2] = {K, in};
    return lp_cx_f32s(c, 2, wd, w);
}

/* Weights [2K, L * c_in] over the butterfly features of a length-L signal z (see dft_along):
 * f = 0: z_0; f = 1 (L even): z_{L/2}; then S_t = z_t + z_{L-t} and D_t = z_t - z_{L-t} for
 * t = 1..h, h = ceil(L/2) - 1. With s = -1 (forward) or +1 (inverse) and theta = 2 pi t k / L,
 * the pair t, L-t contributes S cos(theta) + i s D sin(theta), so Y_k = z_0 + (-1)^k z_{L/2} +
 * sum_t [Sa cos - s Db sin] + i [Sb cos + s Da sin] (z = a + ib), times 1/L for the inverse. */
static int butterfly_weights(lp_ctx *c, const dft_spec *s, int64_t L, int64_t K) {
    int cin = s->cin;
    int64_t in = L * cin, h = (L + 1) / 2 - 1, even = L % 2 == 0;
    float *w = weights_alloc(c, 2 * K, in);
    if (!w) return -1;
    double sg = s->inverse ? 1.0 : -1.0, norm = s->inverse ? 1.0 / (double)L : 1.0;
#define W(row, f, ch) w[(row) * in + (f) * cin + (ch)]
    for (int64_t k = 0; k < K; k++) {
        int64_t re = 2 * k, im = 2 * k + 1;
        W(re, 0, 0) = (float)norm;
        if (cin == 2) W(im, 0, 1) = (float)norm;
        if (even) {
            double pm = (k % 2 ? -1.0 : 1.0) * norm;
            W(re, 1, 0) = (float)pm;
            if (cin == 2) W(im, 1, 1) = (float)pm;
        }
        for (int64_t t = 1; t <= h; t++) {
            double ang = dft_angle(t, k, L), co = cos(ang) * norm, si = sg * sin(ang) * norm;
            int64_t fs = even + t, fd = even + h + t;
            W(re, fs, 0) = (float)co;
            W(im, fd, 0) = (float)si;
            if (cin == 2) {
                W(im, fs, 1) = (float)co;
                W(re, fd, 1) = (float)-si;
            }
        }
    }
#undef W
    int64_t wd[2] = {2 * K, in};
    return lp_cx_f32s(c, 2, wd, w);
}

/* The DFT of x (float32) along `axis`; returns the [.., K, .., c_out] result. The signal is cut
 * or zero-padded to L, then paired ends are added and subtracted exactly (SLICE, REVERSE_V2,
 * ADD, SUB) before the one matrix product: the symmetric parts of a real signal or of a
 * Hermitian spectrum then cancel exactly instead of leaving float32 rounding noise. */
static int dft_along(lp_ctx *c, const dft_spec *s, int x, int axis) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int r = X->rank;
    int64_t n_in = X->dims[axis], L = 0, K = 0;
    if (dft_lengths(c, s, n_in, &L, &K) != LP_OK) return -1;
    /* move the axis next to the channel axis */
    int perm[LP_MAX_RANK], inv[LP_MAX_RANK], k = 0;
    for (int i = 0; i < r - 1; i++)
        if (i != axis) perm[k++] = i;
    perm[k++] = axis;
    perm[k] = r - 1;
    for (int i = 0; i < r; i++) inv[perm[i]] = i;
    int z = lp_cx_transpose(c, x, perm), w;
    int64_t beg[LP_MAX_RANK] = {0}, size[LP_MAX_RANK];
    for (int i = 0; i < r; i++) size[i] = -1;
    if (s->inverse && s->onesided) {
        w = irfft_weights(c, s, n_in, L);
    } else {
        if (n_in > L) {
            size[r - 2] = L;
            z = lp_cx_slice(c, z, beg, size);
        } else if (n_in < L) {
            int64_t pads[2 * LP_MAX_RANK] = {0};
            pads[2 * (r - 2) + 1] = L - n_in;
            z = lp_cx_pad(c, z, pads, 0.0);
        }
        int64_t h = (L + 1) / 2 - 1;
        if (h > 0) {
            int parts[2], nparts = 0;
            size[r - 2] = L % 2 == 0 ? 1 + h + 1 : 1 + h; /* z_0 (and z_{L/2}) first, then the pairs */
            int head = lp_cx_slice(c, z, beg, size);
            beg[r - 2] = 1;
            size[r - 2] = h;
            int a = lp_cx_slice(c, z, beg, size);
            beg[r - 2] = L - h;
            int32_t ax = r - 2;
            int b = lp_cx_slice(c, z, beg, size), rb = -1;
            if (b >= 0) {
                rb = lp_emit_tensor(c, LP_DT_F32, r, T(b)->dims, "reversed");
                int in[2] = {b, lp_cx_i32s(c, &ax, 1)};
                if (rb < 0 || in[1] < 0 || lp_emit_op(c, LP_TFL_REVERSE_V2, in, 2, &rb, 1) < 0) rb = -1;
            }
            if (L % 2 == 0) {
                /* [z_0, z_1..z_h, z_{L/2}] -> [z_0, z_{L/2}]: gather the two rows */
                int32_t pick[2] = {0, (int32_t)(h + 1)};
                head = lp_cx_gather(c, head, lp_cx_i32s(c, pick, 2), r - 2, 0);
            } else {
                beg[r - 2] = 0;
                size[r - 2] = 1;
                head = lp_cx_slice(c, z, beg, size);
            }
            parts[nparts++] = lp_cx_bin(c, LP_TFL_ADD, a, rb);
            parts[nparts++] = lp_cx_bin(c, LP_TFL_SUB, a, rb);
            int all[3] = {head, parts[0], parts[1]};
            z = lp_cx_concat(c, all, 3, r - 2);
        }
        w = butterfly_weights(c, s, L, K);
    }
    if (z < 0 || w < 0) return -1;
    int64_t fd[LP_MAX_RANK], od[LP_MAX_RANK];
    memcpy(fd, T(z)->dims, sizeof fd);
    fd[r - 2] = T(z)->dims[r - 2] * s->cin;
    int y = lp_cx_fc(c, lp_cx_reshape(c, z, r - 1, fd), w, -1);
    if (y < 0) return -1;
    memcpy(od, T(z)->dims, sizeof od);
    od[r - 2] = K;
    od[r - 1] = s->cout;
    return lp_cx_transpose(c, lp_cx_reshape(c, y, r, od), inv);
}

static lp_status dft_lower(lp_ctx *c, const lp_node *n) {
    dft_spec s;
    LP_TRY(dft_spec_get(c, n, &s));
    const lp_dtype f = LP_DT_F32;
    int x = lp_cx_cast(c, n->in[0], f);
    int y;
    if (s.axis >= 0) {
        y = dft_along(c, &s, x, s.axis);
    } else {
        /* run-time axis: every candidate, then SELECT_V2 on axis == a (or a - rank) */
        int ax = lp_cx_cast(c, n->in[2], LP_DT_I64);
        y = dft_along(c, &s, x, 0);
        for (int a = 1; a <= s.rank - 2; a++) {
            int is_a = lp_cx_bin(c, LP_TFL_LOGICAL_OR, lp_cx_bin(c, LP_TFL_EQUAL, ax, lp_cx_scalar(c, LP_DT_I64, a)),
                                 lp_cx_bin(c, LP_TFL_EQUAL, ax, lp_cx_scalar(c, LP_DT_I64, a - s.rank)));
            y = lp_cx_select(c, is_a, dft_along(c, &s, x, a), y);
        }
    }
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_DFT = {dft_infer, NULL, dft_lower};

/* ---------------- STFT ---------------- */

typedef struct stft_spec {
    int64_t step, flen, frames, len;
} stft_spec;

static lp_status stft_spec_get(lp_ctx *c, const lp_node *n, dft_spec *d, stft_spec *s) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "signal"));
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
        return lp_fail(c, LP_ERR_INVALID, "signal must be [batch, length, 1 or 2]");
    if (!lp_cx_float_ok(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "signal type %s", lp_dtype_name(x->dtype));
    s->len = x->dims[1];
    if (s->len < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the signal length must be static");
    if (lp_known_ints(c, n, 1, &s->step, 1) != 1) s->step = -1; /* a run-time step: a run-time frame count */
    s->flen = -1;
    if (lp_has_in(n, 2)) {
        lp_tensor *w = T(n->in[2]);
        if (w->rank != 1 || w->dims[0] < 0) return lp_fail(c, LP_ERR_INVALID, "window must be a 1-D tensor of static length");
        s->flen = w->dims[0];
    }
    int64_t fl;
    if (lp_has_in(n, 3)) {
        if (lp_known_ints(c, n, 3, &fl, 1) == 1) {
            if (s->flen >= 0 && s->flen != fl)
                return lp_fail(c, LP_ERR_INVALID, "window length %lld differs from frame_length %lld", (long long)s->flen,
                               (long long)fl);
            s->flen = fl;
        } else if (s->flen < 0) {
            /* (with a window, frame_length must equal its length) */
            return lp_fail(c, LP_ERR_UNSUPPORTED, "input 'frame_length' must be a constant (it sets the DFT size)");
        }
    }
    if (s->flen < 0) s->flen = s->len;
    if (s->step == 0 || s->step < -1 || s->flen < 1 || s->flen > s->len)
        return lp_fail(c, LP_ERR_INVALID, "frame_step %lld, frame_length %lld for a signal of %lld", (long long)s->step,
                       (long long)s->flen, (long long)s->len);
    s->frames = s->step > 0 ? 1 + (s->len - s->flen) / s->step : lp_graph_new_sym(c->g, NULL);
    memset(d, 0, sizeof *d);
    d->rank = 4;
    d->axis = 2;
    d->onesided = (int)lp_attr_i(c, n, "onesided", 1);
    d->cin = (int)x->dims[2];
    d->cout = 2;
    d->len = s->flen;
    return c->err->code;
}

static lp_status stft_infer(lp_ctx *c, const lp_node *n) {
    dft_spec d;
    stft_spec s;
    LP_TRY(stft_spec_get(c, n, &d, &s));
    lp_tensor *x = T(n->in[0]);
    int64_t dims[4] = {x->dims[0], s.frames, d.onesided ? s.flen / 2 + 1 : s.flen, 2};
    lp_set_out(c, n, 0, x->dtype, 4, dims);
    return LP_OK;
}

static lp_status stft_lower(lp_ctx *c, const lp_node *n) {
    dft_spec d;
    stft_spec s;
    LP_TRY(stft_spec_get(c, n, &d, &s));
    const lp_dtype f = LP_DT_F32;
    int idxt;
    if (s.step > 0) {
        int64_t ne;
        if (!lp_mul_i64(s.frames, s.flen, &ne)) return lp_fail(c, LP_ERR_LIMIT, "too many frames");
        int32_t *idx = lp_table_alloc(c, ne, sizeof(int32_t), "table of frame indices");
        if (!idx) return c->err->code;
        for (int64_t i = 0; i < s.frames; i++)
            for (int64_t j = 0; j < s.flen; j++) idx[i * s.flen + j] = (int32_t)(i * s.step + j);
        int64_t id[2] = {s.frames, s.flen};
        idxt = lp_cx_const(c, LP_DT_I32, 2, id, idx);
    } else {
        /* frames = (L - flen) // step + 1; index [f, j] = f * step + j */
        int st = lp_cx_reshape(c, lp_cx_cast(c, n->in[1], LP_DT_I32), 0, NULL);
        int nf = lp_cx_bin(c, LP_TFL_ADD, lp_cx_bin(c, LP_TFL_FLOOR_DIV, lp_cx_scalar(c, LP_DT_I32, (double)(s.len - s.flen)), st),
                           lp_cx_scalar(c, LP_DT_I32, 1));
        int32_t *j = lp_table_alloc(c, s.flen, sizeof(int32_t), "table of frame offsets");
        if (!j) return c->err->code;
        for (int64_t i = 0; i < s.flen; i++) j[i] = (int32_t)i;
        int64_t col[2] = {s.frames, 1}, row[2] = {1, s.flen};
        int start = lp_cx_bin(c, LP_TFL_MUL, lp_cx_reshape(c, lp_cx_iota(c, nf, s.frames), 2, col), st);
        idxt = lp_cx_bin(c, LP_TFL_ADD, start, lp_cx_const(c, LP_DT_I32, 2, row, j));
    }
    /* [B, L, c] -> [B, frames, flen, c] */
    int fr = lp_cx_gather(c, lp_cx_cast(c, n->in[0], f), idxt, 1, 0);
    if (lp_has_in(n, 2)) {
        int64_t wd[2] = {s.flen, 1};
        fr = lp_cx_bin(c, LP_TFL_MUL, fr, lp_cx_reshape(c, lp_cx_cast(c, n->in[2], f), 2, wd));
    }
    return lp_cx_bind(c, dft_along(c, &d, fr, 2), n->out[0]);
}

const lp_op_impl lp_impl_STFT = {stft_infer, NULL, stft_lower};
