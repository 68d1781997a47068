/* SPDX-License-Identifier: MIT */
/* Result rows: ratios, share of the measured peak, and the table / JSON / CSV output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* An int8 case (its group names the operand types): GOP/s against the int8 peak. */
static int is_int8(const char *group) {
    return strstr(group, "u8s8") || strstr(group, "s8s8") || strstr(group, "u8u8") || strstr(group, "s8u8");
}

rb_row *rb_rows_add(rb_rows *r) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 32;
        rb_row *v = realloc(r->v, cap * sizeof(*v));
        if (!v) return NULL;
        r->v = v;
        r->cap = cap;
    }
    rb_row *row = &r->v[r->n++];
    memset(row, 0, sizeof(*row));
    row->ratio = -1;
    row->pct_peak = -1;
    return row;
}

void rb_rows_free(rb_rows *r) {
    free(r->v);
    memset(r, 0, sizeof(*r));
}

void rb_rows_finish(rb_rows *r) {
    for (size_t i = 0; i < r->n; i++) {
        rb_row *k = &r->v[i];
        if (k->median_s <= 0) continue;
        int int8 = is_int8(k->group);
        double peak = rb_peak_for(int8, k->threads, k->memory_bound, k->bytes);
        if (peak > 0) k->pct_peak = 100.0 * k->rate / peak;
        if (k->role == RB_KILN) {
            /* Against the best library reference (the naive loop only when there is none). */
            double best_ref = 0, best_naive = 0;
            for (size_t j = 0; j < r->n; j++) {
                const rb_row *o = &r->v[j];
                if (o->role == RB_KILN || o->threads != k->threads || strcmp(o->group, k->group) || o->median_s <= 0)
                    continue;
                double *best = o->role == RB_REF ? &best_ref : &best_naive;
                if (*best == 0 || o->median_s < *best) *best = o->median_s;
            }
            double ref = best_ref > 0 ? best_ref : best_naive;
            if (ref > 0) k->ratio = ref / k->median_s;
        } else if (k->role == RB_REF) {
            /* Kiln's fastest timed row of the case (a case now has one row per kernel config,
             * the scalar one first) against this reference alone. */
            double best_kiln = 0;
            for (size_t j = 0; j < r->n; j++) {
                const rb_row *o = &r->v[j];
                if (o->role != RB_KILN || o->threads != k->threads || strcmp(o->group, k->group) || o->median_s <= 0)
                    continue;
                if (best_kiln == 0 || o->median_s < best_kiln) best_kiln = o->median_s;
            }
            if (best_kiln > 0) k->ratio = k->median_s / best_kiln;
        }
    }
}

/* GFLOP/s, GOP/s (integer cases) or GB/s (memory-bound ones). */
static const char *unit_of(const rb_row *w) {
    if (w->memory_bound) return "GB/s";
    return is_int8(w->group) ? "GOP/s" : "GFLOP/s";
}

static const char *role_name(rb_role r) { return r == RB_KILN ? "kiln" : r == RB_REF ? "ref" : "naive"; }

static void json_str(FILE *o, const char *s) {
    fputc('"', o);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', o);
        if ((unsigned char)*s < 0x20) fprintf(o, "\\u%04x", *s);
        else fputc(*s, o);
    }
    fputc('"', o);
}

void rb_output_rows(const rb_rows *r, rb_format f, FILE *o) {
    if (f == RB_JSON) {
        fprintf(o, "[");
        for (size_t i = 0; i < r->n; i++) {
            const rb_row *w = &r->v[i];
            char err[32] = "null"; /* JSON has no Inf / NaN */
            if (isfinite(w->max_err)) snprintf(err, sizeof(err), "%.4g", w->max_err);
            fprintf(o, "%s\n{\"case\":", i ? "," : "");
            json_str(o, w->group);
            fprintf(o, ",\"impl\":");
            json_str(o, w->impl);
            fprintf(o, ",\"role\":\"%s\",\"isa\":\"%s\",\"threads\":%d,\"unit\":\"%s\",\"rate\":%.4g,"
                       "\"pct_peak\":%.4g,\"median_ms\":%.6g,\"min_ms\":%.6g,\"p90_ms\":%.6g,\"reps\":%d,"
                       "\"max_err\":%s,\"ratio\":%.4g,\"clock\":\"%s\",\"note\":",
                    role_name(w->role), w->isa, w->threads, unit_of(w), w->rate,
                    w->pct_peak, 1e3 * w->median_s, 1e3 * w->min_s, 1e3 * w->p90_s, w->reps, err, w->ratio, w->clock ? w->clock : "");
            json_str(o, w->note);
            fprintf(o, "}");
        }
        fprintf(o, "\n]\n");
        return;
    }
    if (f == RB_CSV) {
        fprintf(o, "case,impl,role,isa,threads,unit,rate,pct_peak,median_ms,min_ms,p90_ms,reps,max_err,ratio,clock,note\n");
        for (size_t i = 0; i < r->n; i++) {
            const rb_row *w = &r->v[i];
            fprintf(o, "\"%s\",%s,%s,%s,%d,%s,%.4g,%.4g,%.6g,%.6g,%.6g,%d,%.4g,%.4g,%s,\"%s\"\n", w->group, w->impl,
                    role_name(w->role), w->isa, w->threads, unit_of(w), w->rate,
                    w->pct_peak, 1e3 * w->median_s, 1e3 * w->min_s, 1e3 * w->p90_s, w->reps, w->max_err, w->ratio,
                    w->clock ? w->clock : "", w->note);
        }
        return;
    }
    const char *last = "";
    for (size_t i = 0; i < r->n; i++) {
        const rb_row *w = &r->v[i];
        if (strcmp(last, w->group)) {
            fprintf(o, "%s%s\n  %-30s %-5s %-10s %3s %10s %-7s %6s %10s %10s %9s %7s\n", i ? "\n" : "", w->group,
                    "impl", "role", "isa", "thr", "rate", "unit", "%peak", "median_ms", "min_ms", "max_err",
                    "vs_ref");
            last = w->group;
        }
        if (w->median_s <= 0) {
            fprintf(o, "  %-30s %-5s %-10s %3d %s\n", w->impl, role_name(w->role), w->isa, w->threads, w->note);
            continue;
        }
        char pct[16] = "-", ratio[16] = "-";
        if (w->pct_peak >= 0) snprintf(pct, sizeof(pct), "%.1f", w->pct_peak);
        if (w->ratio >= 0) snprintf(ratio, sizeof(ratio), "%.2fx", w->ratio);
        fprintf(o, "  %-30.30s %-5s %-10s %3d %10.2f %-7s %6s %10.4f %10.4f %9.2g %7s%s%s\n", w->impl,
                role_name(w->role), w->isa, w->threads, w->rate, unit_of(w), pct,
                1e3 * w->median_s, 1e3 * w->min_s, w->max_err, ratio, w->note[0] ? "  " : "", w->note);
    }
}
