/* docgen — prints the parts of the user documentation that the code
 * defines, so the documents cannot drift from it (docs/sync.sh splices
 * them into docs/marlsim.1, docs/environment.md and docs/lake.md; `make
 * docs` rewrites them, make test checks them):
 *
 *   docgen man-title      the man page's .TH line (version: base/version.h)
 *   docgen man-config     every config key, default and allowed values, as
 *                         roff (from the config table: sim/config.h)
 *   docgen env-features   each agent's observation, element by element
 *                         (sim/sim.h ms_obs_feature, sim/env.h names)
 *   docgen env-rewards    the default reward table, penalties, compromise
 *                         and clip (config defaults), outcomes and rules
 *   docgen lake-tables    every table of the lake, its class and columns
 *                         (ledger/schema.h)
 *   docgen lake-schema    the SQL a lake is created with, comments included
 *
 * A build tool, not part of the library: it prints (to stdout) and exits 2
 * on bad usage or failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/version.h"
#include "ledger/schema.h"
#include "sim/config.h"
#include "sim/policy.h"
#include "sim/rules.h"
#include "sim/sim.h"

/* Text as roff: backslashes escaped, a line never starting with . or '. */
static void roff(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            fputs("\\e", stdout);
        else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-')
            fputs("\\-", stdout);
        else
            putchar(s[i]);
    }
}

static int man_title(void)
{
    printf(".TH MARLSIM 1 \"\" \"marlsim %s\" \"User Commands\"\n", MS_VERSION);
    return 0;
}

/* configs/default.ini's text (ms_config_render_documented): "[section]",
 * "; comment (allowed)" and "key = default" lines, after a header. */
static int man_config(void)
{
    static char text[32768];
    size_t n = ms_config_render_documented(text, sizeof text);
    if (n >= sizeof text)
        return 2;
    const char *comment = NULL;
    size_t clen = 0;
    int in_section = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > 2 && line[0] == '[') {
            printf(".SS %.*s\n", (int)len, line);
            in_section = 1;
        } else if (in_section && len > 2 && line[0] == ';') {
            comment = line + 2;
            clen = len - 2;
        } else if (in_section && len > 0) {
            const char *eq = memchr(line, '=', len);
            if (!eq || !comment)
                return 2;
            size_t klen = (size_t)(eq - line) - 1;
            const char *val = eq + 2 <= line + len ? eq + 2 : line + len;
            size_t vlen = (size_t)(line + len - val);
            printf(".TP\n.B %.*s\n", (int)klen, line);
            roff(comment, clen);
            printf(".\nDefault: ");
            if (vlen) {
                fputs("\\fB", stdout);
                roff(val, vlen);
                fputs("\\fR.\n", stdout);
            } else {
                fputs("empty.\n", stdout);
            }
            comment = NULL;
        }
        line += len + (nl ? 1 : 0);
    }
    return 0;
}

static const char *const modality_of[] = {"header", "content", "security", "shared"};

static const char *modality(int f)
{
    return modality_of[f >= MS_F_SHARED0 ? 3 : f >= MS_F_SECURITY0 ? 2 : f >= MS_F_CONTENT0 ? 1 : 0];
}

static int env_features(void)
{
    printf("| index | GET | OPEN | BIN |\n|---|---|---|---|\n");
    for (int k = 0;; k++) {
        int any = 0;
        char cells[MS_NAGENT][64];
        for (int a = 0; a < MS_NAGENT; a++) {
            int f = ms_obs_feature(a, MS_OBSERVE_MODALITY, k);
            any |= f >= 0;
            snprintf(cells[a], sizeof cells[a], f >= 0 ? "`%s` (%s)" : "", f >= 0 ? ms_feature_names[f] : "",
                     f >= 0 ? modality(f) : "");
        }
        if (!any)
            break;
        printf("| %d | %s | %s | %s |\n", k, cells[0], cells[1], cells[2]);
    }
    printf("\nWith `[agents] observe = all` every agent sees the same %d elements: GET's %d, then OPEN's %d, "
           "then BIN's %d, in the orders above (the shared features once per block).\n",
           MS_OBS_MAX, ms_modality_dim[0], ms_modality_dim[1], ms_modality_dim[2]);
    printf("\nThe %d features of a message, in broadcast order:", MS_NFEAT);
    for (int f = 0; f < MS_NFEAT; f++)
        printf("%s `%s`", f ? "," : "", ms_feature_names[f]);
    printf(".\n");
    return 0;
}

static int env_rewards(void)
{
    ms_config c;
    ms_config_defaults(&c);
    printf("| class |");
    for (int o = 0; o < MS_NOUTCOME; o++)
        printf(" %s%s |", ms_outcome_names[o], o == MS_OUTCOME_PREVIEWED ? " (extra)" : "");
    printf("\n|---|");
    for (int o = 0; o < MS_NOUTCOME; o++)
        printf("---|");
    printf("\n");
    for (int k = 0; k < MS_NCLASS; k++) {
        printf("| %s |", ms_class_names[k]);
        for (int o = 0; o < MS_NOUTCOME; o++)
            printf(" %+.2f |", c.reward[k][o]);
        printf("\n");
    }
    printf("\nDefaults: delivering malware also costs %+.2f (`[rules] compromise_cost`) and leaves the mailbox "
           "compromised for %d messages (`compromise_steps`); penalties: threat_intel_block %+.2f to BIN, "
           "preview_requires_fetch %+.2f to OPEN, quarantine_supersedes_preview %+.2f to OPEN; the global reward "
           "is clipped to +-%.1f (`reward_clip`). Every number is a `[rules]` key.\n",
           c.compromise_cost, c.compromise_steps, c.penalty_threat_intel_block, c.penalty_preview_requires_fetch,
           c.penalty_quarantine_supersedes_preview, c.reward_clip);
    printf("\nRules, in the order they apply (bit i of a rules mask):");
    for (int r = 0; r < MS_NRULE; r++)
        printf("%s %d `%s`", r ? "," : "", r, ms_rule_names[r]);
    printf(".\nOutcomes (index):");
    for (int o = 0; o < MS_NOUTCOME; o++)
        printf("%s %d `%s`", o ? "," : "", o, ms_outcome_names[o]);
    printf(". Classes (index):");
    for (int k = 0; k < MS_NCLASS; k++)
        printf("%s %d `%s`", k ? "," : "", k, ms_class_names[k]);
    printf(". Actions: 0 `DO_NOTHING` for every agent; 1 is");
    for (int a = 0; a < MS_NAGENT; a++)
        printf("%s `%s` for %s", a ? "," : "", ms_action_names[a], ms_agent_names[a]);
    printf(".\n");
    return 0;
}

static const char *type_name(int t)
{
    return t == LK_INT ? "INTEGER" : t == LK_REAL ? "REAL" : t == LK_TEXT ? "TEXT" : "BLOB";
}

/* A table cell: '|' would end it, a newline the row. */
static void cell(const char *s)
{
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : *s == '\n' ? " " : (char[2]){*s, 0}, stdout);
}

static void columns(const lk_column *cols, int n)
{
    printf("| column | type | NULL | meaning |\n|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        printf("| `%s` | %s | %s | ", cols[i].name, type_name(cols[i].type), cols[i].nullable ? "yes" : "no");
        cell(cols[i].doc);
        printf(" |\n");
    }
}

static int lake_tables(void)
{
    printf("### runs (operational; one row, the only mutable table)\n\n");
    columns(lk_runs_columns, LKR_NCOLS);
    for (int t = 0; t < LKT_COUNT; t++) {
        printf("\n### %s (%s; append-only, hashed into the ledger)\n\n", lk_tables[t].name,
               lk_class_names[lk_tables[t].tclass]);
        cell(lk_tables[t].doc);
        printf(".\n\n");
        columns(lk_tables[t].cols, lk_tables[t].ncols);
    }
    return 0;
}

static int lake_schema(void)
{
    char *sql;
    ms_err e;
    if (lk_schema_script(&sql, &e)) {
        fprintf(stderr, "docgen: %s\n", e.msg);
        return 2;
    }
    printf("```sql\n%s```\n", sql);
    free(sql);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(void);
    } parts[] = {{"man-title", man_title}, {"man-config", man_config},   {"env-features", env_features}, {"env-rewards", env_rewards},
                 {"lake-tables", lake_tables}, {"lake-schema", lake_schema}};
    for (size_t i = 0; argc == 2 && i < sizeof parts / sizeof parts[0]; i++)
        if (!strcmp(argv[1], parts[i].name)) {
            int rc = parts[i].fn();
            if (rc)
                fprintf(stderr, "docgen: %s failed\n", argv[1]);
            return rc;
        }
    fprintf(stderr, "usage: docgen man-title|man-config|env-features|env-rewards|lake-tables|lake-schema\n");
    return 2;
}
