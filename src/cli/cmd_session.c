/* `forge register | login | logout | whoami | status`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "util/mem.h"

#define CLI_PASSWORD_MAX 1024

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static char *read_password_stdin(void)
{
    char buf[CLI_PASSWORD_MAX + 2];
    if (!fgets(buf, sizeof buf, stdin))
        return NULL;
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    char *p = fg_xstrdup(buf);
    memset(buf, 0, sizeof buf);
    return p;
}

static void roles_text(json_t *user, char *out, size_t n)
{
    out[0] = 0;
    size_t i;
    json_t *r;
    size_t used = 0;
    json_array_foreach(json_object_get(user, "roles"), i, r)
    {
        int w = snprintf(out + used, n - used, "%s%s", i ? "," : "",
                         json_string_value(r) ? json_string_value(r) : "?");
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
}

static int do_login(struct cli_ctx *c, struct cli_args *a, int reg)
{
    struct cli_session *s = c->s;
    char *email = NULL, *password = NULL, *code = NULL;
    json_t *out = NULL;
    int rc = CLI_EXIT_USAGE;
    const char *me = reg ? "forge register" : "forge login";
    if (s->token_env) {
        fprintf(stderr, "%s: FORGE_TOKEN is set; unset it to log in\n", me);
        return CLI_EXIT_USAGE;
    }
    if (a->v[O_EMAIL]) {
        email = fg_xstrdup(a->v[O_EMAIL]);
    } else {
        char prompt[400];
        if (s->email)
            snprintf(prompt, sizeof prompt, "Email [%s]: ", s->email);
        else
            snprintf(prompt, sizeof prompt, "Email: ");
        email = cli_prompt(prompt, 0);
        if (email && !*email && s->email) {
            free(email);
            email = fg_xstrdup(s->email);
        }
        if (!email || !*email) {
            fprintf(stderr, "%s: no email (use --email E when there is no terminal)\n", me);
            goto out;
        }
    }
    if (a->v[O_PASSWORD_STDIN]) {
        password = read_password_stdin();
        if (!password || !*password) {
            fprintf(stderr, "%s: --password-stdin: no password on stdin\n", me);
            goto out;
        }
    } else {
        password = cli_prompt(reg ? "Choose a password: " : "Password: ", 1);
        if (!password || !*password) {
            fprintf(stderr, "%s: no password (use --password-stdin when there is no terminal)\n",
                    me);
            goto out;
        }
        if (reg) {
            char *again = cli_prompt("Repeat the password: ", 1);
            int same = again && strcmp(again, password) == 0;
            wipe_free(again);
            if (!same) {
                fprintf(stderr, "%s: the passwords differ\n", me);
                goto out;
            }
        }
    }
    if (reg) {
        json_t *body = json_pack("{ssss}", "email", email, "password", password);
        long st = 0;
        rc = cli_call(c, "POST", "/api/v1/auth/register", body, CLI_F_NOAUTH, &out, &st);
        json_object_clear(body);
        json_decref(body);
        json_decref(out);
        out = NULL;
        if (rc != CLI_EXIT_OK)
            goto out;
        if (!c->json && !c->quiet)
            printf("Registered %s on %s.\n", email, s->url);
    }
    if (a->v[O_MFA_CODE]) {
        code = fg_xstrdup(a->v[O_MFA_CODE]);
    } else if (!reg && !a->v[O_PASSWORD_STDIN]) {
        /* The server answers every failed login alike (a right password without the code looks
         * like a wrong one, docs/security.md), so the code is asked for up front, optionally. */
        code = cli_prompt("Authentication code (empty if two-factor authentication is off): ", 0);
        if (code && !*code) {
            free(code);
            code = NULL;
        }
    }
    long status = 0;
    for (int round = 0; round < 2; round++) {
        json_t *body = json_pack("{ssss}", "email", email, "password", password);
        if (code)
            json_object_set_new(body, "mfa_code", json_string(code));
        json_decref(out);
        rc = cli_call(c, "POST", "/api/v1/auth/login", body, CLI_F_NOAUTH | CLI_F_NOPRINT, &out,
                      &status);
        json_object_clear(body);
        json_decref(body);
        if (rc == CLI_EXIT_OK || status != 401 || code ||
            !json_is_true(json_object_get(json_object_get(out, "details"), "mfa_required")))
            break;
        code = cli_prompt("MFA code: ", 0);
        if (!code || !*code) {
            fprintf(stderr, "%s: this account needs an MFA code (--mfa-code CODE)\n", me);
            rc = CLI_EXIT_AUTH;
            goto out;
        }
    }
    if (rc != CLI_EXIT_OK) {
        if (status)
            cli_print_error(c, status, out);
        else
            fprintf(stderr, "%s: cannot reach %s\n", me, s->url);
        goto out;
    }
    json_t *d = json_object_get(out, "data");
    const char *at = json_string_value(json_object_get(d, "access_token"));
    const char *rt = json_string_value(json_object_get(d, "refresh_token"));
    json_t *user = json_object_get(d, "user");
    if (!at || !rt) {
        fprintf(stderr, "%s: the server's answer has no tokens\n", me);
        rc = CLI_EXIT_SERVER;
        goto out;
    }
    free(s->access);
    free(s->refresh);
    free(s->email);
    s->access = fg_xstrdup(at);
    s->refresh = fg_xstrdup(rt);
    const char *ue = json_string_value(json_object_get(user, "email"));
    s->email = fg_xstrdup(ue ? ue : email);
    rc = cli_session_save(s);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (c->json) {
        /* the account, never the tokens (stdout may end up in a CI log) */
        json_t *o = json_pack("{sO}", "data", user ? user : json_null());
        cli_print_json(o);
        json_decref(o);
    } else if (c->quiet) {
        const char *id = json_string_value(json_object_get(user, "id"));
        printf("%s\n", id ? id : "");
    } else {
        char roles[256];
        roles_text(user, roles, sizeof roles);
        const char *trust = json_string_value(json_object_get(user, "trust_level"));
        printf("Logged in to %s%s%s as %s%s%s (%s, trust %s)%s%s%s.\n", cli_bold(c), s->url,
               cli_reset(c), cli_bold(c), s->email, cli_reset(c), roles, trust ? trust : "?",
               strcmp(s->profile, "default") ? " [profile " : "",
               strcmp(s->profile, "default") ? s->profile : "",
               strcmp(s->profile, "default") ? "]" : "");
    }
out:
    json_decref(out);
    free(email);
    wipe_free(password);
    wipe_free(code);
    return rc;
}

int cli_login(struct cli_ctx *c, struct cli_args *a)
{
    return do_login(c, a, 0);
}

int cli_register(struct cli_ctx *c, struct cli_args *a)
{
    return do_login(c, a, 1);
}

int cli_logout(struct cli_ctx *c, struct cli_args *a)
{
    (void)a;
    struct cli_session *s = c->s;
    if (s->token_env) {
        fprintf(stderr, "forge logout: FORGE_TOKEN is set; nothing stored to forget\n");
        return CLI_EXIT_USAGE;
    }
    if (!s->access && !s->refresh) {
        if (!c->quiet && !c->json)
            printf("Not logged in to %s.\n", s->url);
        return CLI_EXIT_OK;
    }
    json_t *out = NULL;
    long status = 0;
    int rc = cli_call(c, "POST", "/api/v1/auth/logout", NULL, CLI_F_NOPRINT, &out, &status);
    int remote_ok = rc == CLI_EXIT_OK || status == 401;
    if (!remote_ok && status)
        cli_print_error(c, status, out);
    json_decref(out);
    /* the local tokens go in every case */
    int e = cli_session_forget_tokens(s);
    if (e != CLI_EXIT_OK)
        return e;
    if (!remote_ok) {
        fprintf(stderr,
                "forge logout: the server did not confirm; the local tokens are removed but the "
                "session stays valid until it expires\n");
        return status ? cli_exit_for_status(status) : CLI_EXIT_SERVER;
    }
    if (c->json)
        printf("{}\n");
    else if (!c->quiet)
        printf("Logged out of %s.\n", s->url);
    return CLI_EXIT_OK;
}

int cli_whoami(struct cli_ctx *c, struct cli_args *a)
{
    (void)a;
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    json_t *out = NULL;
    rc = cli_call(c, "GET", "/api/v1/auth/me", NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *u = json_object_get(out, "data");
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            printf("%s\n", json_string_value(json_object_get(u, "id")));
        } else {
            static const char *const keys[] = {
                "email",       "id",         "display_name",  "roles", "trust_level",
                "mfa_enabled", "created_at", "last_login_at", NULL};
            char roles[256];
            roles_text(u, roles, sizeof roles);
            json_t *v = json_deep_copy(u);
            json_object_set_new(v, "roles", json_string(roles));
            cli_print_fields(c, v, keys);
            json_decref(v);
            printf("%s%-13s%s  %s\n%s%-13s%s  %s\n", cli_dim(c), "server", cli_reset(c), c->s->url,
                   cli_dim(c), "profile", cli_reset(c), c->s->profile);
        }
    }
    json_decref(out);
    return rc;
}

int cli_status(struct cli_ctx *c, struct cli_args *a)
{
    (void)a;
    struct cli_session *s = c->s;
    json_t *health = NULL, *ready = NULL, *me = NULL;
    long hs = 0, rs = 0, ms = 0;
    int rc = cli_call(c, "GET", "/health", NULL, CLI_F_NOAUTH | CLI_F_NOPRINT, &health, &hs);
    if (hs == 0) {
        fprintf(stderr, "forge status: cannot reach %s\n", s->url);
        json_decref(health);
        return CLI_EXIT_SERVER;
    }
    cli_call(c, "GET", "/health/ready", NULL, CLI_F_NOAUTH | CLI_F_NOPRINT, &ready, &rs);
    const char *session = "not logged in";
    if (s->access) {
        int e = cli_call(c, "GET", "/api/v1/auth/me", NULL, CLI_F_NOPRINT, &me, &ms);
        session = e == CLI_EXIT_OK ? "active" : ms == 401 ? "expired or revoked" : "unknown";
    }
    rc = rs == 200 ? CLI_EXIT_OK : CLI_EXIT_SERVER;
    json_t *user = ms == 200 ? json_object_get(me, "data") : NULL;
    if (c->json) {
        json_t *o = json_pack("{sssssOsOsssO}", "url", s->url, "profile", s->profile, "health",
                              health ? health : json_null(), "ready", ready ? ready : json_null(),
                              "session", session, "user", user ? user : json_null());
        cli_print_json(o);
        json_decref(o);
    } else if (c->quiet) {
        printf("%s\n", rs == 200 ? "ready" : "not_ready");
    } else {
        const char *ver = json_string_value(json_object_get(health, "version"));
        const char *st = json_string_value(json_object_get(ready, "status"));
        printf("%s%-9s%s  %s\n", cli_dim(c), "server", cli_reset(c), s->url);
        printf("%s%-9s%s  %s\n", cli_dim(c), "version", cli_reset(c), ver ? ver : "?");
        printf("%s%-9s%s  %s%s%s\n", cli_dim(c), "ready", cli_reset(c),
               rs == 200 ? cli_green(c) : cli_red(c), st ? st : "unknown", cli_reset(c));
        json_t *checks = json_object_get(ready, "checks");
        const char *k;
        json_t *v;
        json_object_foreach(checks, k, v)
        {
            char *sv = cli_scalar(v);
            printf("%s  %-16s%s %s\n", cli_dim(c), k, cli_reset(c), sv);
            free(sv);
        }
        printf("%s%-9s%s  %s\n", cli_dim(c), "profile", cli_reset(c), s->profile);
        const char *em = json_string_value(json_object_get(user, "email"));
        printf("%s%-9s%s  %s%s%s%s\n", cli_dim(c), "session", cli_reset(c), session, em ? " (" : "",
               em ? em : "", em ? ")" : "");
    }
    json_decref(health);
    json_decref(ready);
    json_decref(me);
    return rc;
}
