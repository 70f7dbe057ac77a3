/*
 * Client credentials: $XDG_CONFIG_HOME/forge/credentials.json (default ~/.config/forge), one
 * JSON object {"profiles": {NAME: {url, email, access_token, refresh_token}}}, mode 0600 in a
 * 0700 directory. A file readable by group or others, or owned by someone else, is refused.
 * Every write takes an exclusive flock on credentials.lock, re-reads the file, changes one
 * profile and replaces the file atomically (temp file in the same directory, fsync, rename).
 * Token refresh runs under the same lock, so two `forge` processes sharing a profile never both
 * spend the same single-use refresh token (which would revoke the session).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/client.h"
#include "util/mem.h"

#define CLI_PROFILE_MAX     64
#define CLI_CREDS_MAX_BYTES (1u << 20)
#define CLI_DEFAULT_URL     "http://127.0.0.1:8000"

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = fg_xmalloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

char *cli_config_dir(void)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && x[0] == '/')
        return path_join(x, "forge");
    const char *home = getenv("HOME");
    if (!home || home[0] != '/')
        return NULL;
    char *cfg = path_join(home, ".config");
    char *d = path_join(cfg, "forge");
    free(cfg);
    return d;
}

static int mkdir_p(const char *dir, mode_t mode)
{
    char *p = fg_xstrdup(dir);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *q = '/';
    }
    int rc = mkdir(p, mode) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* Reads the credentials file into *root (an empty object when absent). Exit code. */
static int load_root(const char *path, json_t **root)
{
    *root = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            *root = json_object();
            return CLI_EXIT_OK;
        }
        fprintf(stderr, "forge: cannot read %s: %s\n", path, strerror(errno));
        return CLI_EXIT_AUTH;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "forge: %s is not a regular file\n", path);
        close(fd);
        return CLI_EXIT_AUTH;
    }
    if (st.st_uid != geteuid()) {
        fprintf(stderr, "forge: refusing %s: it belongs to another user\n", path);
        close(fd);
        return CLI_EXIT_AUTH;
    }
    if (st.st_mode & 077) {
        fprintf(stderr,
                "forge: refusing %s: it is readable by others (mode %04o); it holds tokens.\n"
                "  fix: chmod 600 %s  (and log in again if others may have read it)\n",
                path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return CLI_EXIT_AUTH;
    }
    if (st.st_size > (off_t)CLI_CREDS_MAX_BYTES) {
        fprintf(stderr, "forge: %s is too large\n", path);
        close(fd);
        return CLI_EXIT_AUTH;
    }
    json_error_t je;
    *root = json_loadfd(fd, 0, &je);
    close(fd);
    if (!*root || !json_is_object(*root)) {
        fprintf(stderr, "forge: %s is not valid JSON (%s); remove it and log in again\n", path,
                *root ? "not an object" : je.text);
        json_decref(*root);
        *root = NULL;
        return CLI_EXIT_AUTH;
    }
    return CLI_EXIT_OK;
}

static int write_root(const char *dir, const char *path, json_t *root)
{
    char *tmp = path_join(dir, ".credentials.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "forge: cannot write in %s: %s\n", dir, strerror(errno));
        free(tmp);
        return CLI_EXIT_USAGE;
    }
    int ok = fchmod(fd, 0600) == 0 &&
             json_dumpfd(root, fd, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
             write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "forge: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return CLI_EXIT_USAGE;
    }
    free(tmp);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return CLI_EXIT_OK;
}

/* Locks the credentials of dir; returns the lock fd (close to unlock) or -1. */
static int lock_dir(const char *dir, int create)
{
    if (create && mkdir_p(dir, 0700) != 0) {
        fprintf(stderr, "forge: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char *lp = path_join(dir, "credentials.lock");
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    free(lp);
    if (fd < 0) {
        if (!create && errno == ENOENT)
            return -2;
        fprintf(stderr, "forge: cannot lock the credentials in %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static int valid_profile(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > CLI_PROFILE_MAX)
        return 0;
    for (const char *q = p; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              *q == '-' || *q == '_' || *q == '.'))
            return 0;
    return p[0] != '.';
}

static char *norm_url(const char *u)
{
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        n--;
    return fg_xstrndup(u, n);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? fg_xstrdup(v) : NULL;
}

int cli_session_load(struct cli_session *s, const char *name, const char *url_override)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    const char *pn = name ? name : getenv("FORGE_PROFILE");
    if (!pn || !*pn)
        pn = "default";
    s->profile = fg_xstrdup(pn);
    if (!valid_profile(pn)) {
        fprintf(stderr, "forge: invalid profile name '%s' (letters, digits, '.', '_', '-')\n", pn);
        return CLI_EXIT_USAGE;
    }
    char *dir = cli_config_dir();
    json_t *root = NULL;
    int rc = CLI_EXIT_OK;
    if (dir) {
        char *path = path_join(dir, "credentials.json");
        rc = load_root(path, &root);
        free(path);
    }
    free(dir);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *p = json_object_get(json_object_get(root, "profiles"), pn);
    if (json_is_object(p)) {
        set_str(&s->url, json_string_value(json_object_get(p, "url")));
        set_str(&s->access, json_string_value(json_object_get(p, "access_token")));
        set_str(&s->refresh, json_string_value(json_object_get(p, "refresh_token")));
        set_str(&s->email, json_string_value(json_object_get(p, "email")));
    }
    json_decref(root);
    const char *ov = url_override ? url_override : getenv("FORGE_URL");
    if (ov && *ov) {
        char *u = norm_url(ov);
        /* tokens of one server are never sent to another */
        if (!s->url || strcmp(s->url, u) != 0) {
            set_str(&s->access, NULL);
            set_str(&s->refresh, NULL);
        }
        free(s->url);
        s->url = u;
    }
    if (!s->url)
        s->url = fg_xstrdup(CLI_DEFAULT_URL);
    if (strncmp(s->url, "http://", 7) != 0 && strncmp(s->url, "https://", 8) != 0) {
        fprintf(stderr, "forge: server URL must start with http:// or https:// (got '%s')\n",
                s->url);
        return CLI_EXIT_USAGE;
    }
    const char *et = getenv("FORGE_TOKEN");
    if (et && *et) {
        set_str(&s->access, et);
        set_str(&s->refresh, NULL);
        s->token_env = 1;
    }
    return CLI_EXIT_OK;
}

void cli_session_free(struct cli_session *s)
{
    free(s->profile);
    free(s->url);
    if (s->access)
        memset(s->access, 0, strlen(s->access));
    free(s->access);
    if (s->refresh)
        memset(s->refresh, 0, strlen(s->refresh));
    free(s->refresh);
    free(s->email);
    pthread_mutex_destroy(&s->mu);
}

/* Rewrites this session's profile; the caller holds the lock. forget: drop the tokens. */
static int save_locked(const char *dir, struct cli_session *s, int forget)
{
    char *path = path_join(dir, "credentials.json");
    json_t *root;
    int rc = load_root(path, &root);
    if (rc != CLI_EXIT_OK) {
        free(path);
        return rc;
    }
    json_t *profiles = json_object_get(root, "profiles");
    if (!json_is_object(profiles)) {
        profiles = json_object();
        json_object_set_new(root, "profiles", profiles);
    }
    json_t *p = json_object();
    json_object_set_new(p, "url", json_string(s->url));
    if (s->email)
        json_object_set_new(p, "email", json_string(s->email));
    if (!forget && s->access)
        json_object_set_new(p, "access_token", json_string(s->access));
    if (!forget && s->refresh)
        json_object_set_new(p, "refresh_token", json_string(s->refresh));
    json_object_set_new(profiles, s->profile, p);
    rc = write_root(dir, path, root);
    json_decref(root);
    free(path);
    return rc;
}

static int save(struct cli_session *s, int forget)
{
    if (s->token_env)
        return CLI_EXIT_OK;
    char *dir = cli_config_dir();
    if (!dir) {
        fprintf(stderr, "forge: neither XDG_CONFIG_HOME nor HOME is set: cannot store "
                        "credentials\n");
        return CLI_EXIT_USAGE;
    }
    int fd = lock_dir(dir, 1);
    if (fd < 0) {
        free(dir);
        return CLI_EXIT_USAGE;
    }
    int rc = save_locked(dir, s, forget);
    close(fd);
    free(dir);
    return rc;
}

int cli_session_save(struct cli_session *s)
{
    return save(s, 0);
}

int cli_session_forget_tokens(struct cli_session *s)
{
    return save(s, 1);
}

int cli_session_refresh(struct cli_ctx *c, unsigned seen_gen)
{
    struct cli_session *s = c->s;
    int rc = CLI_EXIT_OK, lockfd = -1;
    char *dir = NULL;
    json_t *out = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->auth_failed) {
        rc = CLI_EXIT_AUTH;
        goto out;
    }
    if (s->gen != seen_gen) /* another thread already refreshed */
        goto out;
    dir = cli_config_dir();
    if (dir)
        lockfd = lock_dir(dir, 1);
    if (dir && lockfd >= 0) {
        /* another process may have rotated the tokens of this profile meanwhile */
        char *path = path_join(dir, "credentials.json");
        json_t *root = NULL;
        if (load_root(path, &root) == CLI_EXIT_OK) {
            json_t *p = json_object_get(json_object_get(root, "profiles"), s->profile);
            const char *fu = json_string_value(json_object_get(p, "url"));
            const char *fr = json_string_value(json_object_get(p, "refresh_token"));
            const char *fa = json_string_value(json_object_get(p, "access_token"));
            if (fu && fr && fa && strcmp(fu, s->url) == 0 && s->refresh &&
                strcmp(fr, s->refresh) != 0) {
                set_str(&s->refresh, fr);
                set_str(&s->access, fa);
                s->gen++;
                json_decref(root);
                free(path);
                goto out;
            }
        }
        json_decref(root);
        free(path);
    }
    json_t *body = json_pack("{ss}", "refresh_token", s->refresh ? s->refresh : "");
    long status = 0;
    rc = cli_call(c, "POST", "/api/v1/auth/refresh", body, CLI_F_NOAUTH | CLI_F_NOPRINT, &out,
                  &status);
    json_decref(body);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        const char *a = json_string_value(json_object_get(d, "access_token"));
        const char *r = json_string_value(json_object_get(d, "refresh_token"));
        if (!a || !r) {
            fprintf(stderr, "forge: the server's refresh answer has no tokens\n");
            rc = CLI_EXIT_SERVER;
            goto out;
        }
        set_str(&s->access, a);
        set_str(&s->refresh, r);
        s->gen++;
        if (dir && lockfd >= 0)
            rc = save_locked(dir, s, 0);
        goto out;
    }
    if (status == 401) {
        s->auth_failed = 1;
        const char *m = json_string_value(json_object_get(out, "message"));
        fprintf(stderr,
                "forge: your session has expired or was revoked (%s); log in again with "
                "`forge login%s%s`\n",
                m ? m : "refresh refused", strcmp(s->profile, "default") ? " --profile " : "",
                strcmp(s->profile, "default") ? s->profile : "");
        set_str(&s->access, NULL);
        set_str(&s->refresh, NULL);
        if (dir && lockfd >= 0)
            save_locked(dir, s, 1);
        rc = CLI_EXIT_AUTH;
        goto out;
    }
    if (out && json_object_get(out, "message"))
        cli_print_error(c, status, out);
    else if (status)
        fprintf(stderr, "forge: token refresh failed (%ld)\n", status);
    else
        fprintf(stderr, "forge: cannot reach %s to refresh the session\n", s->url);
out:
    if (lockfd >= 0)
        close(lockfd);
    free(dir);
    json_decref(out);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
