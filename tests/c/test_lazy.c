/* Unit test of lazily transformed constants (src/ir/lazy.c): random chains of permutations,
 * per-channel scales and reorders along an axis, each step seen through a random reshape of the
 * previous result, compared byte for byte (whole payloads and unaligned partial reads) with a
 * plain implementation of the same transforms.
 *
 *   build/tests/test_lazy [ignored fixture folder]
 *
 * Prints each failed check; exits nonzero when any failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ir/ir.h"

static int n_checks, n_failed;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        n_checks++;                                                           \
        if (!(cond)) {                                                        \
            n_failed++;                                                       \
            printf("FAIL %s:%d: %s -- ", __FILE__, __LINE__, #cond);          \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int rnd_int(int n) { return (int)(rnd() % (uint64_t)n); }

/* a random shape of rank r whose product is n */
static int random_shape(int64_t n, int64_t *dims) {
    int r = 1 + rnd_int(5);
    for (int i = 0; i < r; i++) dims[i] = 1;
    int64_t m = n;
    for (int64_t p = 2; m > 1;) {
        if (m % p == 0) {
            dims[rnd_int(r)] *= p;
            m /= p;
        } else {
            p++;
        }
    }
    return r;
}

static void strides_of(int r, const int64_t *d, int64_t *s) {
    int64_t k = 1;
    for (int i = r - 1; i >= 0; i--) {
        s[i] = k;
        k *= d[i];
    }
}

/* multi-index of flat position e */
static void unflat(int64_t e, int r, const int64_t *d, int64_t *idx) {
    for (int i = r - 1; i >= 0; i--) {
        idx[i] = e % d[i];
        e /= d[i];
    }
}

/* ---- the plain transforms ---- */

static uint8_t *ref_permute(const uint8_t *src, size_t es, int r, const int64_t *vd, const int *perm, int64_t n) {
    uint8_t *out = malloc((size_t)n * es);
    int64_t od[LP_MAX_RANK], ss[LP_MAX_RANK], idx[LP_MAX_RANK];
    for (int i = 0; i < r; i++) od[i] = vd[perm[i]];
    strides_of(r, vd, ss);
    for (int64_t e = 0; e < n; e++) {
        unflat(e, r, od, idx);
        int64_t s = 0;
        for (int i = 0; i < r; i++) s += idx[i] * ss[perm[i]];
        memcpy(out + (size_t)e * es, src + (size_t)s * es, es);
    }
    return out;
}

static uint8_t *ref_scale(const uint8_t *src, int r, const int64_t *vd, const int64_t *sst, const float *tab,
                          int64_t n) {
    uint8_t *out = malloc((size_t)n * 4);
    int64_t idx[LP_MAX_RANK];
    for (int64_t e = 0; e < n; e++) {
        unflat(e, r, vd, idx);
        int64_t k = 0;
        for (int i = 0; i < r; i++) k += idx[i] * sst[i];
        float v;
        memcpy(&v, src + 4 * e, 4);
        v *= tab[k];
        memcpy(out + 4 * e, &v, 4);
    }
    return out;
}

static uint8_t *ref_gather(const uint8_t *src, size_t es, int r, const int64_t *vd, int axis, const int64_t *map,
                           int64_t n_map, int64_t *n_out) {
    int64_t od[LP_MAX_RANK], ss[LP_MAX_RANK], idx[LP_MAX_RANK];
    memcpy(od, vd, sizeof(int64_t) * (size_t)r);
    od[axis] = n_map;
    int64_t n = 1;
    for (int i = 0; i < r; i++) n *= od[i];
    strides_of(r, vd, ss);
    uint8_t *out = malloc((size_t)(n ? n : 1) * es);
    for (int64_t e = 0; e < n; e++) {
        unflat(e, r, od, idx);
        int64_t s = 0;
        for (int i = 0; i < r; i++) s += (i == axis ? map[idx[i]] : idx[i]) * ss[i];
        memcpy(out + (size_t)e * es, src + (size_t)s * es, es);
    }
    *n_out = n;
    return out;
}

/* the payload of t equals ref: read whole, and in pieces at odd offsets */
static void compare(const lp_tensor *t, const uint8_t *ref, size_t bytes, const char *what, int step) {
    uint8_t *got = malloc(bytes ? bytes : 1);
    lp_tensor_read(t, 0, got, bytes);
    CHECK(memcmp(got, ref, bytes) == 0, "%s step %d: payload differs", what, step);
    for (int k = 0; k < 8 && bytes > 1; k++) {
        size_t off = (size_t)(rnd() % bytes), len = 1 + (size_t)(rnd() % (bytes - off));
        memset(got, 0xAB, len);
        lp_tensor_read(t, off, got, len);
        CHECK(memcmp(got, ref + off, len) == 0, "%s step %d: bytes [%zu, +%zu) differ", what, step, off, len);
    }
    free(got);
}

/* one random chain of `steps` transforms over an n-element tensor of type dt */
static void chain(lp_dtype dt, int64_t n, int steps, int *n_lazy) {
    lp_err err;
    lp_err_clear(&err);
    lp_graph *g = lp_graph_new(&err);
    size_t es = lp_dtype_size(dt);
    uint8_t *cur = malloc((size_t)n * es);
    for (int64_t i = 0; i < n * (int64_t)es; i++) cur[i] = (uint8_t)rnd();
    if (dt == LP_DT_F32) /* finite values: scaled NaNs would compare unequal byte-wise only by luck */
        for (int64_t i = 0; i < n; i++) {
            float v = (float)((int)(rnd() % 2001) - 1000) / 64.0f;
            memcpy(cur + 4 * i, &v, 4);
        }
    int64_t d1 = n;
    int id = lp_graph_add_const(g, "w", dt, 1, &d1, cur, (size_t)n * es, 1);
    int64_t cn = n;
    for (int s = 0; s < steps && cn > 0; s++) {
        int64_t vd[LP_MAX_RANK];
        int r = random_shape(cn, vd);
        int kind = rnd_int(dt == LP_DT_F32 ? 3 : 2);
        uint8_t *next;
        int nid;
        const char *what;
        if (kind == 0) {
            int perm[LP_MAX_RANK];
            for (int i = 0; i < r; i++) perm[i] = i;
            for (int i = r - 1; i > 0; i--) {
                int j = rnd_int(i + 1), t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            nid = lp_graph_add_permuted(g, "p", id, r, vd, perm);
            next = ref_permute(cur, es, r, vd, perm, cn);
            what = "permute";
        } else if (kind == 1) {
            int axis = rnd_int(r);
            int64_t m = vd[axis] + (rnd_int(3) == 0 ? 1 : 0); /* sometimes one more entry (repeats) */
            int64_t *map = malloc(sizeof(int64_t) * (size_t)m);
            for (int64_t i = 0; i < m; i++) map[i] = (int64_t)(rnd() % (uint64_t)vd[axis]);
            int64_t nn;
            next = ref_gather(cur, es, r, vd, axis, map, m, &nn);
            nid = lp_graph_add_gathered(g, "g", id, r, vd, axis, map, m);
            free(map);
            cn = nn;
            what = "reorder";
        } else {
            /* a scale indexed by one or two axes (like a ConvTranspose's group and channel) */
            int64_t sst[LP_MAX_RANK] = {0};
            int a = rnd_int(r), b = rnd_int(r);
            sst[a] = 1;
            int64_t tn = vd[a];
            if (b != a) {
                sst[b] = vd[a];
                tn *= vd[b];
            }
            float *tab = malloc(sizeof(float) * (size_t)tn);
            for (int64_t i = 0; i < tn; i++) tab[i] = (float)(rnd_int(64) + 1) / 8.0f;
            next = ref_scale(cur, r, vd, sst, tab, cn);
            nid = lp_graph_add_scaled(g, "s", id, r, vd, sst, tab, tn);
            free(tab);
            what = "scale";
        }
        CHECK(nid >= 0, "%s step %d failed: %s", what, s, err.msg);
        if (nid < 0) {
            free(next);
            break;
        }
        const lp_tensor *t = &g->t[nid];
        *n_lazy += t->lazy != NULL;
        CHECK(!t->lazy || !t->data, "lazy tensor with data");
        CHECK(t->nbytes == (size_t)cn * es, "%s step %d: nbytes %zu, want %zu", what, s, t->nbytes, (size_t)cn * es);
        compare(t, next, (size_t)cn * es, what, s);
        free(cur);
        cur = next;
        id = nid;
    }
    /* lp_tensor_bytes turns the last one into an ordinary constant with the same bytes */
    const uint8_t *p = lp_tensor_bytes(g, id);
    CHECK(p && !g->t[id].lazy && memcmp(p, cur, (size_t)cn * es) == 0, "lp_tensor_bytes differs");
    free(cur);
    lp_graph_free(g);
}

/* two views of the same bytes by the same transform are recognised as equal; others are not */
static void same_views(void) {
    lp_err err;
    lp_err_clear(&err);
    lp_graph *g = lp_graph_new(&err);
    static float w[64 * 64];
    for (int i = 0; i < 64 * 64; i++) w[i] = (float)i;
    int64_t d[2] = {64, 64};
    int perm[2] = {1, 0}, same[2] = {0, 1};
    int src = lp_graph_add_const(g, "w", LP_DT_F32, 2, d, w, sizeof w, 0);
    int a = lp_graph_add_permuted(g, "a", src, 2, d, perm);
    int b = lp_graph_add_permuted(g, "b", src, 2, d, perm);
    int c = lp_graph_add_permuted(g, "c", src, 2, d, same);
    CHECK(g->t[a].lazy && g->t[b].lazy && g->t[c].lazy, "64x64 floats should stay lazy");
    CHECK(lp_lazy_same(g->t[a].lazy, g->t[b].lazy), "equal views not recognised");
    CHECK(!lp_lazy_same(g->t[a].lazy, g->t[c].lazy), "different views taken as equal");
    /* a small result is computed at once */
    int64_t d2[2] = {4, 4};
    int s = lp_graph_add_const(g, "s", LP_DT_F32, 2, d2, w, 64, 0);
    int t = lp_graph_add_permuted(g, "t", s, 2, d2, perm);
    CHECK(t >= 0 && !g->t[t].lazy && g->t[t].data && ((const float *)g->t[t].data)[1] == 4.0f,
          "small permuted constant should be plain");
    /* a wrong view is an internal error, not a crash */
    int64_t bad[2] = {63, 64};
    CHECK(lp_graph_add_permuted(g, "x", src, 2, bad, perm) < 0 && err.code == LP_ERR_INTERNAL,
          "a view with another element count must fail");
    lp_graph_free(g);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    int n_lazy = 0;
    same_views();
    for (int k = 0; k < 150; k++) chain(LP_DT_F32, 5040, 6, &n_lazy);  /* 2^4 3^2 5 7 elements */
    for (int k = 0; k < 40; k++) chain(LP_DT_U8, 6 * 1024 * 3, 5, &n_lazy);
    for (int k = 0; k < 40; k++) chain(LP_DT_F64, 2 * 3 * 5 * 7 * 11, 5, &n_lazy);
    for (int k = 0; k < 40; k++) chain(LP_DT_I16, 4096, 5, &n_lazy);
    CHECK(n_lazy > 500, "only %d results were lazy: the test does not test laziness", n_lazy);
    printf("%d checks, %d failed (%d lazy results)\n", n_checks, n_failed, n_lazy);
    return n_failed ? 1 : 0;
}
