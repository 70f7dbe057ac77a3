/*
 * Terminal helpers of the `forge` client: prompts on /dev/tty (echo switched off with termios for
 * secrets, restored on every path including SIGINT), reading files and streams with a size cap,
 * and git-commit-like editing through $VISUAL / $EDITOR.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli/client.h"
#include "util/buf.h"
#include "util/mem.h"

#define CLI_PROMPT_MAX 1024

static struct termios g_saved;
static volatile sig_atomic_t g_tty_fd = -1;

static void restore_on_signal(int sig)
{
    if (g_tty_fd >= 0)
        tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

char *cli_prompt(const char *prompt, int secret)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return NULL;
    struct termios t;
    int echo_off = 0;
    struct sigaction old_int, old_term, sa;
    if (secret && tcgetattr(fd, &t) == 0) {
        g_saved = t;
        g_tty_fd = fd;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = restore_on_signal;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
        t.c_lflag |= ICANON;
        echo_off = tcsetattr(fd, TCSAFLUSH, &t) == 0;
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* nothing to do: the read below still works */
    }
    char buf[CLI_PROMPT_MAX];
    size_t n = 0;
    int ok = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (ch == '\n' || ch == '\r') {
            ok = 1;
            break;
        }
        if (n + 1 < sizeof buf)
            buf[n++] = ch;
    }
    buf[n] = 0;
    if (echo_off) {
        tcsetattr(fd, TCSAFLUSH, &g_saved);
        if (write(fd, "\n", 1) < 0) {
            /* ignore */
        }
    }
    if (secret) {
        g_tty_fd = -1;
        if (echo_off) {
            sigaction(SIGINT, &old_int, NULL);
            sigaction(SIGTERM, &old_term, NULL);
        }
    }
    close(fd);
    char *out = ok || n ? fg_xstrdup(buf) : NULL;
    memset(buf, 0, sizeof buf);
    return out;
}

char *cli_read_stream(FILE *f, size_t limit, size_t *len, int *too_big)
{
    struct fg_buf b;
    fg_buf_init(&b, limit);
    char chunk[65536];
    size_t n;
    *too_big = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (fg_buf_append(&b, chunk, n) != FG_OK) {
            *too_big = 1;
            fg_buf_free(&b);
            return NULL;
        }
    }
    if (ferror(f)) {
        fg_buf_free(&b);
        return NULL;
    }
    char *s = fg_buf_steal(&b, len);
    if (!s) {
        s = fg_xstrdup("");
        if (len)
            *len = 0;
    }
    return s;
}

char *cli_read_file(const char *path, size_t limit, size_t *len, int *too_big)
{
    FILE *f = fopen(path, "rb");
    *too_big = 0;
    if (!f)
        return NULL;
    char *s = cli_read_stream(f, limit, len, too_big);
    fclose(f);
    return s;
}

static int run_editor(const char *path)
{
    /* like git: the editor value is a shell command line, the file its last argument */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "$FORGE_EDITOR_CMD \"$1\"", "sh", path, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

char *cli_edit_text(const char *initial, const char *help)
{
    const char *tmpd = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/forge-edit-XXXXXX.md", tmpd && *tmpd ? tmpd : "/tmp");
    int fd = mkstemps(path, 3);
    if (fd < 0) {
        fprintf(stderr, "forge: cannot create a temporary file: %s\n", strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return NULL;
    }
    if (initial && *initial) {
        fputs(initial, f);
        if (initial[strlen(initial) - 1] != '\n')
            fputc('\n', f);
    } else {
        fputc('\n', f);
    }
    fprintf(f, "# %s\n# Lines starting with '#' are ignored; an empty text aborts.\n", help);
    fclose(f);
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed)
        ed = getenv("EDITOR");
    if (!ed || !*ed)
        ed = "vi";
    setenv("FORGE_EDITOR_CMD", ed, 1);
    if (run_editor(path) != 0) {
        fprintf(stderr, "forge: the editor (%s) failed; nothing changed\n", ed);
        unlink(path);
        return NULL;
    }
    int too_big;
    size_t len;
    char *text = cli_read_file(path, CLI_CONTENT_MAX * 2, &len, &too_big);
    unlink(path);
    if (!text) {
        fprintf(stderr, "forge: cannot read the edited text%s\n", too_big ? " (too large)" : "");
        return NULL;
    }
    /* drop comment lines, then trim blank lines at both ends */
    struct fg_buf b;
    fg_buf_init(&b, CLI_CONTENT_MAX * 2);
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (line[0] != '#')
            fg_buf_append(&b, line, ll);
        line += ll;
    }
    free(text);
    char *s = fg_buf_steal(&b, NULL);
    if (!s)
        return fg_xstrdup("");
    size_t start = 0, end = strlen(s);
    while (start < end && (s[start] == '\n' || s[start] == '\r'))
        start++;
    while (end > start &&
           (s[end - 1] == '\n' || s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\r'))
        end--;
    char *out = fg_xstrndup(s + start, end - start);
    free(s);
    return out;
}
