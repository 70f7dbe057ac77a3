/*
 * The client's command and option tables: the single source of argument parsing, `--help`,
 * `forge help`, the man page (`forge help --man`, generated at build time) and the bash/zsh
 * completion scripts (`forge completion bash|zsh`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "cli/commands.h"
#include "util/mem.h"

const struct cli_optdef cli_optdefs[] = {
    {O_HELP, "help", 'h', NULL, "show this help"},
    {O_PROFILE, "profile", 0, "NAME", "credentials profile (default: $FORGE_PROFILE or 'default')"},
    {O_URL, "url", 0, "URL",
     "server URL (default: the profile's, $FORGE_URL, http://127.0.0.1:8000)"},
    {O_JSON, "json", 0, NULL, "print the API's JSON response unchanged"},
    {O_QUIET, "quiet", 'q', NULL, "print only ids (one per line)"},
    {O_NO_COLOR, "no-color", 0, NULL, "no colours (also: NO_COLOR set, or output not a terminal)"},
    {O_CACERT, "cacert", 0, "FILE", "trust the CA certificates in FILE (PEM) for https"},
    {O_TIMEOUT, "timeout", 0, "SECONDS", "total time allowed per request (default 30)"},
    {O_RETRIES, "retries", 0, "N", "retries of 429/503 answers, honouring Retry-After (default 4)"},
    {O_EMAIL, "email", 0, "EMAIL", "account email (prompted for when omitted)"},
    {O_PASSWORD_STDIN, "password-stdin", 0, NULL, "read the password from the first line of stdin"},
    {O_MFA_CODE, "mfa-code", 0, "CODE", "TOTP code (prompted for when the server asks for one)"},
    {O_FILE, "file", 'f', "PATH", "read the content from PATH ('-' = stdin)"},
    {O_TYPE, "type", 't', "TYPE",
     "capsule type: knowledge code decision insight config policy (proposals: proposal type)"},
    {O_META, "meta", 'm', "KEY=VALUE", "set a metadata field (string value; repeatable)"},
    {O_META_JSON, "meta-json", 0, "JSON", "metadata as a JSON object (--meta fields are added)"},
    {O_PARENT, "parent", 'p', "ID", "parent capsule (the new capsule is derived from it)"},
    {O_REASON, "reason", 0, "TEXT", "why the capsule is derived from its parent"},
    {O_PAGE, "page", 0, "N", "page number (default 1)"},
    {O_PER_PAGE, "per-page", 0, "N", "items per page, 1-100 (default 20)"},
    {O_ALL, "all", 'a', NULL, "fetch every page"},
    {O_TRUST, "trust", 0, "LEVEL",
     "only this trust level (core trusted standard sandbox quarantine)"},
    {O_OWNER, "owner", 0, "USER_ID", "only capsules of this owner"},
    {O_AFTER, "after", 0, "TIME", "created after (RFC 3339)"},
    {O_BEFORE, "before", 0, "TIME", "created before (RFC 3339)"},
    {O_CASCADE, "cascade", 0, NULL, "also delete every live descendant"},
    {O_MAX_DEPTH, "max-depth", 0, "N", "ancestor hops to walk"},
    {O_MODE, "mode", 0, "MODE", "semantic (default), keyword or hybrid"},
    {O_LIMIT, "limit", 'n', "N", "results, 1-100 (default 10)"},
    {O_MIN_SCORE, "min-score", 0, "X", "lowest score kept, 0-1"},
    {O_CONTEXT, "context", 0, "ID", "hybrid mode: boost capsules near this one in the lineage"},
    {O_MAX_HOPS, "max-hops", 0, "N", "hybrid mode: lineage distance of the boost, 0-5"},
    {O_JOBS, "jobs", 'j', "N", "requests in flight at once (default 8, max 32)"},
    {O_STATE, "state", 0, "FILE", "import journal (default: in the config directory)"},
    {O_DRY_RUN, "dry-run", 0, NULL, "show what would be done, change nothing"},
    {O_NO_PROGRESS, "no-progress", 0, NULL, "no progress bar"},
    {O_TITLE, "title", 0, "TEXT", "proposal title"},
    {O_DESCRIPTION, "description", 0, "TEXT", "proposal description"},
    {O_PAYLOAD, "payload", 0, "JSON", "proposal payload (JSON object, typed per proposal type)"},
    {O_HOURS, "hours", 0, "N", "voting duration in hours"},
    {O_QUORUM, "quorum", 0, "X", "participation needed, 0-1"},
    {O_THRESHOLD, "threshold", 0, "X", "approval needed, 0-1"},
    {O_STATUS, "status", 0, "STATUS", "only proposals in this status"},
    {O_REASONING, "reasoning", 0, "TEXT", "why you vote so"},
    {O_EDITOR_FLAG, "edit", 'e', NULL, "write the content in $VISUAL / $EDITOR"},
    {O_FORCE, "force", 0, NULL, "overwrite existing files"},
    {O_WATCH, "watch", 'w', NULL,
     "keep showing the tally as votes arrive (every 2 s) until voting closes or Ctrl-C"},
    {O_FROM, "from", 0, "VERSION", "older version (default: the one before --to)"},
    {O_TO, "to", 0, "VERSION", "newer version (default: current)"},
    {O_UNIFIED, "unified", 'U', "N", "lines of context around each change, 0-100 (default 3)"},
    {O_AS_OF, "as-of", 0, "TIME", "the capsule as it was at TIME (RFC 3339)"},
    {O_VERSION, "version", 0, "VERSION", "one stored version (a number, or 'current')"},
    {O_DIRECTION, "direction", 0, "DIR", "out, in or both (default both)"},
    {O_EDGE_TYPE, "type", 't', "TYPE",
     "edge type: supports contradicts supersedes related_to references (derived_from = lineage; "
     "filters take a comma list)"},
    {O_NOTE, "note", 0, "TEXT", "why the capsules are linked (at most 1000 characters)"},
    {O_WEIGHT, "weight", 0, "X", "edge weight, 0-1 (default 1)"},
    {O_DEPTH, "depth", 0, "N", "hops to walk, 1-5 (default 1)"},
    {O_TYPES, "types", 0, "T1,T2", "only these edge types (comma list; default every type)"},
    {O_NAME, "name", 0, "NAME", "only overlays of this name"},
    {O_FUNCTION, "function", 0, "NAME", "entry point to call (default process)"},
    {O_INPUT, "input", 'i', "JSON", "input value as JSON (default null; --file reads it)"},
    {O_OV_STATUS, "status", 0, "STATUS",
     "only overlays in this status: pending active suspended deprecated quarantined"},
    {O_WHY, "reason", 0, "TEXT",
     "why (recorded in the audit log; required for quarantine/release)"},
    {0, NULL, 0, NULL, NULL},
};

#define OPTS(...) ((const int[]){__VA_ARGS__, 0})

const struct cli_cmddef cli_cmddefs[] = {
    {"login", "[URL]", "log in to a Forge server and store the session in the profile",
     "Prompts for the email and the password (without echo) on the terminal, and for the TOTP "
     "code when the account has MFA. Scripts use --email and --password-stdin (and --mfa-code). "
     "The tokens are stored in the profile; the access token is refreshed transparently.",
     OPTS(O_EMAIL, O_PASSWORD_STDIN, O_MFA_CODE), 0, 1, cli_login},
    {"register", "[URL]", "create an account on a Forge server, then log in",
     "Prompts for the email and a password (twice, without echo); --email and --password-stdin "
     "for scripts. New accounts have the role user and trust standard.",
     OPTS(O_EMAIL, O_PASSWORD_STDIN), 0, 1, cli_register},
    {"logout", "", "revoke the session on the server and forget its tokens", NULL, OPTS(0), 0, 0,
     cli_logout},
    {"whoami", "", "show the account of the current session", NULL, OPTS(0), 0, 0, cli_whoami},
    {"status", "", "server health, version, readiness (store, index) and the session",
     "Exit code 0 when the server is ready, 5 when it is unreachable or not ready.", OPTS(0), 0, 0,
     cli_status},
    {"capsule create", "[CONTENT]", "create a capsule",
     "The content comes from the argument, --file, stdin when it is not a terminal, or else the "
     "editor ($VISUAL, $EDITOR, vi) as in `git commit`: lines starting with '#' are dropped and "
     "an empty text aborts.",
     OPTS(O_FILE, O_EDITOR_FLAG, O_TYPE, O_META, O_META_JSON, O_PARENT, O_REASON), 0, 1,
     cli_capsule_create},
    {"capsule get", "ID", "show a capsule (now, as it was at a time, or one stored version)",
     "--as-of shows the version that was current at that time (type and trust are today's); "
     "--version shows one stored revision.",
     OPTS(O_AS_OF, O_VERSION), 1, 1, cli_capsule_get},
    {"capsule list", "", "list capsules (newest first)", NULL,
     OPTS(O_TYPE, O_TRUST, O_OWNER, O_PARENT, O_AFTER, O_BEFORE, O_PAGE, O_PER_PAGE, O_ALL), 0, 0,
     cli_capsule_list},
    {"capsule edit", "ID [CONTENT]", "change a capsule's content, type or metadata",
     "Without CONTENT, --file, --type or metadata options the current content opens in the "
     "editor. A new content makes a new version (the previous one is kept, see `revisions`). "
     "Metadata given replaces the stored metadata.",
     OPTS(O_FILE, O_EDITOR_FLAG, O_TYPE, O_META, O_META_JSON), 1, 2, cli_capsule_edit},
    {"capsule delete", "ID", "delete a capsule (--cascade: with its descendants)", NULL,
     OPTS(O_CASCADE), 1, 1, cli_capsule_delete},
    {"capsule derive", "PARENT [CONTENT]", "create a capsule derived from PARENT",
     "Content as for `capsule create`. --reason records why.",
     OPTS(O_FILE, O_EDITOR_FLAG, O_TYPE, O_META, O_META_JSON, O_REASON), 1, 2, cli_capsule_derive},
    {"capsule lineage", "ID", "draw a capsule's ancestors and children as a tree", NULL,
     OPTS(O_MAX_DEPTH), 1, 1, cli_capsule_lineage},
    {"capsule revisions", "ID", "list a capsule's versions (current first)", NULL, OPTS(0), 1, 1,
     cli_capsule_revisions},
    {"capsule diff", "ID", "show what changed between two versions (unified diff from the server)",
     "Without --from: the version before --to (before the current one when --to is not given). "
     "Coloured on a terminal; -q prints 'ADDED REMOVED' line counts.",
     OPTS(O_FROM, O_TO, O_UNIFIED), 1, 1, cli_capsule_diff},
    {"capsule links", "ID", "list a capsule's typed edges (and its lineage edges)", NULL,
     OPTS(O_DIRECTION, O_EDGE_TYPE, O_PAGE, O_PER_PAGE, O_ALL), 1, 1, cli_capsule_links},
    {"capsule link", "ID TARGET", "link capsule ID to TARGET with a typed edge",
     "ID is the source: `forge capsule link A B --type supersedes` records that A replaces B. "
     "Needs to own ID (or be an admin).",
     OPTS(O_EDGE_TYPE, O_NOTE, O_WEIGHT), 2, 2, cli_capsule_link},
    {"capsule unlink", "ID EDGE_ID", "delete a typed edge leaving capsule ID", NULL, OPTS(0), 2, 2,
     cli_capsule_unlink},
    {"search", "QUERY", "search capsules by meaning and by words, with scores", NULL,
     OPTS(O_MODE, O_TYPE, O_LIMIT, O_MIN_SCORE, O_CONTEXT, O_MAX_HOPS), 1, 1, cli_search},
    {"import", "PATH...", "import Markdown/text files, one capsule per file",
     "Files ending in .md, .markdown or .txt are imported (directories recursively). A leading "
     "front matter block between '---' lines sets the type (key 'type') and metadata (other "
     "keys). Each capsule records metadata.source_path and metadata.content_sha256. A journal "
     "(--state) remembers what was imported: running the same import again skips unchanged "
     "files, updates changed ones, and continues an interrupted run.",
     OPTS(O_PARENT, O_TYPE, O_JOBS, O_STATE, O_DRY_RUN, O_NO_PROGRESS), 1, -1, cli_import},
    {"export", "DIR", "write capsules back as Markdown files with front matter",
     "One file per capsule: its metadata.source_path when it has one (from `forge import`), else "
     "<type>/<id>.md. Existing files are kept unless --force.",
     OPTS(O_TYPE, O_OWNER, O_PARENT, O_FORCE), 1, 1, cli_export},
    {"proposal list", "", "list governance proposals", NULL,
     OPTS(O_STATUS, O_TYPE, O_PAGE, O_PER_PAGE, O_ALL), 0, 0, cli_proposal_list},
    {"proposal show", "ID", "show a proposal with its tally so far",
     "--watch redraws it live (on a terminal; otherwise prints it again whenever the tally "
     "changes) and returns when the proposal is no longer active.",
     OPTS(O_WATCH), 1, 1, cli_proposal_show},
    {"proposal create", "", "create a draft proposal",
     "Types: trust_adjustment, configuration, policy, overlay_registration, overlay_update, "
     "emergency; --payload is the JSON object of the type (docs/governance.md).",
     OPTS(O_TITLE, O_DESCRIPTION, O_TYPE, O_PAYLOAD, O_HOURS, O_QUORUM, O_THRESHOLD), 0, 0,
     cli_proposal_create},
    {"proposal activate", "ID", "open a draft proposal for voting", NULL, OPTS(0), 1, 1,
     cli_proposal_activate},
    {"proposal vote", "ID for|against|abstain", "vote on an active proposal (again to change it)",
     NULL, OPTS(O_REASONING), 2, 2, cli_proposal_vote},
    {"proposal cancel", "ID", "cancel your proposal", NULL, OPTS(0), 1, 1, cli_proposal_cancel},
    {"graph neighbors", "ID", "draw the capsules linked to ID, up to --depth hops",
     "Every edge type, lineage included, in both directions unless --types / --direction say "
     "otherwise. Drawn as a tree from ID (edges shown as ─type→ or ←type─); edges that do not fit "
     "the tree are listed below it.",
     OPTS(O_DEPTH, O_TYPES, O_DIRECTION), 1, 1, cli_graph_neighbors},
    {"graph path", "FROM TO", "shortest chain of edges between two capsules",
     "Edge direction is ignored for the search and shown in the answer. Exit code 2 when there "
     "is no path within --max-depth hops (1-10, default 6).",
     OPTS(O_MAX_DEPTH, O_TYPES), 2, 2, cli_graph_path},
    {"graph contradictions", "", "list the contradicts edges between capsules you can read", NULL,
     OPTS(O_PAGE, O_PER_PAGE, O_ALL), 0, 0, cli_graph_contradictions},
    {"overlay list", "", "list overlays with their statistics", NULL,
     OPTS(O_NAME, O_OV_STATUS, O_PAGE, O_PER_PAGE, O_ALL), 0, 0, cli_overlay_list},
    {"overlay show", "ID", "show an overlay: manifest, statistics (source for its registrant)",
     NULL, OPTS(0), 1, 1, cli_overlay_show},
    {"overlay versions", "ID", "list every version of an overlay's name", NULL,
     OPTS(O_PAGE, O_PER_PAGE, O_ALL), 1, 1, cli_overlay_versions},
    {"overlay register", "MANIFEST SOURCE", "register an overlay (status pending)",
     "MANIFEST.json holds the manifest object (name, version, capabilities, limits, entry_points, "
     "events, validates: docs/overlays.md); SOURCE.lua the Lua 5.4 source (at most 256 KiB). "
     "The server's validation messages name the field at fault (manifest.<field> or source).",
     OPTS(0), 2, 2, cli_overlay_register},
    {"overlay activate", "ID", "activate an overlay (admins)", NULL, OPTS(O_WHY), 1, 1,
     cli_overlay_transition},
    {"overlay suspend", "ID", "suspend an overlay (operators and admins)", NULL, OPTS(O_WHY), 1, 1,
     cli_overlay_transition},
    {"overlay deprecate", "ID", "deprecate an overlay (operators and admins)", NULL, OPTS(O_WHY), 1,
     1, cli_overlay_transition},
    {"overlay quarantine", "ID", "quarantine an overlay (admins; an immune response)", NULL,
     OPTS(O_WHY), 1, 1, cli_overlay_transition},
    {"overlay release", "ID", "release an overlay from quarantine (admins)", NULL, OPTS(O_WHY), 1,
     1, cli_overlay_transition},
    {"overlay invoke", "ID", "run an entry point of an active overlay",
     "Prints the result, or the failure kind and message, with time, fuel and memory used. Exit "
     "code 4 when the overlay failed (success: false), also with --json.",
     OPTS(O_FUNCTION, O_INPUT, O_FILE), 1, 1, cli_overlay_invoke},
    {"overlay invocations", "ID", "the overlay's event-hook log (one row per attempt)", NULL,
     OPTS(O_PAGE, O_PER_PAGE, O_ALL), 1, 1, cli_overlay_invocations},
    {"completion", "bash|zsh", "print the shell completion script",
     "bash: source <(forge completion bash)   zsh: source <(forge completion zsh)", OPTS(0), 1, 1,
     cli_completion},
    {"mcp", "", "serve the Model Context Protocol over stdio (for AI agents)",
     "Reads newline-delimited JSON-RPC from stdin and answers on stdout (logs on stderr). Every "
     "tool call is an API call with this profile's session (or FORGE_URL and FORGE_TOKEN), so "
     "the account's permissions, trust and rate limits apply. Client configuration: docs/mcp.md.",
     OPTS(0), 0, 0, cli_mcp},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const char *const g_exit_codes[] = {
    "0",  "success",
    "1",  "usage error or input refused by the server (400, 413, 422)",
    "2",  "not found (404); graph path: no path",
    "3",  "authentication: not logged in, session expired or revoked (401), bad credentials file",
    "4",  "conflict or refused (409, 403); overlay invoke: the overlay failed",
    "5",  "server or network error (5xx, unreachable, retries exhausted)",
    NULL, NULL,
};

static const char *const g_env[] = {
    "FORGE_PROFILE",
    "profile to use when --profile is not given",
    "FORGE_URL",
    "server URL (tokens stored for another URL are not sent to it)",
    "FORGE_TOKEN",
    "access token to use instead of the profile's (never refreshed nor stored)",
    "XDG_CONFIG_HOME",
    "configuration directory base (default ~/.config)",
    "VISUAL, EDITOR",
    "editor for capsule create/edit (default vi)",
    "NO_COLOR",
    "no colours when set",
    NULL,
    NULL,
};

/* ---- lookup and parsing ------------------------------------------------------------------ */

static const struct cli_optdef *optdef(int key)
{
    for (const struct cli_optdef *o = cli_optdefs; o->key; o++)
        if (o->key == key)
            return o;
    return NULL;
}

static int cmd_has_opt(const struct cli_cmddef *d, int key)
{
    if (key < O_GLOBAL_LAST)
        return 1;
    for (const int *k = d->opts; *k; k++)
        if (*k == key)
            return 1;
    return 0;
}

static const struct cli_optdef *find_long(const struct cli_cmddef *d, const char *name, size_t n)
{
    for (const struct cli_optdef *o = cli_optdefs; o->key; o++)
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0 && cmd_has_opt(d, o->key))
            return o;
    return NULL;
}

static const struct cli_optdef *find_short(const struct cli_cmddef *d, char ch)
{
    for (const struct cli_optdef *o = cli_optdefs; o->key; o++)
        if (o->short_name == ch && cmd_has_opt(d, o->key))
            return o;
    return NULL;
}

static void set_opt(struct cli_args *a, int key, const char *v)
{
    a->v[key] = v;
    if (a->n[key] < CLI_MAX_REPEAT)
        a->multi[key][a->n[key]] = v;
    a->n[key]++;
}

/* Parses argv (after the command words). Returns 0 or prints a usage error and returns -1. */
static int parse(const struct cli_cmddef *d, int argc, char **argv, struct cli_args *a)
{
    a->pos = fg_xcalloc((size_t)argc + 1, sizeof *a->pos);
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        char *s = argv[i];
        if (only_pos || s[0] != '-' || s[1] == 0) {
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (s[1] == '-') {
            const char *name = s + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            const struct cli_optdef *o = find_long(d, name, n);
            if (!o) {
                fprintf(stderr, "forge %s: unknown option '--%.*s' (see forge %s --help)\n",
                        d->path, (int)n, name, d->path);
                return -1;
            }
            if (!o->arg) {
                if (eq) {
                    fprintf(stderr, "forge %s: --%s takes no value\n", d->path, o->name);
                    return -1;
                }
                set_opt(a, o->key, "1");
            } else if (eq) {
                set_opt(a, o->key, eq + 1);
            } else if (i + 1 < argc) {
                set_opt(a, o->key, argv[++i]);
            } else {
                fprintf(stderr, "forge %s: --%s needs a value (%s)\n", d->path, o->name, o->arg);
                return -1;
            }
            continue;
        }
        for (const char *p = s + 1; *p; p++) { /* -qa, -n5, -n 5 */
            const struct cli_optdef *o = find_short(d, *p);
            if (!o) {
                fprintf(stderr, "forge %s: unknown option '-%c' (see forge %s --help)\n", d->path,
                        *p, d->path);
                return -1;
            }
            if (!o->arg) {
                set_opt(a, o->key, "1");
                continue;
            }
            if (p[1]) {
                set_opt(a, o->key, p + 1);
            } else if (i + 1 < argc) {
                set_opt(a, o->key, argv[++i]);
            } else {
                fprintf(stderr, "forge %s: -%c needs a value (%s)\n", d->path, *p, o->arg);
                return -1;
            }
            break;
        }
    }
    return 0;
}

/* ---- help -------------------------------------------------------------------------------- */

static void print_opt_line(FILE *f, const struct cli_optdef *o)
{
    char left[96];
    if (o->short_name)
        snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    else
        snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    fprintf(f, "  %-26s %s\n", left, o->help);
}

static void print_cmd_help(FILE *f, const struct cli_cmddef *d)
{
    fprintf(f, "usage: forge %s%s%s [options]\n\n%s\n", d->path, d->args[0] ? " " : "", d->args,
            d->summary);
    if (d->details)
        fprintf(f, "\n%s\n", d->details);
    if (d->opts[0]) {
        fprintf(f, "\noptions:\n");
        for (const int *k = d->opts; *k; k++)
            print_opt_line(f, optdef(*k));
    }
    fprintf(f, "\nglobal options:\n");
    for (int k = O_HELP; k < O_GLOBAL_LAST; k++)
        print_opt_line(f, optdef(k));
}

static int is_group(const char *name)
{
    size_t n = strlen(name);
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++)
        if (strncmp(d->path, name, n) == 0 && d->path[n] == ' ')
            return 1;
    return 0;
}

static void print_group_help(FILE *f, const char *group)
{
    fprintf(f, "usage: forge %s <command> [options]\n\ncommands:\n", group);
    size_t n = strlen(group);
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++)
        if (strncmp(d->path, group, n) == 0 && d->path[n] == ' ') {
            char left[64];
            snprintf(left, sizeof left, "%s %s", d->path + n + 1, d->args);
            fprintf(f, "  %-30s %s\n", left, d->summary);
        }
    fprintf(f, "\nforge %s <command> --help shows a command's options.\n", group);
}

static void print_overview(FILE *f)
{
    fprintf(f, "usage: forge <command> [options]\n\nclient commands:\n");
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", d->path, d->args);
        fprintf(f, "  %-32s %s\n", left, d->summary);
    }
    fprintf(f, "\nserver and admin commands:\n");
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (!cli_command_is_client(c->name))
            fprintf(f, "  %s\n", c->usage);
    fprintf(f, "\nexit codes:\n");
    for (const char *const *e = g_exit_codes; *e; e += 2)
        fprintf(f, "  %s  %s\n", e[0], e[1]);
    fprintf(f, "\nforge help COMMAND (or forge COMMAND --help) shows a command's options; "
               "`man forge` has it all.\n");
}

/* ---- man page ------------------------------------------------------------------------------ */

static void roff(FILE *f, const char *s)
{
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        bol = 0;
        unsigned char u = (unsigned char)*s;
        if (u >= 0xC0 && u < 0xF0 && (s[1] & 0xC0) == 0x80 && (u < 0xE0 || (s[2] & 0xC0) == 0x80)) {
            /* non-ASCII (UTF-8, 2 or 3 bytes): a groff Unicode escape */
            unsigned cp = u < 0xE0 ? ((u & 0x1Fu) << 6) | (s[1] & 0x3Fu)
                                   : ((u & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
            fprintf(f, "\\[u%04X]", cp);
            s += u < 0xE0 ? 1 : 2;
        } else if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
        if (*s == '\n')
            bol = 1;
    }
}

static void man_opt(FILE *f, const struct cli_optdef *o)
{
    fputs(".TP\n", f);
    if (o->short_name)
        fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
    fputs("\\fB\\-\\-", f);
    roff(f, o->name);
    fputs("\\fR", f);
    if (o->arg) {
        fputs(" \\fI", f);
        roff(f, o->arg);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    roff(f, o->help);
    fputc('\n', f);
}

static void print_man(FILE *f)
{
    fprintf(f, ".TH FORGE 1 \"\" \"forge %s\" \"Forge manual\"\n", FORGE_VERSION);
    fputs(".SH NAME\nforge \\- Forge institutional memory engine: client, server and admin tool\n"
          ".SH SYNOPSIS\n\\fBforge\\fR \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]\n"
          ".SH DESCRIPTION\nThe \\fBforge\\fR client talks HTTP(S) to a Forge server: log in, "
          "create, find and govern knowledge capsules, import a folder of Markdown files. The "
          "same binary runs the server (\\fBforge serve\\fR) and the server-side administration "
          "commands.\n.PP\nThis page is generated from the same tables as \\fB\\-\\-help\\fR.\n"
          ".SH CLIENT COMMANDS\n",
          f);
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++) {
        fputs(".SS \"", f);
        roff(f, d->path);
        if (d->args[0]) {
            fputc(' ', f);
            roff(f, d->args);
        }
        fputs("\"\n", f);
        roff(f, d->summary);
        fputs(".\n", f);
        if (d->details) {
            fputs(".PP\n", f);
            roff(f, d->details);
            fputc('\n', f);
        }
        for (const int *k = d->opts; *k; k++)
            man_opt(f, optdef(*k));
    }
    fputs(".SH GLOBAL OPTIONS\nAccepted by every client command.\n", f);
    for (int k = O_HELP; k < O_GLOBAL_LAST; k++)
        man_opt(f, optdef(k));
    fputs(".SH SERVER AND ADMIN COMMANDS\n", f);
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (!cli_command_is_client(c->name)) {
            fputs(".TP\n.B ", f);
            roff(f, c->usage);
            fputc('\n', f);
        }
    fputs(".SH ENVIRONMENT\n", f);
    for (const char *const *e = g_env; *e; e += 2) {
        fputs(".TP\n.B ", f);
        roff(f, e[0]);
        fputc('\n', f);
        roff(f, e[1]);
        fputc('\n', f);
    }
    fputs(".SH FILES\n.TP\n.I $XDG_CONFIG_HOME/forge/credentials.json\nProfiles (server URL, "
          "email, access and refresh token). Mode 0600; the client refuses the file when group "
          "or others can read it. Default directory ~/.config/forge.\n"
          ".TP\n.I $XDG_CONFIG_HOME/forge/imports/\nJournals of \\fBforge import\\fR (what was "
          "imported where), so an import resumes and repeats idempotently.\n"
          ".SH EXIT STATUS\n",
          f);
    for (const char *const *e = g_exit_codes; *e; e += 2) {
        fprintf(f, ".TP\n.B %s\n", e[0]);
        roff(f, e[1]);
        fputc('\n', f);
    }
    fputs(".SH SEE ALSO\ndocs/cli.md in the Forge sources.\n", f);
}

/* ---- completion ---------------------------------------------------------------------------- */

static void words_top(FILE *f)
{
    const char *last = "";
    size_t lastn = 0;
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++) {
        const char *sp = strchr(d->path, ' ');
        size_t n = sp ? (size_t)(sp - d->path) : strlen(d->path);
        if (n == lastn && strncmp(last, d->path, n) == 0)
            continue;
        fprintf(f, "%.*s ", (int)n, d->path);
        last = d->path;
        lastn = n;
    }
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (!cli_command_is_client(c->name))
            fprintf(f, "%s ", c->name);
    fputs("help", f);
}

static void words_sub(FILE *f, const char *group)
{
    size_t n = strlen(group);
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++)
        if (strncmp(d->path, group, n) == 0 && d->path[n] == ' ')
            fprintf(f, "%s ", d->path + n + 1);
}

static void words_opts(FILE *f, const struct cli_cmddef *d)
{
    for (int k = O_HELP; k < O_GLOBAL_LAST; k++)
        fprintf(f, "--%s ", optdef(k)->name);
    for (const int *k = d->opts; *k; k++)
        fprintf(f, "--%s ", optdef(*k)->name);
}

/* The shared case statement: prints candidate words for "$1" = "cmd" or "cmd sub". */
static void completion_words_fn(FILE *f)
{
    fputs("_forge_words() {\n  case \"$1\" in\n    \"\") echo \"", f);
    words_top(f);
    fputs("\" ;;\n", f);
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++) {
        if (strchr(d->path, ' ') == NULL && !is_group(d->path))
            continue;
        const char *sp = strchr(d->path, ' ');
        if (sp && d != cli_cmddefs && strncmp(d[-1].path, d->path, (size_t)(sp - d->path)) == 0 &&
            d[-1].path[sp - d->path] == ' ')
            continue;
        fprintf(f, "    \"%.*s\") echo \"", (int)(sp ? sp - d->path : (long)strlen(d->path)),
                d->path);
        char g[64];
        snprintf(g, sizeof g, "%.*s", (int)(sp ? sp - d->path : (long)strlen(d->path)), d->path);
        words_sub(f, g);
        fputs("\" ;;\n", f);
    }
    fputs("  esac\n}\n_forge_opts() {\n  case \"$1\" in\n", f);
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++) {
        fprintf(f, "    \"%s\") echo \"", d->path);
        words_opts(f, d);
        fputs("\" ;;\n", f);
    }
    fputs("    *) echo \"--help\" ;;\n  esac\n}\n_forge_groups=\"", f);
    const char *prev = "";
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++) {
        const char *sp = strchr(d->path, ' ');
        if (!sp)
            continue;
        size_t n = (size_t)(sp - d->path);
        if (strncmp(prev, d->path, n) == 0 && prev[n] == ' ')
            continue;
        fprintf(f, " %.*s ", (int)n, d->path);
        prev = d->path;
    }
    fputs("\"\n", f);
}

static void print_bash(FILE *f)
{
    fputs("# bash completion for forge (generated by `forge completion bash`)\n", f);
    completion_words_fn(f);
    fputs("_forge() {\n"
          "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" cmd=\"${COMP_WORDS[1]}\" key words\n"
          "  COMPREPLY=()\n"
          "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "    words=$(_forge_words \"\")\n"
          "  elif [ \"$COMP_CWORD\" -eq 2 ] && [[ \"$_forge_groups\" == *\" $cmd \"* ]]; then\n"
          "    words=$(_forge_words \"$cmd\")\n"
          "  elif [ \"$cmd\" = help ]; then\n"
          "    words=$(_forge_words \"\")\n"
          "  else\n"
          "    key=\"$cmd\"\n"
          "    [[ \"$_forge_groups\" == *\" $cmd \"* ]] && key=\"$cmd ${COMP_WORDS[2]}\"\n"
          "    case \"$cur\" in\n"
          "      -*) words=$(_forge_opts \"$key\") ;;\n"
          "      *) case \"$key\" in\n"
          "           completion) words=\"bash zsh\" ;;\n"
          "           \"proposal vote\") words=\"for against abstain\" ;;\n"
          "           import|export) COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;;\n"
          "           *) case \"${COMP_WORDS[COMP_CWORD-1]}\" in\n"
          "                --file|-f|--cacert|--state) COMPREPLY=($(compgen -f -- \"$cur\")); "
          "return 0 ;;\n"
          "                --mode) words=\"semantic keyword hybrid\" ;;\n"
          "                --type|-t) words=\"knowledge code decision insight config policy "
          "trust_adjustment configuration overlay_registration overlay_update emergency supports "
          "contradicts supersedes related_to references\" ;;\n"
          "                --direction) words=\"out in both\" ;;\n"
          "                --trust) words=\"core trusted standard sandbox quarantine\" ;;\n"
          "                --status) words=\"draft active approved rejected executed failed "
          "cancelled\" ;;\n"
          "              esac ;;\n"
          "         esac ;;\n"
          "    esac\n"
          "  fi\n"
          "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
          "  return 0\n"
          "}\n"
          "complete -F _forge forge\n",
          f);
}

static void print_zsh(FILE *f)
{
    fputs("#compdef forge\n# zsh completion for forge (generated by `forge completion zsh`)\n", f);
    completion_words_fn(f);
    fputs("_forge() {\n"
          "  local cmd=${words[2]} key cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n"
          "  local -a w\n"
          "  if (( CURRENT == 2 )); then\n"
          "    w=(${=$(_forge_words \"\")})\n"
          "  elif (( CURRENT == 3 )) && [[ \"$_forge_groups\" == *\" $cmd \"* ]]; then\n"
          "    w=(${=$(_forge_words \"$cmd\")})\n"
          "  elif [[ $cmd == help ]]; then\n"
          "    w=(${=$(_forge_words \"\")})\n"
          "  else\n"
          "    key=$cmd\n"
          "    [[ \"$_forge_groups\" == *\" $cmd \"* ]] && key=\"$cmd ${words[3]}\"\n"
          "    if [[ $cur == -* ]]; then\n"
          "      w=(${=$(_forge_opts \"$key\")})\n"
          "    else\n"
          "      case $key in\n"
          "        completion) w=(bash zsh) ;;\n"
          "        'proposal vote') w=(for against abstain) ;;\n"
          "        import|export) _files; return ;;\n"
          "        *) case $prev in\n"
          "             --file|-f|--cacert|--state) _files; return ;;\n"
          "             --mode) w=(semantic keyword hybrid) ;;\n"
          "             --trust) w=(core trusted standard sandbox quarantine) ;;\n"
          "             --type|-t) w=(knowledge code decision insight config policy "
          "trust_adjustment configuration overlay_registration overlay_update emergency supports "
          "contradicts supersedes related_to references) ;;\n"
          "             --direction) w=(out in both) ;;\n"
          "           esac ;;\n"
          "      esac\n"
          "    fi\n"
          "  fi\n"
          "  (( ${#w} )) && compadd -a w\n"
          "}\n"
          "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _forge \"$@\"; "
          "else compdef _forge forge; fi\n",
          f);
}

int cli_completion(struct cli_ctx *c, struct cli_args *a)
{
    (void)c;
    if (strcmp(a->pos[0], "bash") == 0)
        print_bash(stdout);
    else if (strcmp(a->pos[0], "zsh") == 0)
        print_zsh(stdout);
    else {
        fprintf(stderr, "forge completion: unknown shell '%s' (bash or zsh)\n", a->pos[0]);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* ---- entry points -------------------------------------------------------------------------- */

int cli_command_is_client(const char *name)
{
    size_t n = strlen(name);
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++)
        if (strncmp(d->path, name, n) == 0 && (d->path[n] == 0 || d->path[n] == ' '))
            return 1;
    return 0;
}

static const struct cli_cmddef *find_cmd(const char *path)
{
    for (const struct cli_cmddef *d = cli_cmddefs; d->path; d++)
        if (strcmp(d->path, path) == 0)
            return d;
    return NULL;
}

int cli_help_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--man") == 0) {
        print_man(stdout);
        return 0;
    }
    if (argc < 2) {
        print_overview(stdout);
        return 0;
    }
    char path[128];
    snprintf(path, sizeof path, "%s%s%s", argv[1], argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
    const struct cli_cmddef *d = find_cmd(path);
    if (d) {
        print_cmd_help(stdout, d);
        return 0;
    }
    if (is_group(argv[1])) {
        print_group_help(stdout, argv[1]);
        return 0;
    }
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, argv[1]) == 0) {
            printf("usage: forge %s\n", c->usage);
            return 0;
        }
    fprintf(stderr, "forge help: unknown command '%s'\n", path);
    return CLI_EXIT_USAGE;
}

int cli_int_opt(struct cli_ctx *c, const char *name, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "forge %s: --%s must be an integer from %ld to %ld (got '%s')\n", c->cmd,
                name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_need_login(struct cli_ctx *c)
{
    if (c->s->access)
        return CLI_EXIT_OK;
    fprintf(stderr, "forge: not logged in to %s%s%s; run `forge login %s%s%s`\n", c->s->url,
            strcmp(c->s->profile, "default") ? " (profile " : "",
            strcmp(c->s->profile, "default") ? c->s->profile : "", c->s->url,
            strcmp(c->s->profile, "default") ? " --profile " : "",
            strcmp(c->s->profile, "default") ? c->s->profile : "");
    return CLI_EXIT_AUTH;
}

static int use_color(int fd, const struct cli_args *a)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    return isatty(fd) && !(nc && *nc) && !a->v[O_NO_COLOR] && !(term && strcmp(term, "dumb") == 0);
}

int cli_client_main(int argc, char **argv)
{
    const char *group = argv[0];
    char path[128];
    int skip = 1;
    const struct cli_cmddef *d;
    if (is_group(group)) {
        int help = argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
                   strcmp(argv[1], "-h") == 0;
        if (help) {
            print_group_help(argc < 2 ? stderr : stdout, group);
            return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
        }
        snprintf(path, sizeof path, "%s %s", group, argv[1]);
        d = find_cmd(path);
        if (!d) {
            fprintf(stderr, "forge %s: unknown command '%s'\n\n", group, argv[1]);
            print_group_help(stderr, group);
            return CLI_EXIT_USAGE;
        }
        skip = 2;
    } else {
        d = find_cmd(group);
        if (!d) {
            fprintf(stderr, "forge: unknown command '%s'\n", group);
            return CLI_EXIT_USAGE;
        }
    }
    struct cli_args *a = fg_xcalloc(1, sizeof *a);
    int rc = CLI_EXIT_USAGE;
    if (parse(d, argc - skip, argv + skip, a) != 0)
        goto out;
    if (a->v[O_HELP]) {
        print_cmd_help(stdout, d);
        rc = CLI_EXIT_OK;
        goto out;
    }
    if (a->npos < d->min_pos || (d->max_pos >= 0 && a->npos > d->max_pos)) {
        fprintf(stderr, "usage: forge %s %s [options]   (forge %s --help)\n", d->path, d->args,
                d->path);
        goto out;
    }
    struct cli_session s;
    struct cli_ctx c = {.s = &s, .cmd = d->path};
    c.json = a->v[O_JSON] != NULL;
    c.quiet = a->v[O_QUIET] != NULL;
    c.color = use_color(1, a);
    c.color_err = use_color(2, a);
    c.cacert = a->v[O_CACERT];
    c.timeout_s = 30;
    c.retries = 4;
    long v;
    if (a->v[O_TIMEOUT]) {
        if (cli_int_opt(&c, "timeout", a->v[O_TIMEOUT], 1, 86400, &v) != 0)
            goto out;
        c.timeout_s = v;
    }
    if (a->v[O_RETRIES]) {
        if (cli_int_opt(&c, "retries", a->v[O_RETRIES], 0, 20, &v) != 0)
            goto out;
        c.retries = (int)v;
    }
    if (c.cacert && access(c.cacert, R_OK) != 0) {
        fprintf(stderr, "forge: cannot read --cacert %s\n", c.cacert);
        goto out;
    }
    if (d->run == cli_completion) {
        rc = d->run(&c, a);
        goto out;
    }
    const char *url = a->v[O_URL];
    if ((d->run == cli_login || d->run == cli_register) && a->npos == 1)
        url = a->pos[0];
    rc = cli_session_load(&s, a->v[O_PROFILE], url);
    if (rc == CLI_EXIT_OK) {
        cli_ctx_init_http(&c);
        rc = d->run(&c, a);
        cli_ctx_free_http(&c);
    }
    cli_session_free(&s);
out:
    free(a->pos);
    free(a);
    fflush(stdout);
    return rc;
}
