/* SPDX-License-Identifier: MIT */
/* RE2-syntax regex engine (see regex.h): parser to a tree, compiler to a Thompson NFA program,
 * and a state-set simulation whose cost is O(pattern size x input length). */
#include "providers/cpu/ops/regex.h"

#include <string.h>

#include "providers/cpu/ops/text.h"

#define MAX_REPEAT 1000   /* RE2's limit on {n,m} counts */
#define MAX_DEPTH 1000    /* nesting of groups */
#define MAX_INSTS 100000  /* compiled program size */
#define MAX_CP 0x10ffffu
#define FOLD_LIMIT 0x500u /* case mapping only knows code points below this */

/* ---- tree ---- */

enum { N_EMPTY, N_SET, N_ANY, N_CAT, N_ALT, N_REP, N_ASSERT };
enum { A_BOL, A_EOL, A_BOT, A_EOT, A_WORD, A_NOT_WORD };

typedef struct rnode {
    uint8_t type;
    uint8_t flag;     /* N_SET: negated; N_ANY: matches '\n'; N_ASSERT: kind */
    int32_t child;    /* N_CAT/N_ALT: first item; N_REP: the repeated node */
    int32_t next;     /* next sibling in a CAT/ALT list, -1 at the end */
    int32_t min, max; /* N_REP; max -1: unbounded */
    uint32_t r0, nr;  /* N_SET: ranges[r0 .. r0+nr) */
} rnode;

typedef struct parser {
    const cpu_kernel *k;
    const char *s;
    size_t len, pos;
    rnode *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t (*ranges)[2];
    uint32_t n_ranges, cap_ranges;
    int icase, dotnl, multiline, depth;
    kiln_error *err;
    kiln_status st;
} parser;

static int fail(parser *p, kiln_status st, const char *what) {
    if (p->st == KILN_OK)
        p->st = cpu_fail(p->err, st, "regex pattern: %s at byte %zu", what, p->pos);
    return -1;
}

/* Grows a kernel-heap array to hold at least `need` items. */
static int grow(parser *p, void **arr, uint32_t *cap, uint32_t need, size_t item) {
    if (need <= *cap) return 0;
    uint32_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *na = cpu_alloc(p->k, (size_t)nc * item);
    if (!na) return fail(p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (*cap) memcpy(na, *arr, (size_t)*cap * item);
    cpu_free(p->k, *arr);
    *arr = na;
    *cap = nc;
    return 0;
}

static int32_t new_node(parser *p, uint8_t type) {
    if (p->n_nodes >= MAX_INSTS) return fail(p, KILN_ERR_UNSUPPORTED, "pattern too large");
    if (grow(p, (void **)&p->nodes, &p->cap_nodes, p->n_nodes + 1, sizeof(rnode)) < 0) return -1;
    rnode *n = &p->nodes[p->n_nodes];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->child = n->next = -1;
    return (int32_t)p->n_nodes++;
}

static int add_range(parser *p, uint32_t lo, uint32_t hi) {
    if (p->n_ranges >= 4 * MAX_INSTS) return fail(p, KILN_ERR_UNSUPPORTED, "pattern too large");
    if (grow(p, (void **)&p->ranges, &p->cap_ranges, p->n_ranges + 1, sizeof(p->ranges[0])) < 0) return -1;
    p->ranges[p->n_ranges][0] = lo;
    p->ranges[p->n_ranges][1] = hi;
    p->n_ranges++;
    return 0;
}

/* Adds the ranges of a sorted list, or of its complement in [0, MAX_CP]. */
static int add_ranges(parser *p, const uint32_t (*r)[2], uint32_t n, int negate) {
    if (!negate) {
        for (uint32_t i = 0; i < n; i++)
            if (add_range(p, r[i][0], r[i][1]) < 0) return -1;
        return 0;
    }
    uint32_t lo = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (r[i][0] > lo && add_range(p, lo, r[i][0] - 1) < 0) return -1;
        lo = r[i][1] + 1;
    }
    return lo <= MAX_CP ? add_range(p, lo, MAX_CP) : 0;
}

/* Adds the other-case forms of the ranges added since r0 (before any negation). */
static int fold_ranges(parser *p, uint32_t r0) {
    uint32_t end = p->n_ranges;
    for (uint32_t i = r0; i < end; i++) {
        uint32_t lo = p->ranges[i][0], hi = p->ranges[i][1];
        for (uint32_t c = lo; c <= hi && c < FOLD_LIMIT; c++) {
            uint32_t l = cpu_case_lower(c), u = cpu_case_upper(c);
            if ((l < lo || l > hi) && add_range(p, l, l) < 0) return -1;
            if ((u < lo || u > hi) && add_range(p, u, u) < 0) return -1;
        }
    }
    return 0;
}

static const uint32_t R_DIGIT[][2] = {{'0', '9'}};
static const uint32_t R_SPACE[][2] = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};
static const uint32_t R_WORD[][2] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};

static const struct {
    const char *name;
    uint32_t n;
    uint32_t r[4][2];
} POSIX[] = {
    {"alnum", 3, {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}}},
    {"alpha", 2, {{'A', 'Z'}, {'a', 'z'}}},
    {"ascii", 1, {{0, 0x7f}}},
    {"blank", 2, {{'\t', '\t'}, {' ', ' '}}},
    {"cntrl", 2, {{0, 0x1f}, {0x7f, 0x7f}}},
    {"digit", 1, {{'0', '9'}}},
    {"graph", 1, {{'!', '~'}}},
    {"lower", 1, {{'a', 'z'}}},
    {"print", 1, {{' ', '~'}}},
    {"punct", 4, {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}}},
    {"space", 2, {{'\t', '\r'}, {' ', ' '}}},
    {"upper", 1, {{'A', 'Z'}}},
    {"word", 4, {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}},
    {"xdigit", 3, {{'0', '9'}, {'A', 'F'}, {'a', 'f'}}},
};

static int peek(const parser *p) { return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1; }

static uint32_t next_cp(parser *p) {
    uint32_t c;
    p->pos += cpu_utf8_decode(p->s + p->pos, p->len - p->pos, &c);
    return c;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* After a backslash: a Perl class (\d \s \w and negations) is added to the ranges and returns 1;
 * a single character is stored in *cp and returns 0; -1 on error. Assertions are handled by the
 * caller before. */
static int parse_escape(parser *p, uint32_t *cp) {
    if (p->pos >= p->len) return fail(p, KILN_ERR_INVALID_MODEL, "trailing backslash");
    int c = peek(p);
    p->pos++;
    switch (c) {
    case 'd': case 'D': return add_ranges(p, R_DIGIT, 1, c == 'D') < 0 ? -1 : 1;
    case 's': case 'S': return add_ranges(p, R_SPACE, 3, c == 'S') < 0 ? -1 : 1;
    case 'w': case 'W': return add_ranges(p, R_WORD, 4, c == 'W') < 0 ? -1 : 1;
    case 'a': *cp = 7; return 0;
    case 'f': *cp = '\f'; return 0;
    case 't': *cp = '\t'; return 0;
    case 'n': *cp = '\n'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 'v': *cp = '\v'; return 0;
    case 'p': case 'P':
        p->pos--;
        return fail(p, KILN_ERR_UNSUPPORTED, "Unicode character classes (\\p, \\P) are not supported");
    case 'C':
        p->pos--;
        return fail(p, KILN_ERR_UNSUPPORTED, "\\C (any byte) is not supported");
    case 'x': {
        uint32_t v = 0;
        if (peek(p) == '{') {
            p->pos++;
            int digits = 0;
            while (peek(p) >= 0 && peek(p) != '}') {
                int h = hexval(peek(p));
                if (h < 0 || ++digits > 8) return fail(p, KILN_ERR_INVALID_MODEL, "bad \\x{...} escape");
                v = v * 16 + (uint32_t)h;
                p->pos++;
            }
            if (peek(p) != '}' || !digits) return fail(p, KILN_ERR_INVALID_MODEL, "bad \\x{...} escape");
            p->pos++;
        } else {
            for (int i = 0; i < 2; i++) {
                int h = hexval(peek(p));
                if (h < 0) return fail(p, KILN_ERR_INVALID_MODEL, "bad \\x escape");
                v = v * 16 + (uint32_t)h;
                p->pos++;
            }
        }
        if (v > MAX_CP) return fail(p, KILN_ERR_INVALID_MODEL, "escape beyond U+10FFFF");
        *cp = v;
        return 0;
    }
    default:
        break;
    }
    if (c >= '0' && c <= '7') {
        /* Octal: \0, or \1-\7 followed by another octal digit (a lone \1-\9 would be a
         * backreference, which RE2 does not have). */
        if (c != '0' && !(peek(p) >= '0' && peek(p) <= '7'))
            return fail(p, KILN_ERR_INVALID_MODEL, "backreferences are not RE2 syntax");
        uint32_t v = (uint32_t)(c - '0');
        for (int i = 0; i < 2 && peek(p) >= '0' && peek(p) <= '7'; i++) v = v * 8 + (uint32_t)(peek(p) - '0'), p->pos++;
        *cp = v;
        return 0;
    }
    if (c < 0x80 && !(c >= '0' && c <= '9') && !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && c != '_') {
        *cp = (uint32_t)c; /* escaped punctuation */
        return 0;
    }
    p->pos--;
    return fail(p, KILN_ERR_INVALID_MODEL, "invalid escape");
}

/* A set node of one code point (case variants added under (?i)). */
static int32_t literal(parser *p, uint32_t c) {
    int32_t n = new_node(p, N_SET);
    if (n < 0) return -1;
    uint32_t r0 = p->n_ranges;
    if (add_range(p, c, c) < 0 || (p->icase && fold_ranges(p, r0) < 0)) return -1;
    p->nodes[n].r0 = r0;
    p->nodes[n].nr = p->n_ranges - r0;
    return n;
}

/* After '[': a bracket class. */
static int32_t parse_class(parser *p) {
    int32_t n = new_node(p, N_SET);
    if (n < 0) return -1;
    uint32_t r0 = p->n_ranges;
    int neg = 0, first = 1;
    if (peek(p) == '^') {
        neg = 1;
        p->pos++;
    }
    for (;;) {
        int c = peek(p);
        if (c < 0) return fail(p, KILN_ERR_INVALID_MODEL, "missing ]");
        if (c == ']' && !first) {
            p->pos++;
            break;
        }
        first = 0;
        if (c == '[' && p->pos + 1 < p->len && p->s[p->pos + 1] == ':') {
            size_t start = p->pos + 2, e = start;
            while (e + 1 < p->len && !(p->s[e] == ':' && p->s[e + 1] == ']')) e++;
            if (e + 1 < p->len) {
                int pneg = p->s[start] == '^';
                size_t nlen = e - start - (size_t)pneg;
                const char *name = p->s + start + pneg;
                size_t i = 0;
                while (i < sizeof(POSIX) / sizeof(POSIX[0]) &&
                       !(strlen(POSIX[i].name) == nlen && memcmp(POSIX[i].name, name, nlen) == 0))
                    i++;
                if (i == sizeof(POSIX) / sizeof(POSIX[0])) return fail(p, KILN_ERR_INVALID_MODEL, "unknown POSIX class");
                if (add_ranges(p, (const uint32_t(*)[2])POSIX[i].r, POSIX[i].n, pneg) < 0) return -1;
                p->pos = e + 2;
                continue;
            }
        }
        uint32_t lo;
        if (c == '\\') {
            p->pos++;
            int r = parse_escape(p, &lo);
            if (r < 0) return -1;
            if (r == 1) continue; /* a Perl class */
        } else {
            lo = next_cp(p);
        }
        uint32_t hi = lo;
        if (peek(p) == '-' && p->pos + 1 < p->len && p->s[p->pos + 1] != ']') {
            p->pos++;
            if (peek(p) == '\\') {
                p->pos++;
                int r = parse_escape(p, &hi);
                if (r < 0) return -1;
                if (r == 1) return fail(p, KILN_ERR_INVALID_MODEL, "bad character class range");
            } else {
                hi = next_cp(p);
            }
            if (hi < lo) return fail(p, KILN_ERR_INVALID_MODEL, "bad character class range");
        }
        if (add_range(p, lo, hi) < 0) return -1;
    }
    if (p->icase && fold_ranges(p, r0) < 0) return -1;
    p->nodes[n].r0 = r0;
    p->nodes[n].nr = p->n_ranges - r0;
    p->nodes[n].flag = (uint8_t)neg;
    return n;
}

static int32_t parse_alt(parser *p);

static int32_t assertion(parser *p, uint8_t kind) {
    int32_t n = new_node(p, N_ASSERT);
    if (n >= 0) p->nodes[n].flag = kind;
    return n;
}

/* After '(': a group, flags or a flag-scoped group. */
static int32_t parse_group(parser *p) {
    int icase = p->icase, dotnl = p->dotnl, ml = p->multiline;
    if (peek(p) == '?') {
        p->pos++;
        int c = peek(p);
        if (c == 'P' || c == '<') {
            if (c == 'P') p->pos++;
            if (peek(p) != '<') return fail(p, KILN_ERR_INVALID_MODEL, "bad named group");
            if (p->pos + 1 < p->len && (p->s[p->pos + 1] == '=' || p->s[p->pos + 1] == '!'))
                return fail(p, KILN_ERR_INVALID_MODEL, "lookbehind is not RE2 syntax");
            p->pos++;
            size_t start = p->pos;
            while (peek(p) >= 0 && peek(p) != '>') {
                int ch = peek(p);
                if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_'))
                    return fail(p, KILN_ERR_INVALID_MODEL, "bad group name");
                p->pos++;
            }
            if (peek(p) != '>' || p->pos == start) return fail(p, KILN_ERR_INVALID_MODEL, "bad named group");
            p->pos++;
        } else if (c == '=' || c == '!') {
            return fail(p, KILN_ERR_INVALID_MODEL, "lookahead is not RE2 syntax");
        } else if (c == ':') {
            p->pos++; /* non-capturing group */
        } else {
            /* Flags: (?flags) for the rest of the enclosing group, or (?flags:re). */
            int on = 1, count = 0, after_minus = 0;
            for (;;) {
                c = peek(p);
                if (c == 'i') p->icase = on;
                else if (c == 's') p->dotnl = on;
                else if (c == 'm') p->multiline = on;
                else if (c == 'U') (void)0; /* ungreedy: no effect on whether a full match exists */
                else if (c == '-' && on) on = 0;
                else break;
                if (c != '-') count++, after_minus = !on;
                p->pos++;
            }
            if ((c != ')' && c != ':') || !count || (!on && !after_minus))
                return fail(p, KILN_ERR_INVALID_MODEL, "bad flags group");
            p->pos++;
            if (c == ')') return new_node(p, N_EMPTY); /* flags stay set: caller does not restore */
        }
    }
    if (++p->depth > MAX_DEPTH) return fail(p, KILN_ERR_UNSUPPORTED, "groups nested too deeply");
    int32_t n = parse_alt(p);
    p->depth--;
    if (n < 0) return -1;
    if (peek(p) != ')') return fail(p, KILN_ERR_INVALID_MODEL, "missing )");
    p->pos++;
    p->icase = icase, p->dotnl = dotnl, p->multiline = ml;
    return n;
}

/* One atom, or -2 at the end of a concatenation ('|', ')' or the end). */
static int32_t parse_atom(parser *p) {
    int c = peek(p);
    if (c < 0 || c == '|' || c == ')') return -2;
    if (c == '*' || c == '+' || c == '?') return fail(p, KILN_ERR_INVALID_MODEL, "missing argument to repetition operator");
    p->pos++;
    switch (c) {
    case '(': return parse_group(p);
    case '[': return parse_class(p);
    case '.': {
        int32_t n = new_node(p, N_ANY);
        if (n >= 0) p->nodes[n].flag = (uint8_t)p->dotnl;
        return n;
    }
    case '^': return assertion(p, p->multiline ? A_BOL : A_BOT);
    case '$': return assertion(p, p->multiline ? A_EOL : A_EOT);
    case '\\': {
        int e = peek(p);
        if (e == 'b' || e == 'B' || e == 'A' || e == 'z') {
            p->pos++;
            return assertion(p, e == 'b' ? A_WORD : e == 'B' ? A_NOT_WORD : e == 'A' ? A_BOT : A_EOT);
        }
        if (e == 'Q') {
            /* Literal text up to \E (or the end): a concatenation of literals. */
            p->pos++;
            int32_t cat = new_node(p, N_CAT), last = -1;
            if (cat < 0) return -1;
            while (p->pos < p->len && !(p->s[p->pos] == '\\' && p->pos + 1 < p->len && p->s[p->pos + 1] == 'E')) {
                int32_t l = literal(p, next_cp(p));
                if (l < 0) return -1;
                if (last < 0) p->nodes[cat].child = l;
                else p->nodes[last].next = l;
                last = l;
            }
            if (p->pos < p->len) p->pos += 2;
            return cat;
        }
        int32_t n = new_node(p, N_SET);
        if (n < 0) return -1;
        uint32_t r0 = p->n_ranges, cp;
        int r = parse_escape(p, &cp);
        if (r < 0) return -1;
        if (r == 0 && add_range(p, cp, cp) < 0) return -1;
        if (p->icase && r == 0 && fold_ranges(p, r0) < 0) return -1;
        p->nodes[n].r0 = r0;
        p->nodes[n].nr = p->n_ranges - r0;
        return n;
    }
    default:
        p->pos--;
        return literal(p, next_cp(p));
    }
}

/* Reads "{n}", "{n,}" or "{n,m}" at p->pos; 0 (position unchanged) when it is not one, so the
 * brace is a literal as in RE2. */
static int parse_braces(parser *p, int32_t *min, int32_t *max) {
    size_t i = p->pos + 1;
    int64_t a = -1, b;
    for (; i < p->len && p->s[i] >= '0' && p->s[i] <= '9'; i++) a = (a < 0 ? 0 : a) * 10 + (p->s[i] - '0'), a = a > 100000 ? 100000 : a;
    if (a < 0 || i >= p->len) return 0;
    if (p->s[i] == '}') {
        b = a;
    } else if (p->s[i] == ',') {
        i++;
        b = -1;
        for (; i < p->len && p->s[i] >= '0' && p->s[i] <= '9'; i++) b = (b < 0 ? 0 : b) * 10 + (p->s[i] - '0'), b = b > 100000 ? 100000 : b;
        if (i >= p->len || p->s[i] != '}') return 0;
    } else {
        return 0;
    }
    if (a > MAX_REPEAT || b > MAX_REPEAT) return fail(p, KILN_ERR_UNSUPPORTED, "repeat count above 1000");
    if (b >= 0 && b < a) return fail(p, KILN_ERR_INVALID_MODEL, "bad repetition range");
    *min = (int32_t)a;
    *max = (int32_t)b;
    p->pos = i + 1;
    return 1;
}

static int32_t parse_repeat(parser *p) {
    int32_t atom = parse_atom(p);
    if (atom < 0) return atom;
    int32_t min, max;
    int c = peek(p);
    if (c == '*') min = 0, max = -1, p->pos++;
    else if (c == '+') min = 1, max = -1, p->pos++;
    else if (c == '?') min = 0, max = 1, p->pos++;
    else if (c == '{') {
        int r = parse_braces(p, &min, &max);
        if (r < 0) return -1;
        if (r == 0) return atom;
    } else {
        return atom;
    }
    if (peek(p) == '?') p->pos++; /* non-greedy: same full-match answer */
    c = peek(p);
    if (c == '*' || c == '+' || c == '?') return fail(p, KILN_ERR_INVALID_MODEL, "bad repetition operator");
    int32_t n = new_node(p, N_REP);
    if (n < 0) return -1;
    p->nodes[n].child = atom;
    p->nodes[n].min = min;
    p->nodes[n].max = max;
    return n;
}

static int32_t parse_concat(parser *p) {
    int32_t cat = new_node(p, N_CAT), last = -1;
    if (cat < 0) return -1;
    for (;;) {
        int32_t r = parse_repeat(p);
        if (r == -2) break;
        if (r < 0) return -1;
        if (last < 0) p->nodes[cat].child = r;
        else p->nodes[last].next = r;
        last = r;
    }
    return cat;
}

static int32_t parse_alt(parser *p) {
    int32_t alt = new_node(p, N_ALT), last = -1;
    if (alt < 0) return -1;
    for (;;) {
        int32_t c = parse_concat(p);
        if (c < 0) return -1;
        if (last < 0) p->nodes[alt].child = c;
        else p->nodes[last].next = c;
        last = c;
        if (peek(p) != '|') break;
        p->pos++;
    }
    return alt;
}

/* ---- program ---- */

enum { I_SET, I_ANY, I_SPLIT, I_JMP, I_ASSERT, I_MATCH };

typedef struct rinst {
    uint8_t op;
    uint8_t flag;      /* I_SET: negated; I_ANY: matches '\n'; I_ASSERT: kind */
    uint32_t x, y;     /* I_SPLIT: targets; I_JMP: x; I_SET: ranges[x .. x+y) */
} rinst;

struct cpu_regex {
    rinst *prog;
    uint32_t n;
    uint32_t (*ranges)[2];
};

/* Instructions node `i` compiles to (saturating above MAX_INSTS). */
static uint64_t size_of(const parser *p, int32_t i) {
    const rnode *n = &p->nodes[i];
    uint64_t s = 0, k = 0;
    switch (n->type) {
    case N_EMPTY: return 0;
    case N_SET: case N_ANY: case N_ASSERT: return 1;
    case N_CAT: case N_ALT:
        for (int32_t c = n->child; c >= 0; c = p->nodes[c].next, k++) {
            s += size_of(p, c);
            if (s > MAX_INSTS) return MAX_INSTS + 1;
        }
        return n->type == N_ALT && k > 1 ? s + 2 * (k - 1) : s;
    default: {
        uint64_t a = size_of(p, n->child);
        s = a * (uint64_t)n->min + (n->max < 0 ? a + 2 : (uint64_t)(n->max - n->min) * (a + 1));
        return s > MAX_INSTS ? MAX_INSTS + 1 : s;
    }
    }
}

typedef struct compiler {
    const parser *p;
    rinst *prog;
    uint32_t n;
} compiler;

static uint32_t emit(compiler *c, uint8_t op, uint8_t flag, uint32_t x, uint32_t y) {
    rinst *in = &c->prog[c->n];
    in->op = op, in->flag = flag, in->x = x, in->y = y;
    return c->n++;
}

static void compile(compiler *c, int32_t i) {
    const rnode *n = &c->p->nodes[i];
    switch (n->type) {
    case N_EMPTY: return;
    case N_SET: emit(c, I_SET, n->flag, n->r0, n->nr); return;
    case N_ANY: emit(c, I_ANY, n->flag, 0, 0); return;
    case N_ASSERT: emit(c, I_ASSERT, n->flag, 0, 0); return;
    case N_CAT:
        for (int32_t k = n->child; k >= 0; k = c->p->nodes[k].next) compile(c, k);
        return;
    case N_ALT: {
        /* split a1, next; a1; jmp end; next: split a2, ...; last alternative; end: */
        uint32_t prev_jmp = UINT32_MAX;
        for (int32_t k = n->child; k >= 0; k = c->p->nodes[k].next) {
            if (c->p->nodes[k].next < 0) {
                compile(c, k);
                break;
            }
            uint32_t split = emit(c, I_SPLIT, 0, 0, 0);
            c->prog[split].x = c->n;
            compile(c, k);
            /* Chain the pending jumps through their y field; patched to the end below. */
            prev_jmp = emit(c, I_JMP, 0, 0, prev_jmp);
            c->prog[split].y = c->n;
        }
        for (uint32_t j = prev_jmp; j != UINT32_MAX;) {
            uint32_t nx = c->prog[j].y;
            c->prog[j].x = c->n;
            c->prog[j].y = 0;
            j = nx;
        }
        return;
    }
    default: {
        for (int32_t k = 0; k < n->min; k++) compile(c, n->child);
        if (n->max < 0) {
            uint32_t split = emit(c, I_SPLIT, 0, 0, 0);
            c->prog[split].x = c->n;
            compile(c, n->child);
            emit(c, I_JMP, 0, split, 0);
            c->prog[split].y = c->n;
            return;
        }
        uint32_t first = c->n;
        for (int32_t k = n->min; k < n->max; k++) {
            uint32_t split = emit(c, I_SPLIT, 0, 0, UINT32_MAX);
            c->prog[split].x = c->n;
            compile(c, n->child);
        }
        for (uint32_t k = first; k < c->n; k++)
            if (c->prog[k].op == I_SPLIT && c->prog[k].y == UINT32_MAX) c->prog[k].y = c->n;
        return;
    }
    }
}

void cpu_regex_free(const cpu_kernel *k, cpu_regex *re) {
    if (!re) return;
    cpu_free(k, re->prog);
    cpu_free(k, re->ranges);
    cpu_free(k, re);
}

kiln_status cpu_regex_compile(const cpu_kernel *k, const char *pattern, size_t len, cpu_regex **out, kiln_error *err) {
    *out = NULL;
    parser p;
    memset(&p, 0, sizeof(p));
    p.k = k, p.s = pattern, p.len = len, p.err = err;
    int32_t root = parse_alt(&p);
    if (root >= 0 && p.pos < p.len) fail(&p, KILN_ERR_INVALID_MODEL, "unmatched )");
    uint64_t size = p.st == KILN_OK ? size_of(&p, root) + 1 : 0;
    if (p.st == KILN_OK && size > MAX_INSTS) fail(&p, KILN_ERR_UNSUPPORTED, "pattern too large");
    cpu_regex *re = NULL;
    if (p.st == KILN_OK) {
        re = cpu_alloc(k, sizeof(*re));
        rinst *prog = cpu_alloc(k, (size_t)size * sizeof(rinst));
        if (!re || !prog) {
            cpu_free(k, re);
            cpu_free(k, prog);
            re = NULL;
            fail(&p, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        } else {
            compiler c = {&p, prog, 0};
            compile(&c, root);
            emit(&c, I_MATCH, 0, 0, 0);
            re->prog = prog;
            re->n = c.n;
            re->ranges = p.ranges;
            p.ranges = NULL;
        }
    }
    cpu_free(k, p.nodes);
    cpu_free(k, p.ranges);
    if (p.st != KILN_OK) return p.st;
    *out = re;
    return KILN_OK;
}

/* ---- matching ---- */

typedef struct sset {
    uint32_t n;
    uint32_t *dense, *sparse;
} sset;

static int sset_has(const sset *s, uint32_t i) { return s->sparse[i] < s->n && s->dense[s->sparse[i]] == i; }

static void sset_add(sset *s, uint32_t i) {
    s->sparse[i] = s->n;
    s->dense[s->n++] = i;
}

size_t cpu_regex_work_size(const cpu_regex *re) { return (size_t)(6 * re->n + 2) * sizeof(uint32_t); }

static int is_word(int64_t c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* Position context for assertions: previous and next code points (-1 at the text's ends). */
typedef struct at {
    int64_t prev, next;
} at;

static int holds(uint8_t kind, const at *a) {
    switch (kind) {
    case A_BOT: return a->prev < 0;
    case A_EOT: return a->next < 0;
    case A_BOL: return a->prev < 0 || a->prev == '\n';
    case A_EOL: return a->next < 0 || a->next == '\n';
    case A_WORD: return is_word(a->prev) != is_word(a->next);
    default: return is_word(a->prev) == is_word(a->next);
    }
}

/* Adds pc and everything reachable from it without consuming input. */
static void add_thread(const cpu_regex *re, sset *l, uint32_t *stack, uint32_t pc, const at *a) {
    uint32_t sp = 0;
    stack[sp++] = pc;
    while (sp) {
        pc = stack[--sp];
        if (sset_has(l, pc)) continue;
        sset_add(l, pc);
        const rinst *in = &re->prog[pc];
        if (in->op == I_JMP) {
            stack[sp++] = in->x;
        } else if (in->op == I_SPLIT) {
            stack[sp++] = in->y;
            stack[sp++] = in->x;
        } else if (in->op == I_ASSERT && holds(in->flag, a)) {
            stack[sp++] = pc + 1;
        }
    }
}

static int set_match(const cpu_regex *re, const rinst *in, uint32_t c) {
    int hit = 0;
    for (uint32_t i = 0; i < in->y && !hit; i++) hit = c >= re->ranges[in->x + i][0] && c <= re->ranges[in->x + i][1];
    return hit != in->flag;
}

static int64_t cp_at(const char *s, size_t len, size_t pos, size_t *n) {
    if (pos >= len) {
        *n = 0;
        return -1;
    }
    uint32_t c;
    *n = cpu_utf8_decode(s + pos, len - pos, &c);
    return c;
}

int cpu_regex_full_match(const cpu_regex *re, const char *s, size_t len, void *work) {
    uint32_t *w = work, n = re->n;
    /* Each stack entry comes from one edge: at most two per instruction. */
    sset cl = {0, w, w + n}, nl = {0, w + 2 * n, w + 3 * n};
    uint32_t *stack = w + 4 * n;
    memset(w, 0, (size_t)4 * n * sizeof(uint32_t)); /* the sparse sets are then never read uninitialized */
    size_t step;
    at a = {-1, cp_at(s, len, 0, &step)};
    add_thread(re, &cl, stack, 0, &a);
    size_t pos = 0;
    while (pos < len) {
        int64_t c = cp_at(s, len, pos, &step);
        size_t nstep;
        at na = {c, cp_at(s, len, pos + step, &nstep)};
        nl.n = 0;
        for (uint32_t i = 0; i < cl.n; i++) {
            const rinst *in = &re->prog[cl.dense[i]];
            int ok = (in->op == I_SET && set_match(re, in, (uint32_t)c)) || (in->op == I_ANY && (in->flag || c != '\n'));
            if (ok) add_thread(re, &nl, stack, cl.dense[i] + 1, &na);
        }
        sset t = cl;
        cl = nl;
        nl = t;
        if (!cl.n) return 0;
        pos += step;
    }
    for (uint32_t i = 0; i < cl.n; i++)
        if (re->prog[cl.dense[i]].op == I_MATCH) return 1;
    return 0;
}
