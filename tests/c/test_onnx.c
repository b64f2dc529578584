/* Unit test of the ONNX reader (src/onnx): models written by the `onnx` package and by torch
 * (tests/c/make_onnx_fixtures.py), plus hand-assembled protobuf for encodings and hostile input the
 * onnx package never writes.
 *
 *   .venv/bin/python tests/c/make_onnx_fixtures.py /tmp/onnx_fx
 *   cc -std=c11 -Iinclude tests/c/test_onnx.c src/onnx/pb.c src/onnx/onnx.c src/base/base.c \
 *      src/ir/graph.c -lm -o /tmp/test_onnx
 *   /tmp/test_onnx /tmp/onnx_fx
 *
 * Prints each failed check; exits nonzero when any failed. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/onnx/onnx.h"
#include "../../src/onnx/pb.h"

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

static const char *fx; /* fixture folder */

/* ---------------- helpers ---------------- */

typedef struct loaded {
    lp_err err;
    lp_graph *g;
    lp_onnx_import imp;
    lp_map map;
    int mapped;
    lp_status st;
} loaded;

static void import_buf(loaded *L, const uint8_t *data, size_t size, const char *base_dir) {
    lp_err_clear(&L->err);
    L->g = lp_graph_new(&L->err);
    if (!L->g) {
        printf("out of memory\n");
        exit(2);
    }
    L->st = lp_onnx_import(L->g, data, size, base_dir, &L->imp);
    if (L->st != LP_OK && L->err.code == LP_OK) printf("FAIL: status %d without a message\n", L->st), n_failed++;
    if (L->st != LP_OK && !L->err.msg[0]) printf("FAIL: empty error message\n"), n_failed++;
}

/* maps fx/rel and imports it with its folder as base_dir */
static int load(loaded *L, const char *rel) {
    memset(L, 0, sizeof *L);
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%s/%s", fx, rel);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    if (lp_map_open(&L->map, path, &L->err) != LP_OK) {
        printf("FAIL: cannot open fixture %s: %s (run make_onnx_fixtures.py first)\n", path, L->err.msg);
        n_failed++;
        return 0;
    }
    L->mapped = 1;
    import_buf(L, L->map.data, L->map.size, dir);
    return 1;
}

static void unload(loaded *L) {
    lp_graph_free(L->g);
    lp_onnx_import_free(&L->imp);
    if (L->mapped) lp_map_close(&L->map);
    memset(L, 0, sizeof *L);
}

static int find_tensor(const lp_graph *g, const char *name) {
    for (int i = 0; i < g->n_t; i++)
        if (strcmp(g->t[i].name, name) == 0) return i;
    return -1;
}

static const lp_node *find_node(const lp_graph *g, const char *name) {
    for (int i = 0; i < g->n_n; i++)
        if (strcmp(g->n[i].name, name) == 0) return &g->n[i];
    return NULL;
}

static int inside(const void *p, const uint8_t *base, size_t size) {
    const uint8_t *q = p;
    return q >= base && q < base + size;
}

static const char *sym_name(const lp_graph *g, int64_t d) {
    if (d >= 0 || -d > g->n_sym) return "<not a symbol>";
    const char *s = g->sym_names[-d];
    return s ? s : "<anonymous>";
}

static void check_status(const char *what, const loaded *L, lp_status want, const char *const *subs) {
    CHECK(L->st == want, "%s: status %d, want %d (%s)", what, L->st, want, L->err.msg);
    for (int i = 0; subs && subs[i]; i++)
        CHECK(strstr(L->err.msg, subs[i]) != NULL, "%s: message '%s' lacks '%s'", what, L->err.msg, subs[i]);
}

/* ---------------- models written by the onnx package ---------------- */

static void test_basic(void) {
    loaded L;
    if (!load(&L, "basic.onnx")) return;
    lp_graph *g = L.g;
    CHECK(L.st == LP_OK, "basic.onnx: %s", L.err.msg);
    if (L.st != LP_OK) {
        unload(&L);
        return;
    }
    CHECK(g->opset == 17, "opset %d", g->opset);
    CHECK(L.imp.ir_version == 8, "ir_version %lld", (long long)L.imp.ir_version);
    CHECK(L.imp.producer && strcmp(L.imp.producer, "liteport-fixtures") == 0, "producer %s", L.imp.producer);

    /* inputs: 'bias' has an initializer, so it is a constant, not an input */
    CHECK(g->inputs.n == 3, "%d inputs", g->inputs.n);
    if (g->inputs.n == 3) {
        const lp_tensor *x = &g->t[g->inputs.v[0]], *y = &g->t[g->inputs.v[1]], *y2 = &g->t[g->inputs.v[2]];
        CHECK(strcmp(x->name, "x") == 0 && strcmp(y->name, "y") == 0 && strcmp(y2->name, "y2") == 0, "input order");
        CHECK(x->flags & LP_T_INPUT, "x flags %d", x->flags);
        CHECK(x->dtype == LP_DT_F32 && x->rank == 4, "x %s rank %d", lp_dtype_name(x->dtype), x->rank);
        CHECK(x->dims[0] < 0 && strcmp(sym_name(g, x->dims[0]), "batch") == 0, "x dim0 %lld %s",
              (long long)x->dims[0], sym_name(g, x->dims[0]));
        CHECK(x->dims[1] == 3 && x->dims[2] == 4 && x->dims[3] == 4, "x dims");
        CHECK(y->dtype == LP_DT_I64 && y->rank == 3, "y %s rank %d", lp_dtype_name(y->dtype), y->rank);
        CHECK(y->dims[0] == x->dims[0], "one symbol per dim_param: %lld vs %lld", (long long)y->dims[0],
              (long long)x->dims[0]);
        CHECK(y->dims[1] < 0 && y->dims[1] != y->dims[0] && g->sym_names[-y->dims[1]] == NULL,
              "unknown dim is a fresh anonymous symbol (%lld)", (long long)y->dims[1]);
        CHECK(y->dims[2] < 0 && strcmp(sym_name(g, y->dims[2]), "seq") == 0, "y dim2 %s", sym_name(g, y->dims[2]));
        CHECK(y2->rank == -1, "no shape -> unknown rank, got %d", y2->rank);
    }
    int bias = find_tensor(g, "bias");
    CHECK(bias >= 0 && (g->t[bias].flags & LP_T_CONST) && !(g->t[bias].flags & LP_T_INPUT), "bias is a constant");

    /* payload placement: zero-copy where the wire layout is the memory layout */
    const uint8_t *B = L.map.data;
    size_t S = L.map.size;
    struct {
        const char *name;
        lp_dtype dt;
        int rank;
        size_t nbytes;
        int in_file; /* 1: points into the mapped model; 0: decoded into the arena */
    } cases[] = {
        {"w_raw", LP_DT_F32, 2, 24, 1},  {"w_float", LP_DT_F32, 1, 20, 1}, {"i64", LP_DT_I64, 1, 32, 0},
        {"f16", LP_DT_F16, 1, 6, 0},     {"d64", LP_DT_F64, 2, 32, 1},     {"i8", LP_DT_I8, 1, 3, 0},
        {"b", LP_DT_BOOL, 1, 4, 0},      {"u64", LP_DT_U64, 1, 16, 0},     {"u32", LP_DT_U32, 1, 8, 0},
        {"i16", LP_DT_I16, 1, 4, 0},     {"i4", LP_DT_I4, 1, 2, 0},        {"scalar", LP_DT_F32, 0, 4, 1},
        {"scales", LP_DT_F32, 1, 16, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int id = find_tensor(g, cases[i].name);
        CHECK(id >= 0, "initializer %s missing", cases[i].name);
        if (id < 0) continue;
        const lp_tensor *t = &g->t[id];
        CHECK(t->flags & LP_T_CONST, "%s not const", t->name);
        CHECK(t->dtype == cases[i].dt, "%s dtype %s", t->name, lp_dtype_name(t->dtype));
        CHECK(t->rank == cases[i].rank, "%s rank %d", t->name, t->rank);
        CHECK(t->nbytes == cases[i].nbytes, "%s nbytes %zu want %zu", t->name, t->nbytes, cases[i].nbytes);
        CHECK(inside(t->data, B, S) == cases[i].in_file, "%s data %s the mapped file", t->name,
              cases[i].in_file ? "not inside" : "unexpectedly inside");
        CHECK(!!(t->flags & LP_T_OWNED) == !cases[i].in_file, "%s OWNED flag %d", t->name, t->flags);
    }
    int id = find_tensor(g, "w_raw");
    if (id >= 0) CHECK(g->t[id].dims[0] == 2 && g->t[id].dims[1] == 3, "w_raw dims");
    id = find_tensor(g, "i4");
    if (id >= 0) {
        const uint8_t *p = g->t[id].data;
        CHECK(p[0] == 0xE1 && p[1] == 0x03, "int4 packing %02x %02x", p[0], p[1]);
    }
    id = find_tensor(g, "u64");
    if (id >= 0) {
        uint64_t v[2];
        memcpy(v, g->t[id].data, 16);
        CHECK(v[0] == 1 && v[1] == (1ull << 63) + 5, "u64 %llu %llu", (unsigned long long)v[0], (unsigned long long)v[1]);
    }
    id = find_tensor(g, "empty");
    if (id >= 0) CHECK(g->t[id].rank == 2 && g->t[id].dims[0] == 0 && g->t[id].nbytes == 0, "empty tensor");

    /* nodes */
    CHECK(g->n_n == 9, "%d nodes", g->n_n);
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        CHECK(n->opset == 17, "node %s opset %d", n->name, n->opset);
        CHECK(n->origin >= 0 && n->origin < g->n_origin && strcmp(g->origin_names[n->origin], n->name) == 0 &&
                  strcmp(g->origin_ops[n->origin], lp_op_name(n->op)) == 0,
              "node %s origin", n->name);
    }
    const lp_node *n = find_node(g, "Constant_0");
    CHECK(n && n->op == LP_OP_Constant && n->n_in == 0 && n->n_out == 1, "generated name Constant_0");
    if (n) {
        const lp_attr *a = lp_node_attr(n, "value");
        CHECK(a && a->type == LP_ATTR_TENSOR && lp_tensor_is_const(g, a->tensor), "Constant value attr");
        if (a && a->tensor >= 0) {
            const lp_tensor *t = &g->t[a->tensor];
            CHECK(strcmp(t->name, "Constant_0_value") == 0, "attr tensor name %s", t->name);
            CHECK(t->rank == 2 && t->dims[0] == 2 && t->dims[1] == 3 && t->dtype == LP_DT_F32, "attr tensor shape");
            CHECK(inside(t->data, B, S), "attr tensor raw_data is zero-copy");
        }
    }
    n = find_node(g, "Constant_1");
    CHECK(n != NULL, "Constant_1");
    if (n) {
        const lp_attr *a = lp_node_attr(n, "value_floats");
        CHECK(a && a->type == LP_ATTR_FLOATS && a->n == 3 && a->floats[0] == 1.5f && a->floats[1] == -2.25f &&
                  a->floats[2] == 3.0f,
              "value_floats");
    }
    n = find_node(g, "Constant_2");
    CHECK(n != NULL, "Constant_2");
    if (n) {
        const lp_attr *a = lp_node_attr(n, "value_ints");
        CHECK(a && a->type == LP_ATTR_INTS && a->n == 3 && a->ints[0] == -1 && a->ints[1] == 0 &&
                  a->ints[2] == (int64_t)1 << 35,
              "value_ints");
    }
    n = find_node(g, "tr");
    CHECK(n && n->op == LP_OP_Transpose, "tr");
    if (n) {
        const lp_attr *a = lp_node_attr(n, "perm");
        CHECK(a && a->type == LP_ATTR_INTS && a->n == 4 && a->ints[0] == 0 && a->ints[1] == 2 && a->ints[2] == 3 &&
                  a->ints[3] == 1,
              "perm");
    }
    n = find_node(g, "lrelu");
    CHECK(n && n->op == LP_OP_LeakyRelu, "lrelu");
    if (n) {
        const lp_attr *a = lp_node_attr(n, "alpha");
        CHECK(a && a->type == LP_ATTR_FLOAT && a->f == 0.2f, "alpha %g", a ? a->f : -1.0);
    }
    n = find_node(g, "resize");
    CHECK(n && n->op == LP_OP_Resize, "resize");
    if (n) {
        CHECK(n->n_in == 3 && n->in[1] == -1 && n->in[2] == find_tensor(g, "scales"), "optional input is -1");
        const lp_attr *a = lp_node_attr(n, "mode");
        CHECK(a && a->type == LP_ATTR_STRING && strcmp(a->s, "nearest") == 0, "mode");
        a = lp_node_attr(n, "tags");
        CHECK(a && a->type == LP_ATTR_STRINGS && a->n == 2 && strcmp(a->strings[0], "a") == 0 &&
                  strcmp(a->strings[1], "bc") == 0,
              "STRINGS");
    }
    n = find_node(g, "add");
    CHECK(n && n->op == LP_OP_Add, "add");
    if (n) CHECK(n->in[1] == bias, "add reads the bias constant");
    n = find_node(g, "ident");
    CHECK(n && n->op == LP_OP_Identity, "ident");
    if (n) {
        const lp_attr *a = lp_node_attr(n, "body");
        CHECK(a && a->type == LP_ATTR_GRAPH && a->graph, "GRAPH attr");
        if (a && a->graph) {
            const lp_onnx_subgraph *sg = a->graph;
            loaded S2;
            memset(&S2, 0, sizeof S2);
            char path[1024];
            snprintf(path, sizeof path, "%s/basic_sub.pb", fx);
            if (lp_map_open(&S2.map, path, &S2.err) == LP_OK) {
                CHECK(sg->size == S2.map.size && memcmp(sg->data, S2.map.data, sg->size) == 0,
                      "subgraph bytes equal the serialized GraphProto (%zu vs %zu)", sg->size, S2.map.size);
                lp_map_close(&S2.map);
            }
            CHECK(inside(sg->data, B, S), "subgraph points into the model");
        }
    }

    /* outputs in order, with declared info where the tensor had none */
    static const char *const outs[] = {"lr", "rs", "id_out", "c", "yy", "cf", "ci"};
    CHECK(g->outputs.n == 7, "%d outputs", g->outputs.n);
    for (int i = 0; i < g->outputs.n && i < 7; i++) {
        const lp_tensor *t = &g->t[g->outputs.v[i]];
        CHECK(strcmp(t->name, outs[i]) == 0 && (t->flags & LP_T_OUTPUT), "output %d is %s", i, t->name);
    }
    if (g->outputs.n >= 1 && g->inputs.n >= 1) {
        const lp_tensor *lr = &g->t[g->outputs.v[0]];
        CHECK(lr->dtype == LP_DT_F32 && lr->rank == 4 && lr->dims[0] == g->t[g->inputs.v[0]].dims[0] &&
                  lr->dims[3] == 3,
              "declared output shape");
        CHECK(g->t[g->outputs.v[1]].rank == -1, "output without shape stays unknown");
    }
    id = find_tensor(g, "xt");
    if (id >= 0) CHECK(g->t[id].rank == 4 && g->t[id].dims[1] == 4 && g->t[id].dtype == LP_DT_F32, "value_info hint");

    CHECK(lp_graph_toposort(g) == LP_OK, "toposort: %s", L.err.msg);
    CHECK(lp_graph_verify(g, "import") == LP_OK, "verify: %s", L.err.msg);
    unload(&L);
}

/* expect.txt: "<file> <tensor> <index> <value>", values computed by numpy / torch */
static void test_expect(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/expect.txt", fx);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[512], cur[256] = "";
    loaded L;
    int have = 0, n_lines = 0;
    memset(&L, 0, sizeof L);
    while (fgets(line, sizeof line, f)) {
        char file[256], name[256], val[128];
        long long idx;
        if (sscanf(line, "%255s %255s %lld %127s", file, name, &idx, val) != 4) continue;
        n_lines++;
        if (strcmp(file, cur) != 0) {
            if (have) unload(&L);
            have = load(&L, file);
            snprintf(cur, sizeof cur, "%s", file);
            if (have) CHECK(L.st == LP_OK, "%s: %s", file, L.err.msg);
        }
        if (!have || L.st != LP_OK) continue;
        int id = find_tensor(L.g, name);
        CHECK(id >= 0 && (L.g->t[id].flags & LP_T_CONST), "%s: no constant '%s'", file, name);
        if (id < 0) continue;
        const lp_tensor *t = &L.g->t[id];
        int64_t numel = lp_tensor_numel(t);
        CHECK(idx < numel, "%s %s index %lld of %lld", file, name, idx, (long long)numel);
        if (idx >= numel) continue;
        if (strpbrk(val, ".eEn")) {
            double want = strtod(val, NULL), got = lp_get_f64(t->dtype, t->data, idx);
            CHECK(got == want, "%s %s[%lld] = %.17g, numpy says %.17g", file, name, idx, got, want);
        } else {
            long long want = strtoll(val, NULL, 10), got = (long long)lp_get_i64(t->dtype, t->data, idx);
            CHECK(got == want, "%s %s[%lld] = %lld, numpy says %lld", file, name, idx, got, want);
        }
    }
    if (have) unload(&L);
    fclose(f);
    CHECK(n_lines > 40, "only %d expectation lines", n_lines);
}

static void test_external(void) {
    loaded L;
    if (!load(&L, "ext/model.onnx")) return;
    CHECK(L.st == LP_OK, "ext: %s", L.err.msg);
    if (L.st == LP_OK) {
        CHECK(L.imp.n_ext == 1, "one mapped file, got %d", L.imp.n_ext);
        const char *names[] = {"w", "b", "k"};
        for (int i = 0; i < 3 && L.imp.n_ext == 1; i++) {
            int id = find_tensor(L.g, names[i]);
            CHECK(id >= 0, "%s", names[i]);
            if (id < 0) continue;
            const lp_tensor *t = &L.g->t[id];
            CHECK(inside(t->data, L.imp.ext[0].data, L.imp.ext[0].size) && !(t->flags & LP_T_OWNED),
                  "%s points into weights.bin", names[i]);
            CHECK((const uint8_t *)t->data + t->nbytes <= L.imp.ext[0].data + L.imp.ext[0].size, "%s in bounds",
                  names[i]);
        }
        int w = find_tensor(L.g, "w");
        if (w >= 0) CHECK(L.g->t[w].rank == 4 && L.g->t[w].nbytes == 4 * 3 * 3 * 3 * 4, "w shape");
        const lp_node *n = find_node(L.g, "conv");
        CHECK(n && n->op == LP_OP_Conv && n->n_in == 3, "conv node");
        if (n) {
            const lp_attr *a = lp_node_attr(n, "pads");
            CHECK(a && a->n == 4 && a->ints[0] == 1, "pads");
        }
    }
    /* the same bytes without a folder: external data cannot be found */
    loaded M;
    memset(&M, 0, sizeof M);
    import_buf(&M, L.map.data, L.map.size, NULL);
    static const char *const subs[] = {"'w'", "weights.bin", "folder", NULL};
    check_status("ext without base_dir", &M, LP_ERR_IO, subs);
    lp_graph_free(M.g);
    lp_onnx_import_free(&M.imp);
    lp_onnx_import_free(&M.imp); /* idempotent */
    unload(&L);
}

static void test_torch(void) {
    loaded L;
    if (!load(&L, "torch_net.onnx")) return;
    lp_graph *g = L.g;
    CHECK(L.st == LP_OK, "torch_net: %s", L.err.msg);
    if (L.st == LP_OK) {
        static const lp_op ops[] = {LP_OP_Conv, LP_OP_Relu, LP_OP_ReduceMean, LP_OP_Reshape, LP_OP_Gemm, LP_OP_Softmax};
        int found[6] = {0};
        for (int i = 0; i < g->n_n; i++)
            for (int k = 0; k < 6; k++)
                if (g->n[i].op == ops[k]) found[k] = 1;
        for (int k = 0; k < 6; k++) CHECK(found[k], "torch_net has no %s node", lp_op_name(ops[k]));
        CHECK(g->opset == 18, "opset %d", g->opset);
        CHECK(g->inputs.n == 1 && g->outputs.n == 1, "io %d %d", g->inputs.n, g->outputs.n);
        if (g->inputs.n == 1) {
            const lp_tensor *x = &g->t[g->inputs.v[0]];
            CHECK(x->rank == 4 && x->dims[0] < 0 && strcmp(sym_name(g, x->dims[0]), "batch") == 0 && x->dims[1] == 3,
                  "torch input x dim0 %s", sym_name(g, x->dims[0]));
        }
        CHECK(lp_graph_toposort(g) == LP_OK, "toposort %s", L.err.msg);
    }
    unload(&L);
}

/* If bodies: outer-scope names become node inputs; lp_onnx_import_body inlines a branch */
static void test_subgraphs(void) {
    loaded L;
    if (!load(&L, "if.onnx")) return;
    lp_graph *g = L.g;
    CHECK(L.st == LP_OK, "if.onnx: %s", L.err.msg);
    const lp_node *n = L.st == LP_OK ? find_node(g, "branch") : NULL;
    CHECK(n && n->op == LP_OP_If, "If node");
    if (n) {
        int x = find_tensor(g, "x");
        CHECK(n->n_in == 2 && n->in[0] == find_tensor(g, "cond") && n->in[1] == x, "outer 'x' appended as input 1");
        const lp_attr *at = lp_node_attr(n, "then_branch"), *ae = lp_node_attr(n, "else_branch");
        CHECK(at && ae && at->type == LP_ATTR_GRAPH && ae->type == LP_ATTR_GRAPH, "branches");
        if (at && ae) {
            const lp_onnx_subgraph *st = at->graph, *se = ae->graph;
            CHECK(st->n_formal == 1 && st->n_outer == 1 && strcmp(st->outer[0], "x") == 0 && st->outer_in[0] == 1,
                  "then reads x from input %d", st->n_outer ? st->outer_in[0] : -1);
            lp_node owner = *n;
            int n0 = g->n_n;
            lp_onnx_body b;
            lp_status s1 = lp_onnx_import_body(g, se, &owner, NULL, 0, "branch/else/", &b);
            CHECK(s1 == LP_OK && b.n_out == 1 && b.node0 == n0 && g->n_n == n0 + 1, "else inlined: %s", L.err.msg);
            if (s1 == LP_OK && b.n_out == 1) {
                const lp_node *neg = &g->n[n0];
                CHECK(neg->op == LP_OP_Neg && neg->in[0] == x && neg->out[0] == b.out[0], "Neg reads the outer x");
                CHECK(strcmp(g->t[b.out[0]].name, "branch/else/e") == 0, "body value named '%s'", g->t[b.out[0]].name);
                CHECK(strncmp(neg->name, "branch/else/", 12) == 0, "body node named '%s'", neg->name);
            }
            int bind = x;
            s1 = lp_onnx_import_body(g, st, &owner, &bind, 1, "p/", &b);
            CHECK(s1 == LP_ERR_INVALID && strstr(L.err.msg, "declares 0 inputs"), "binding count checked: %s", L.err.msg);
        }
    }
    unload(&L);
}

static void test_error_files(void) {
    static const struct {
        const char *file;
        lp_status st;
        const char *subs[4];
    } cases[] = {
        {"bad_raw_len.onnx", LP_ERR_INVALID, {"'short_w'", "raw_data has 20 bytes", "needs 24"}},
        {"unknown_op.onnx", LP_ERR_UNSUPPORTED, {"node 'foo' (FooBar): op is not supported"}},
        {"custom_domain.onnx", LP_ERR_UNSUPPORTED, {"'mine'", "MyOp", "com.example"}},
        {"no_opset.onnx", LP_ERR_INVALID, {"opset", "default"}},
        {"undefined_input.onnx", LP_ERR_INVALID, {"'add'", "'ghost'"}},
        {"dup_output.onnx", LP_ERR_INVALID, {"'r2'", "'r1'", "'y'"}},
        {"bad_arity.onnx", LP_ERR_INVALID, {"'r'", "has 2 inputs", "Relu takes 1"}},
        {"seq_input.onnx", LP_ERR_UNSUPPORTED, {"'s'", "sequence"}},
        {"neg_dim.onnx", LP_ERR_INVALID, {"negative dim_value"}},
        {"sparse.onnx", LP_ERR_UNSUPPORTED, {"sparse"}},
        {"ext_dotdot/model.onnx", LP_ERR_INVALID, {"'w'", "'../x'", "'..'"}},
        {"ext_abs/model.onnx", LP_ERR_INVALID, {"'w'", "/etc/passwd", "absolute"}},
        {"ext_link/model.onnx", LP_ERR_INVALID, {"'w'", "link.bin", "outside"}},
        {"ext_missing/model.onnx", LP_ERR_IO, {"'w'", "nothere.bin", "not found"}},
        {"ext_short/model.onnx", LP_ERR_INVALID, {"'w'", "runs past the end"}},
        {"not_onnx.png", LP_ERR_PARSE, {"not an ONNX model"}},
        {"not_onnx.txt", LP_ERR_PARSE, {"not an ONNX model"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        loaded L;
        if (!load(&L, cases[i].file)) continue;
        const char *subs[5] = {0};
        memcpy(subs, cases[i].subs, sizeof cases[i].subs);
        check_status(cases[i].file, &L, cases[i].st, subs);
        CHECK(L.imp.n_ext == 0 && L.imp.ext == NULL, "%s: external files unmapped after failure", cases[i].file);
        unload(&L);
    }
    /* nodes out of topological order are accepted; the caller sorts */
    loaded L;
    if (load(&L, "out_of_order.onnx")) {
        CHECK(L.st == LP_OK, "out_of_order: %s", L.err.msg);
        if (L.st == LP_OK) {
            CHECK(lp_graph_toposort(L.g) == LP_OK, "toposort %s", L.err.msg);
            CHECK(L.g->n_n == 2 && strcmp(L.g->n[0].name, "first") == 0, "sorted order");
        }
        unload(&L);
    }
}

/* Every strict prefix of a model must fail cleanly; cuts inside the graph say "truncated". */
static void test_truncation(void) {
    loaded L;
    if (!load(&L, "basic.onnx")) return;
    size_t size = L.map.size;
    uint8_t *copy = malloc(size);
    memcpy(copy, L.map.data, size);
    unload(&L);
    /* where the graph field's payload lies */
    size_t gs = 0, ge = 0;
    lp_pb r;
    lp_pb_field f;
    lp_pb_init(&r, copy, copy, size);
    while (lp_pb_next(&r, &f) > 0)
        if (f.num == 7) {
            gs = (size_t)(f.p - copy);
            ge = gs + f.len;
        }
    CHECK(gs > 0 && ge > gs, "graph field found");
    int bad = 0;
    for (size_t n = 0; n < size; n++) {
        uint8_t *p = malloc(n ? n : 1); /* exact size: ASan sees any read past the cut */
        memcpy(p, copy, n);
        loaded T;
        memset(&T, 0, sizeof T);
        import_buf(&T, p, n, NULL);
        if (T.st == LP_OK) bad++;
        if (n > gs && n < ge && (n == gs + 1 || n == (gs + ge) / 2 || n == ge - 1)) {
            static const char *const subs[] = {"truncated protobuf at byte", "reading ModelProto graph", NULL};
            char what[64];
            snprintf(what, sizeof what, "cut at %zu", n);
            check_status(what, &T, LP_ERR_PARSE, subs);
        }
        lp_graph_free(T.g);
        lp_onnx_import_free(&T.imp);
        free(p);
    }
    CHECK(bad == 0, "%d truncated copies imported without error", bad);
    loaded E;
    memset(&E, 0, sizeof E);
    import_buf(&E, copy, 0, NULL);
    static const char *const empty[] = {"not an ONNX model", "empty", NULL};
    check_status("empty file", &E, LP_ERR_PARSE, empty);
    lp_graph_free(E.g);
    free(copy);
}

/* Random byte changes: never a crash or sanitizer report; failures carry a message. */
static void test_mutations(void) {
    loaded L;
    if (!load(&L, "basic.onnx")) return;
    size_t size = L.map.size;
    uint8_t *orig = malloc(size), *p = malloc(size);
    memcpy(orig, L.map.data, size);
    unload(&L);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int ok = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(p, orig, size);
        int k = 1 + (int)(s % 4);
        for (int j = 0; j < k; j++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            p[s % size] = (uint8_t)(s >> 24);
        }
        loaded T;
        memset(&T, 0, sizeof T);
        import_buf(&T, p, size, NULL);
        if (T.st == LP_OK) ok++;
        lp_graph_free(T.g);
        lp_onnx_import_free(&T.imp);
    }
    printf("mutations: %d of 3000 still import\n", ok);
    free(orig);
    free(p);
}

/* ---------------- hand-assembled protobuf ---------------- */

typedef struct wb {
    uint8_t *p;
    size_t n, cap;
} wb;

static void wb_raw(wb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void wb_varint(wb *b, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        wb_raw(b, &c, 1);
    } while (v);
}
static void wb_tag(wb *b, uint32_t field, int wire) { wb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
static void wb_int(wb *b, uint32_t field, int64_t v) {
    wb_tag(b, field, 0);
    wb_varint(b, (uint64_t)v);
}
static void wb_bytes(wb *b, uint32_t field, const void *d, size_t n) {
    wb_tag(b, field, 2);
    wb_varint(b, n);
    wb_raw(b, d, n);
}
static void wb_str(wb *b, uint32_t field, const char *s) { wb_bytes(b, field, s, strlen(s)); }
static void wb_msg(wb *b, uint32_t field, wb *sub) {
    wb_bytes(b, field, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}
static void wb_f32(wb *b, uint32_t field, float f) {
    uint8_t x[4];
    memcpy(x, &f, 4);
    wb_tag(b, field, 5);
    wb_raw(b, x, 4);
}
static void wb_packed_f32(wb *b, uint32_t field, const float *v, int n) { wb_bytes(b, field, v, sizeof(float) * (size_t)n); }
static void wb_packed_varints(wb *b, uint32_t field, const int64_t *v, int n) {
    wb tmp = {0};
    for (int i = 0; i < n; i++) wb_varint(&tmp, (uint64_t)v[i]);
    wb_msg(b, field, &tmp);
}
static void wb_free(wb *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ValueInfoProto for a float tensor of the given dims */
static void wb_vinfo(wb *b, uint32_t field, const char *name, int rank, const int64_t *dims) {
    wb vi = {0}, ty = {0}, tt = {0}, sh = {0};
    for (int i = 0; i < rank; i++) {
        wb d = {0};
        wb_int(&d, 1, dims[i]);
        wb_msg(&sh, 1, &d);
    }
    wb_int(&tt, 1, 1);
    wb_msg(&tt, 2, &sh);
    wb_msg(&ty, 1, &tt);
    wb_str(&vi, 1, name);
    wb_msg(&vi, 2, &ty);
    wb_msg(b, field, &vi);
}

/* ModelProto around `graph` (consumed), opset 13 */
static void wb_model(wb *m, wb *graph) {
    wb op = {0};
    wb_int(m, 1, 7);
    wb_str(&op, 1, "");
    wb_int(&op, 2, 13);
    wb_msg(m, 7, graph);
    wb_msg(m, 8, &op);
}

static void import_wb(loaded *L, const wb *m) {
    memset(L, 0, sizeof *L);
    import_buf(L, m->p, m->n, NULL);
}

static void drop(loaded *L) {
    lp_graph_free(L->g);
    lp_onnx_import_free(&L->imp);
}

static void test_encodings(void) {
    wb g = {0}, node = {0}, at = {0}, t = {0}, m = {0};
    /* node: Identity in -> out, unknown fields of every wire type, attributes in unusual encodings */
    wb_str(&node, 1, "in");
    wb_str(&node, 2, "out");
    wb_str(&node, 4, "Identity");
    wb_tag(&node, 50, 1);
    wb_raw(&node, "12345678", 8);
    wb_tag(&node, 51, 5);
    wb_raw(&node, "1234", 4);
    wb_int(&node, 52, -1);
    wb_tag(&node, 60, 3); /* group 60 { varint; group 61 { fixed32 } } */
    wb_int(&node, 1, 5);
    wb_tag(&node, 61, 3);
    wb_f32(&node, 2, 1.0f);
    wb_tag(&node, 61, 4);
    wb_tag(&node, 60, 4);
    static const int64_t ks[] = {3, -4};
    wb_str(&at, 1, "k"); /* no type field: inferred from ints */
    wb_packed_varints(&at, 8, ks, 2);
    wb_int(&at, 8, 9); /* and one unpacked */
    wb_msg(&node, 5, &at);
    static const float fl[] = {0.5f, 0.25f};
    wb_str(&at, 1, "fl");
    wb_int(&at, 20, 6);
    wb_f32(&at, 7, -1.0f);
    wb_packed_f32(&at, 7, fl, 2);
    wb_f32(&at, 7, 8.0f);
    wb_msg(&node, 5, &at);
    wb_str(&at, 1, "st"); /* STRING with type */
    wb_int(&at, 20, 3);
    wb_str(&at, 4, "hi");
    wb_msg(&node, 5, &at);
    wb_msg(&g, 1, &node);
    /* initializer w: float_data unpacked, dims unpacked, data_type given twice (last wins) */
    wb_int(&t, 1, 3);
    wb_int(&t, 2, 7);
    wb_int(&t, 2, 1);
    wb_f32(&t, 4, 1.5f);
    wb_f32(&t, 4, -2.0f);
    wb_f32(&t, 4, 3.0f);
    wb_str(&t, 8, "w");
    wb_msg(&g, 5, &t);
    /* v: dims packed, float_data in two packed records */
    static const int64_t vd[] = {2, 2};
    static const float v1[] = {1, 2}, v2[] = {3, 4};
    wb_packed_varints(&t, 1, vd, 2);
    wb_int(&t, 2, 1);
    wb_packed_f32(&t, 4, v1, 2);
    wb_packed_f32(&t, 4, v2, 2);
    wb_str(&t, 8, "v");
    wb_msg(&g, 5, &t);
    /* u: int64_data packed + unpacked */
    static const int64_t ud[] = {5, -6};
    wb_int(&t, 1, 3);
    wb_int(&t, 2, 7);
    wb_packed_varints(&t, 7, ud, 2);
    wb_int(&t, 7, 7);
    wb_str(&t, 8, "u");
    wb_msg(&g, 5, &t);
    static const int64_t two[] = {2};
    wb_vinfo(&g, 11, "in", 1, two);
    wb_vinfo(&g, 12, "out", 1, two);
    wb_model(&m, &g);

    loaded L;
    import_wb(&L, &m);
    CHECK(L.st == LP_OK, "hand-made model: %s", L.err.msg);
    if (L.st == LP_OK) {
        lp_graph *G = L.g;
        CHECK(G->opset == 13, "opset");
        int w = find_tensor(G, "w"), v = find_tensor(G, "v"), u = find_tensor(G, "u");
        CHECK(w >= 0 && G->t[w].dtype == LP_DT_F32 && G->t[w].rank == 1 && G->t[w].dims[0] == 3 &&
                  (G->t[w].flags & LP_T_OWNED) && lp_get_f64(LP_DT_F32, G->t[w].data, 0) == 1.5 &&
                  lp_get_f64(LP_DT_F32, G->t[w].data, 1) == -2.0 && lp_get_f64(LP_DT_F32, G->t[w].data, 2) == 3.0,
              "unpacked float_data");
        CHECK(v >= 0 && G->t[v].rank == 2 && G->t[v].dims[1] == 2 && (G->t[v].flags & LP_T_OWNED) &&
                  lp_get_f64(LP_DT_F32, G->t[v].data, 0) == 1 && lp_get_f64(LP_DT_F32, G->t[v].data, 3) == 4,
              "two packed float_data records");
        CHECK(u >= 0 && G->t[u].dtype == LP_DT_I64 && lp_get_i64(LP_DT_I64, G->t[u].data, 0) == 5 &&
                  lp_get_i64(LP_DT_I64, G->t[u].data, 1) == -6 && lp_get_i64(LP_DT_I64, G->t[u].data, 2) == 7,
              "mixed int64_data");
        const lp_node *n = G->n_n == 1 ? &G->n[0] : NULL;
        CHECK(n && strcmp(n->name, "Identity_0") == 0 && n->n_attrs == 3, "node");
        if (n) {
            const lp_attr *a = lp_node_attr(n, "k");
            CHECK(a && a->type == LP_ATTR_INTS && a->n == 3 && a->ints[0] == 3 && a->ints[1] == -4 && a->ints[2] == 9,
                  "INTS inferred, packed + unpacked");
            a = lp_node_attr(n, "fl");
            CHECK(a && a->type == LP_ATTR_FLOATS && a->n == 4 && a->floats[0] == -1.0f && a->floats[1] == 0.5f &&
                      a->floats[2] == 0.25f && a->floats[3] == 8.0f,
                  "FLOATS mixed encodings");
            a = lp_node_attr(n, "st");
            CHECK(a && a->type == LP_ATTR_STRING && strcmp(a->s, "hi") == 0, "STRING");
        }
    }
    drop(&L);
    wb_free(&m);
}

/* one hostile graph inside a valid model; checks status and message pieces */
static void expect_graph_error(const char *what, wb *g, lp_status st, const char *s1, const char *s2) {
    wb m = {0};
    wb_model(&m, g);
    loaded L;
    import_wb(&L, &m);
    const char *subs[] = {s1, s2, NULL};
    check_status(what, &L, st, subs);
    drop(&L);
    wb_free(&m);
}

static void test_hostile(void) {
    wb g = {0}, node = {0}, t = {0};

    /* an 11-byte varint inside a node */
    wb_str(&node, 4, "Relu");
    wb_tag(&node, 50, 0);
    wb_raw(&node, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    wb_msg(&g, 1, &node);
    expect_graph_error("long varint", &g, LP_ERR_PARSE, "varint longer than 10 bytes", "reading NodeProto #0");

    /* wire type 6 */
    wb_str(&node, 4, "Relu");
    wb_tag(&node, 50, 6);
    wb_msg(&g, 1, &node);
    expect_graph_error("wire type 6", &g, LP_ERR_PARSE, "invalid wire type", "NodeProto");

    /* a length running past the end of its message (the node record itself is consistent) */
    wb_str(&node, 3, "n0");
    wb_tag(&node, 1, 2);
    wb_varint(&node, 100);
    wb_raw(&node, "abc", 3);
    wb_msg(&g, 1, &node);
    expect_graph_error("inner length", &g, LP_ERR_PARSE, "truncated protobuf at byte", "reading NodeProto 'n0' input");

    /* a truncated raw_data, with the exact byte offset of its tag */
    {
        wb_int(&t, 1, 4);
        wb_int(&t, 2, 1);
        wb_str(&t, 8, "conv1.weight");
        size_t tag_at = t.n;
        wb_tag(&t, 9, 2);
        wb_varint(&t, 16);
        wb_raw(&t, "abcd", 4);
        uint8_t *tcopy = malloc(t.n);
        size_t tn = t.n;
        memcpy(tcopy, t.p, t.n);
        wb_msg(&g, 5, &t);
        wb m = {0};
        wb_model(&m, &g);
        size_t base = 0;
        for (size_t i = 0; i + tn <= m.n; i++)
            if (memcmp(m.p + i, tcopy, tn) == 0) base = i;
        char want[160];
        snprintf(want, sizeof want, "truncated protobuf at byte %zu (reading TensorProto 'conv1.weight' raw_data)",
                 base + tag_at);
        loaded L;
        import_wb(&L, &m);
        const char *subs[] = {want, NULL};
        check_status("truncated raw_data", &L, LP_ERR_PARSE, subs);
        drop(&L);
        wb_free(&m);
        free(tcopy);
    }

    /* end group that does not match */
    wb_str(&node, 4, "Relu");
    wb_tag(&node, 60, 3);
    wb_tag(&node, 61, 4);
    wb_msg(&g, 1, &node);
    expect_graph_error("group mismatch", &g, LP_ERR_PARSE, "end-group", "NodeProto");

    /* groups nested too deeply */
    wb_str(&node, 4, "Relu");
    for (int i = 0; i < 40; i++) wb_tag(&node, 60, 3);
    for (int i = 0; i < 40; i++) wb_tag(&node, 60, 4);
    wb_msg(&g, 1, &node);
    expect_graph_error("deep groups", &g, LP_ERR_PARSE, "nested too deeply", "NodeProto");

    /* rank 9 initializer */
    for (int i = 0; i < 9; i++) wb_int(&t, 1, 1);
    wb_int(&t, 2, 1);
    wb_str(&t, 8, "r9");
    wb_msg(&g, 5, &t);
    expect_graph_error("rank 9", &g, LP_ERR_LIMIT, "more than 8 dims", "initializer #0");

    /* element count overflow */
    for (int i = 0; i < 3; i++) wb_int(&t, 1, (int64_t)1 << 31);
    wb_int(&t, 2, 1);
    wb_str(&t, 8, "huge");
    wb_raw(&t, "", 0);
    wb_msg(&g, 5, &t);
    expect_graph_error("huge", &g, LP_ERR_LIMIT, "'huge'", "elements");

    /* float_data with a partial element */
    wb_int(&t, 1, 1);
    wb_int(&t, 2, 1);
    wb_str(&t, 8, "odd");
    wb_bytes(&t, 4, "abcde", 5);
    wb_msg(&g, 5, &t);
    expect_graph_error("odd float_data", &g, LP_ERR_PARSE, "multiple of the element size", "'odd' float_data");

    /* float_data with too few values */
    wb_int(&t, 1, 3);
    wb_int(&t, 2, 1);
    wb_str(&t, 8, "few");
    wb_bytes(&t, 4, "abcdefgh", 8);
    wb_msg(&g, 5, &t);
    expect_graph_error("few floats", &g, LP_ERR_INVALID, "'few' has 2 values in float_data", "needs 3");

    /* int64_data on a float tensor */
    wb_int(&t, 1, 1);
    wb_int(&t, 2, 1);
    wb_str(&t, 8, "mixed");
    wb_int(&t, 7, 1);
    wb_msg(&g, 5, &t);
    expect_graph_error("wrong typed field", &g, LP_ERR_INVALID, "'mixed'", "int64_data");

    /* a function attribute reference */
    {
        wb at = {0};
        wb_str(&node, 1, "a");
        wb_str(&node, 2, "b");
        wb_str(&node, 4, "Relu");
        wb_str(&at, 1, "alpha");
        wb_str(&at, 21, "outer_alpha");
        wb_int(&at, 20, 1);
        wb_msg(&node, 5, &at);
        wb_msg(&g, 1, &node);
        static const int64_t one[] = {1};
        wb_vinfo(&g, 11, "a", 1, one);
        expect_graph_error("ref_attr_name", &g, LP_ERR_UNSUPPORTED, "ref_attr_name", "'alpha'");
    }

    /* a string that is too long */
    {
        char *big = malloc(LP_MAX_NAME + 2);
        memset(big, 'a', LP_MAX_NAME + 1);
        big[LP_MAX_NAME + 1] = 0;
        wb_str(&node, 3, big);
        wb_str(&node, 4, "Relu");
        wb_msg(&g, 1, &node);
        expect_graph_error("long name", &g, LP_ERR_LIMIT, "node name", "at most 4096");
        free(big);
    }

    /* a graph output nobody produces */
    static const int64_t one[] = {1};
    wb_vinfo(&g, 12, "nowhere", 1, one);
    expect_graph_error("dangling output", &g, LP_ERR_INVALID, "'nowhere'", "not produced");

    /* two initializers with one name */
    for (int i = 0; i < 2; i++) {
        wb_int(&t, 2, 1);
        wb_str(&t, 8, "dup");
        wb_bytes(&t, 9, "abcd", 4);
        wb_msg(&g, 5, &t);
    }
    expect_graph_error("duplicate initializer", &g, LP_ERR_INVALID, "two initializers", "'dup'");
}

/* 100k nodes in a chain, to keep name lookup honest (a linear search would take minutes). Under
 * AddressSanitizer the chain is shorter: every realloc there moves the block, and
 * lp_graph_add_origin reallocs on each call, which makes 100k nodes take ~40 s. */
#if defined(__SANITIZE_ADDRESS__)
#define BIG_N 20000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIG_N 20000
#endif
#endif
#ifndef BIG_N
#define BIG_N 100000
#endif
static void test_big_graph(void) {
    enum { N = BIG_N };
    wb g = {0}, node = {0}, m = {0};
    char a[32], b[32];
    for (int i = 0; i < N; i++) {
        snprintf(a, sizeof a, "t%d", i);
        snprintf(b, sizeof b, "t%d", i + 1);
        wb_str(&node, 1, a);
        wb_str(&node, 2, b);
        wb_str(&node, 4, "Relu");
        wb_msg(&g, 1, &node);
    }
    static const int64_t d[] = {4};
    wb_vinfo(&g, 11, "t0", 1, d);
    snprintf(b, sizeof b, "t%d", N);
    wb_vinfo(&g, 12, b, 1, d);
    wb_model(&m, &g);
    double t0 = lp_now();
    loaded L;
    import_wb(&L, &m);
    double dt = lp_now() - t0;
    CHECK(L.st == LP_OK && L.g->n_n == N && L.g->n_t == N + 1, "big graph: %s", L.err.msg);
    printf("%d-node chain imported in %.3f s\n", N, dt);
    drop(&L);
    wb_free(&m);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR (written by tests/c/make_onnx_fixtures.py)\n", argv[0]);
        return 2;
    }
    fx = argv[1];
    test_basic();
    test_expect();
    test_external();
    test_torch();
    test_subgraphs();
    test_error_files();
    test_truncation();
    test_mutations();
    test_encodings();
    test_hostile();
    test_big_graph();
    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
