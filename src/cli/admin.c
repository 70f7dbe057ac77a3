/*
 * `forge admin create-user --email E [--role R]... [--trust T] [--display-name N]`: creates an
 * account directly in the configured store (migrating it first), e.g. the first admin:
 *     forge admin create-user --email ops@example.org --role admin --trust core
 * The password comes from FORGE_ADMIN_PASSWORD, else from the first line of stdin (no echo on a
 * terminal); the password policy applies. --role may repeat or list roles with commas (default
 * user); --trust defaults to standard. Exit 0 created, 1 failure (e.g. email taken), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/commands.h"
#include "core/app.h"
#include "core/authz.h"
#include "core/identity.h"
#include "core/password.h"
#include "store/store.h"
#include "util/config.h"

#define PW_LINE_MAX 1024

static int usage(void)
{
    fprintf(stderr, "usage: forge admin create-user --email E [--role user|trusted|operator|admin]"
                    "... [--trust core|trusted|standard|sandbox|quarantine] [--display-name N]\n"
                    "password: FORGE_ADMIN_PASSWORD, else the first line of stdin\n");
    return 2;
}

/* Value of "--name V" or "--name=V" at argv[*i]; advances *i. NULL if argv[*i] is not --name. */
static const char *opt(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int add_roles(const char *list, unsigned *roles)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned b = fg_role_from_name(t);
        if (!b) {
            fprintf(stderr, "forge admin create-user: unknown role '%s'\n", t);
            return -1;
        }
        *roles |= b;
    }
    return 0;
}

/* Reads one line from stdin into buf (without the newline); no echo on a terminal. */
static int read_password(char *buf, size_t len)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "Password: ");
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        } else {
            tty = 0;
        }
    }
    char *r = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (!r)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int cmd_admin_create_user(int argc, char **argv)
{
    const char *email_in = NULL, *trust_name = "standard", *display = NULL;
    unsigned roles = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = opt(argc, argv, &i, "--email", &missing))) {
            email_in = v;
        } else if ((v = opt(argc, argv, &i, "--role", &missing))) {
            if (add_roles(v, &roles) != 0)
                return 2;
        } else if ((v = opt(argc, argv, &i, "--trust", &missing))) {
            trust_name = v;
        } else if ((v = opt(argc, argv, &i, "--display-name", &missing))) {
            display = v;
        } else {
            if (!missing)
                fprintf(stderr, "forge admin create-user: unknown option '%s'\n", argv[i]);
            else
                fprintf(stderr, "forge admin create-user: %s needs a value\n", argv[i]);
            return usage();
        }
    }
    if (!roles)
        roles = FG_ROLE_USER;
    int trust = fg_trust_from_name(trust_name);
    char email[STORE_EMAIL_MAX + 1];
    if (!email_in)
        return usage();
    if (trust < 0) {
        fprintf(stderr, "forge admin create-user: unknown trust level '%s'\n", trust_name);
        return 2;
    }
    if (fg_email_normalize(email_in, email, sizeof email) != 0) {
        fprintf(stderr, "forge admin create-user: not a valid email address\n");
        return 2;
    }
    if (display && strlen(display) > STORE_DISPLAY_NAME_MAX_BYTES) {
        fprintf(stderr, "forge admin create-user: display name too long\n");
        return 2;
    }

    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    char pw[PW_LINE_MAX];
    if (cfg.admin_password && cfg.admin_password[0]) {
        snprintf(pw, sizeof pw, "%s", cfg.admin_password);
    } else if (read_password(pw, sizeof pw) != 0) {
        fprintf(stderr, "forge admin create-user: no password (set FORGE_ADMIN_PASSWORD or pipe "
                        "it on stdin)\n");
        fg_config_free(&cfg);
        return 2;
    }
    size_t pwlen = strlen(pw);
    rc = 1;
    struct store *st = NULL;
    char err[512];
    if (!fg_password_policy_ok(pw, pwlen)) {
        fprintf(stderr, "forge admin create-user: %s\n", FG_PASSWORD_POLICY_MSG);
        rc = 2;
        goto out;
    }
    int applied = 0;
    if (store_open(&cfg, &st, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge admin create-user: %s\n", err);
        goto out;
    }
    if (st->ops->migrate(st, &applied) != FG_OK) {
        fprintf(stderr, "forge admin create-user: migrations failed\n");
        goto out;
    }
    fg_password_init((int)cfg.argon2_max_concurrent);
    struct fg_app app;
    memset(&app, 0, sizeof app);
    app.cfg = &cfg;
    app.store = st;
    struct store_user u;
    struct fg_job_ctx job;
    enum fg_err e = fg_identity_create_user(&app, fg_ctx_job(&job, FG_CLI_ACTOR), email, pw, pwlen,
                                            display, trust, roles, "admin.create_user", &u);
    if (e == FG_ECONFLICT) {
        fprintf(stderr, "forge admin create-user: an account with this email already exists\n");
        goto out;
    }
    if (e != FG_OK) {
        fprintf(stderr, "forge admin create-user: failed (%s)\n", fg_err_name(e));
        goto out;
    }
    json_t *o = fg_user_json(&u);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
    rc = 0;
out:
    sodium_memzero(pw, sizeof pw);
    store_close(st);
    fg_config_free(&cfg);
    return rc;
}
