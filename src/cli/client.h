/*
 * The `forge` command-line client: option parsing, the command table (the one source of --help,
 * `forge help`, the man page and the shell completions), HTTP through libcurl with transparent
 * token refresh and bounded retries, credentials per profile, and output helpers.
 *
 * Exit codes (docs/cli.md): 0 ok, 1 usage or invalid input, 2 not found, 3 authentication,
 * 4 conflict or refused, 5 server or network.
 */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,
    CLI_EXIT_NOT_FOUND = 2,
    CLI_EXIT_AUTH = 3,
    CLI_EXIT_REFUSED = 4,
    CLI_EXIT_SERVER = 5,
};

/* Option keys (index into struct cli_args). Global options first. */
enum cli_opt_key {
    O_NONE = 0,
    O_HELP,
    O_PROFILE,
    O_URL,
    O_JSON,
    O_QUIET,
    O_NO_COLOR,
    O_CACERT,
    O_TIMEOUT,
    O_RETRIES,
    O_GLOBAL_LAST, /* keys below are per command */
    O_EMAIL,
    O_PASSWORD_STDIN,
    O_MFA_CODE,
    O_FILE,
    O_TYPE,
    O_META,
    O_META_JSON,
    O_PARENT,
    O_REASON,
    O_PAGE,
    O_PER_PAGE,
    O_ALL,
    O_TRUST,
    O_OWNER,
    O_AFTER,
    O_BEFORE,
    O_CASCADE,
    O_MAX_DEPTH,
    O_MODE,
    O_LIMIT,
    O_MIN_SCORE,
    O_CONTEXT,
    O_MAX_HOPS,
    O_JOBS,
    O_STATE,
    O_DRY_RUN,
    O_NO_PROGRESS,
    O_TITLE,
    O_DESCRIPTION,
    O_PAYLOAD,
    O_HOURS,
    O_QUORUM,
    O_THRESHOLD,
    O_STATUS,
    O_REASONING,
    O_EDITOR_FLAG,
    O_FORCE,
    O_WATCH,
    O_FROM,
    O_TO,
    O_UNIFIED,
    O_AS_OF,
    O_VERSION,
    O_DIRECTION,
    O_EDGE_TYPE,
    O_NOTE,
    O_WEIGHT,
    O_DEPTH,
    O_TYPES,
    O_NAME,
    O_FUNCTION,
    O_INPUT,
    O_WHY,
    O_OV_STATUS,
    O__COUNT
};

#define CLI_MAX_REPEAT 64

struct cli_args {
    const char *v[O__COUNT]; /* last value (or "1" for flags) */
    const char *multi[O__COUNT][CLI_MAX_REPEAT];
    int n[O__COUNT];
    char **pos;
    int npos;
};

struct cli_optdef {
    int key;
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    const char *arg;  /* NULL for a flag, else the value's placeholder */
    const char *help;
};

struct cli_ctx;
typedef int (*cli_run_fn)(struct cli_ctx *c, struct cli_args *a);

struct cli_cmddef {
    const char *path;     /* "login", "capsule create" */
    const char *args;     /* positional usage, e.g. "ID [CONTENT]" */
    const char *summary;  /* one line */
    const char *details;  /* further paragraphs, may be NULL */
    const int *opts;      /* O_* keys, 0-terminated (globals are always accepted) */
    int min_pos, max_pos; /* positional argument bounds (-1 = unbounded) */
    cli_run_fn run;
};

extern const struct cli_optdef cli_optdefs[];
extern const struct cli_cmddef cli_cmddefs[];

/* Session shared by the threads of one invocation (the importer runs several). */
struct cli_session {
    pthread_mutex_t mu;
    char *profile;
    char *url;       /* without trailing slash */
    char *access;    /* may be NULL */
    char *refresh;   /* may be NULL */
    char *email;     /* may be NULL */
    int token_env;   /* FORGE_TOKEN given: no refresh, nothing written */
    unsigned gen;    /* bumped on every token change */
    int auth_failed; /* refresh refused: every thread stops with exit 3 */
};

struct cli_ctx {
    struct cli_session *s;
    void *curl; /* CURL *, per thread */
    int json, quiet, color, color_err;
    const char *cacert;
    long timeout_s;
    int retries;
    const char *cmd; /* "capsule create", for messages */
};

/* ---- client.c ---------------------------------------------------------------------------- */
#define CLI_F_NOAUTH  1u /* do not send the access token */
#define CLI_F_NOPRINT 2u /* do not print the error (caller handles it) */
#define CLI_F_RAW     4u /* response is not JSON: *out stays NULL, body in cli_last_body */

/** Performs METHOD url+path with an optional JSON body (borrowed). On 2xx returns 0 and stores
 * the parsed response in *out (caller decrefs; NULL for an empty body). Otherwise prints the
 * error (unless CLI_F_NOPRINT), stores the error JSON in *out when there is one and returns the
 * exit code. *status gets the HTTP status (0 on a network error). */
int cli_call(struct cli_ctx *c, const char *method, const char *path, json_t *body, unsigned flags,
             json_t **out, long *status);
/** Initialises the per-thread HTTP handle of c (copying options from tmpl when given). */
void cli_ctx_init_http(struct cli_ctx *c);
void cli_ctx_free_http(struct cli_ctx *c);
/** Prints an error body {"code","message","details"} the way every command does. */
void cli_print_error(struct cli_ctx *c, long status, json_t *err);
/** Exit code for an HTTP status. */
int cli_exit_for_status(long status);
/** Percent-encodes s into a heap string (caller frees). */
char *cli_urlencode(const char *s);

/* ---- creds.c ----------------------------------------------------------------------------- */
/** Directory of the client's files: $XDG_CONFIG_HOME/forge or ~/.config/forge (caller frees). */
char *cli_config_dir(void);
/** Loads profile `name` (NULL = FORGE_PROFILE or "default") into s, applying FORGE_URL,
 * FORGE_TOKEN and url_override. Returns an exit code (refuses a group/other-readable file). */
int cli_session_load(struct cli_session *s, const char *name, const char *url_override);
void cli_session_free(struct cli_session *s);
/** Writes the session's url/email/tokens to its profile (atomic temp file + rename, 0600). */
int cli_session_save(struct cli_session *s);
/** Removes the tokens of the profile (logout). */
int cli_session_forget_tokens(struct cli_session *s);
/** Refresh under an exclusive lock of the credentials file: if another process rotated the
 * tokens meanwhile, adopts theirs; else calls /auth/refresh and saves. Returns exit code. */
int cli_session_refresh(struct cli_ctx *c, unsigned seen_gen);

/* ---- output.c ---------------------------------------------------------------------------- */
struct cli_table;
struct cli_table *cli_table_new(int ncols, const char *const *headers);
/** Adds a row; the cells are copied. */
void cli_table_add(struct cli_table *t, const char *const *cells);
/** Caps column col at width (cells are cut with an ellipsis), 0 = no cap. */
void cli_table_cap(struct cli_table *t, int col, int width);
void cli_table_print(struct cli_ctx *c, struct cli_table *t);
void cli_table_free(struct cli_table *t);
void cli_print_json(json_t *v);
/** Colour escape helpers (empty strings when colour is off). */
const char *cli_bold(const struct cli_ctx *c);
const char *cli_dim(const struct cli_ctx *c);
const char *cli_green(const struct cli_ctx *c);
const char *cli_red(const struct cli_ctx *c);
const char *cli_yellow(const struct cli_ctx *c);
const char *cli_reset(const struct cli_ctx *c);
/** A one-line preview of s in at most width display columns (heap, caller frees). */
char *cli_preview(const char *s, int width);
/** Display width of a UTF-8 string (code points; no wide-character table). */
int cli_width(const char *s);
/** JSON scalar as text ("" for null, numbers formatted, strings as is); heap. */
char *cli_scalar(json_t *v);
/** Prints "key  value" lines aligned for an object's scalar members in the given order. */
void cli_print_fields(struct cli_ctx *c, json_t *obj, const char *const *keys);

/* ---- term.c ------------------------------------------------------------------------------ */
/** Reads a line from the terminal (/dev/tty) after printing prompt; echo off when secret.
 * Returns heap string without the newline, or NULL (no terminal / EOF). */
char *cli_prompt(const char *prompt, int secret);
/** Reads all of stream into a heap string (limit bytes, else NULL with *too_big = 1). */
char *cli_read_stream(FILE *f, size_t limit, size_t *len, int *too_big);
char *cli_read_file(const char *path, size_t limit, size_t *len, int *too_big);
/** git-commit-like editing: writes initial text (+ a comment help block) to a temp file, runs
 * $VISUAL/$EDITOR/vi, returns the text without '#' comment lines, trimmed; NULL when the editor
 * failed; "" when empty. */
char *cli_edit_text(const char *initial, const char *help);

/* ---- commands ---------------------------------------------------------------------------- */
int cli_client_main(int argc, char **argv); /* entry from cli_commands (argv[0] = command) */
int cli_help_main(int argc, char **argv);   /* `forge help [command...]` */
/** Whether a top-level command name belongs to the client (for help and completion). */
int cli_command_is_client(const char *name);

/** Common helpers for commands. */
int cli_need_login(struct cli_ctx *c);
/** Parses an integer option; prints a usage error and returns -1 when invalid. */
int cli_int_opt(struct cli_ctx *c, const char *name, const char *v, long lo, long hi, long *out);

#define CLI_CONTENT_MAX (1u << 20)

#endif
