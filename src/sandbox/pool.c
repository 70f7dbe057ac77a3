/*
 * The sandbox worker pool (sandbox.h): overlay calls run in forked worker processes.
 *
 * A worker is forked from the server, then, before it reads any request: closes every inherited
 * descriptor except its socket, resets signals, sets rlimits (RLIMIT_AS, RLIMIT_NOFILE,
 * RLIMIT_FSIZE, RLIMIT_CORE; RLIMIT_CPU per call), sets no_new_privs and installs a seccomp
 * allow-list (read, write, memory management, clocks, exit — any other system call kills it). It
 * then serves calls one at a time with lua_sb_run (a fresh lua_State each).
 *
 * Protocol over a socketpair: frames of a 4-byte big-endian length and a JSON object.
 *   worker → parent  {"t":"hello","seccomp":0|1}                 once, at start
 *   parent → worker  {"src","name","fn","input","mem","fuel","ms","caps","seed"}
 *   worker → parent  {"t":"call","fn","args"}                     a host call (0..n times)
 *   parent → worker  {"ok":value} | {"error":msg,"denied":bool}  its answer
 *   worker → parent  {"t":"done","outcome","result","error","fuel","mem","logs"}
 * The parent waits with the call's deadline; when it passes (or the worker misbehaves) it sends
 * SIGKILL, reaps the worker and starts a new one on the next call.
 *
 * The fork happens in a multithreaded server. The child only uses malloc (made fork-safe by glibc),
 * jansson and Lua, never the server's locks (no logging), and exits with _exit.
 */

#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "util/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define SB_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_UNDER_ASAN 1
#endif
#endif
#ifndef SB_UNDER_ASAN
#define SB_UNDER_ASAN 0
#endif

#define SB_WORKER_FD     3
#define SB_HELLO_MS      5000
#define SB_MAX_WORKERS   64
#define SB_KILL_GRACE_MS 0

struct worker {
    pid_t pid;
    pid_t dead; /* killed, not yet reaped (reaped before the next spawn: the caller of a
                   timed-out call does not wait for the kernel to tear the worker down) */
    int fd;
    int busy;
    int seccomp;
};

struct lua_sb_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int as_mb;
    int seccomp_seen;
    struct worker w[SB_MAX_WORKERS];
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- framing ---- */
static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_frame(int fd, json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!txt)
        return -1;
    size_t n = strlen(txt);
    if (n > LUA_SB_MAX_FRAME) {
        free(txt);
        return -1;
    }
    unsigned char h[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    int rc = write_all(fd, h, 4) || write_all(fd, txt, n) ? -1 : 0;
    free(txt);
    return rc;
}

/* Reads exactly n bytes; deadline < 0: no deadline. 0 ok, -1 EOF/error, -2 deadline. */
static int read_all(int fd, void *buf, size_t n, double deadline)
{
    char *p = buf;
    while (n > 0) {
        if (deadline >= 0) {
            double left = deadline - mono_s();
            if (left <= 0)
                return -2;
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int ms = (int)(left * 1000.0) + 1;
            int pr = poll(&pfd, 1, ms);
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr < 0)
                return -1;
            if (pr == 0)
                return -2;
        }
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A frame as JSON (new reference) or NULL; *why: -1 EOF/bad, -2 deadline. */
static json_t *recv_frame(int fd, double deadline, int *why)
{
    unsigned char h[4];
    int rc = read_all(fd, h, 4, deadline);
    if (rc) {
        *why = rc;
        return NULL;
    }
    size_t n = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
    if (n > LUA_SB_MAX_FRAME) {
        *why = -1;
        return NULL;
    }
    char *buf = fg_xmalloc(n + 1);
    rc = read_all(fd, buf, n, deadline);
    if (rc) {
        free(buf);
        *why = rc;
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb(buf, n, JSON_DECODE_ANY, &e);
    free(buf);
    if (!j)
        *why = -1;
    return j;
}

/* ---- the worker side ---- */
static json_t *worker_host(void *ctx, const char *fn, json_t *args, char *err, size_t errlen,
                           int *denied)
{
    int fd = *(int *)ctx;
    json_t *msg = json_pack("{sssssO}", "t", "call", "fn", fn, "args", args);
    int rc = send_frame(fd, msg);
    json_decref(msg);
    if (rc) {
        snprintf(err, errlen, "host unreachable");
        return NULL;
    }
    int why = 0;
    json_t *r = recv_frame(fd, -1, &why);
    if (!r)
        _exit(3); /* the parent went away */
    json_t *ok = json_object_get(r, "ok");
    if (ok) {
        json_incref(ok);
        json_decref(r);
        return ok;
    }
    const char *m = json_string_value(json_object_get(r, "error"));
    snprintf(err, errlen, "%s", m ? m : "failed");
    *denied = json_is_true(json_object_get(r, "denied"));
    json_decref(r);
    return NULL;
}

static void worker_cpu_limit(long long ms)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return;
    rlim_t used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
    rlim_t extra = (rlim_t)((ms + 999) / 1000) * 2 + 1;
    struct rlimit rl = {.rlim_cur = used + extra, .rlim_max = used + extra + 1};
    setrlimit(RLIMIT_CPU, &rl);
}

static void worker_loop(int fd, int seccomp_on)
{
    json_t *hello = json_pack("{sssi}", "t", "hello", "seccomp", seccomp_on);
    send_frame(fd, hello);
    json_decref(hello);
    for (;;) {
        int why = 0;
        json_t *req = recv_frame(fd, -1, &why);
        if (!req)
            _exit(0);
        struct lua_sb_call call = {0};
        json_t *src = json_object_get(req, "src");
        call.source = json_string_value(src);
        call.source_len = json_string_length(src);
        call.chunkname = json_string_value(json_object_get(req, "name"));
        call.entry = json_string_value(json_object_get(req, "fn"));
        call.input = json_object_get(req, "input");
        call.max_memory = (size_t)json_integer_value(json_object_get(req, "mem"));
        call.max_fuel = json_integer_value(json_object_get(req, "fuel"));
        call.max_ms = json_integer_value(json_object_get(req, "ms"));
        call.caps = (int)json_integer_value(json_object_get(req, "caps"));
        call.seed = (unsigned long long)json_integer_value(json_object_get(req, "seed"));
        if (!call.source)
            _exit(4);
        worker_cpu_limit(call.max_ms);
        struct lua_sb_result res;
        lua_sb_run(&call, worker_host, &fd, &res);
        json_t *done =
            json_pack("{sssssIsIsI}", "t", "done", "outcome", lua_sb_outcome_name(res.outcome),
                      "fuel", (json_int_t)res.fuel_used, "mem", (json_int_t)res.memory_peak,
                      "elapsed_us", (json_int_t)(res.elapsed_ms * 1000.0));
        json_object_set_new(done, "error", json_string(res.error));
        if (res.result)
            json_object_set(done, "result", res.result);
        if (res.logs)
            json_object_set(done, "logs", res.logs);
        lua_sb_result_clear(&res);
        json_decref(req);
        if (send_frame(fd, done) != 0)
            _exit(0);
        json_decref(done);
    }
}

#if defined(__x86_64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Installs the allow-list; 1 when active. */
static int install_seccomp(void)
{
#if defined(SB_AUDIT_ARCH)
    static const int allowed[] = {
        SYS_read,         SYS_write,          SYS_exit,          SYS_exit_group, SYS_brk,
        SYS_mmap,         SYS_munmap,         SYS_mremap,        SYS_madvise,    SYS_mprotect,
        SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_clock_gettime, SYS_getrusage,  SYS_prlimit64,
        SYS_futex,        SYS_sendto,         SYS_recvfrom,      SYS_poll,       SYS_getrandom,
#ifdef SYS_setrlimit
        SYS_setrlimit,
#endif
    };
    enum { N = sizeof allowed / sizeof allowed[0] };
    struct sock_filter f[4 + 2 * N + 4 + 2];
    size_t k = 0;
    f[k++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_AUDIT_ARCH, 1, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[k++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < N; i++) {
        f[k++] =
            (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)allowed[i], 0, 1);
        f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    /* glibc's malloc may read /proc/sys/vm/overcommit_memory when it shrinks a thread arena:
     * opening files fails with EACCES instead of killing the worker */
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES);
#ifdef SYS_open
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 0, 1);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES);
#endif
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
    if (SB_UNDER_ASAN)
        return 0; /* the sanitizer runtime needs more system calls than the allow-list */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return 0;
    return 1;
#else
    return 0;
#endif
}

static void worker_main(int sock, int as_mb, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    if (sock != SB_WORKER_FD) {
        if (dup2(sock, SB_WORKER_FD) < 0)
            _exit(5);
    } else {
        fcntl(sock, F_SETFD, 0);
    }
    syscall(SYS_close_range, SB_WORKER_FD + 1, ~0U, 0);
    for (int fd = 0; fd < SB_WORKER_FD; fd++) /* no stdin/stdout/stderr either */
        close(fd);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &rl);
    setrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = rl.rlim_max = SB_WORKER_FD + 1;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (!SB_UNDER_ASAN && as_mb > 0) {
        /* the worker inherits the server's address space (thread stacks, mappings): the limit
         * is what it has now plus as_mb */
        rlim_t have = 0;
        int sfd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        if (sfd >= 0) {
            char b[64] = "";
            ssize_t k = read(sfd, b, sizeof b - 1);
            close(sfd);
            if (k > 0)
                have = (rlim_t)strtoull(b, NULL, 10) * (rlim_t)sysconf(_SC_PAGESIZE);
        }
        rl.rlim_cur = rl.rlim_max = have + (rlim_t)as_mb * 1024 * 1024;
        setrlimit(RLIMIT_AS, &rl);
    }
    json_decref(json_object()); /* jansson seeds its hash from /dev/urandom once: before seccomp */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int sc = install_seccomp();
    worker_loop(SB_WORKER_FD, sc);
    _exit(0);
}

static void reap_dead(struct worker *w)
{
    if (w->dead > 0) {
        while (waitpid(w->dead, NULL, 0) < 0 && errno == EINTR)
            ;
        w->dead = 0;
    }
}

static void worker_reap(struct worker *w)
{
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        reap_dead(w);
        w->dead = w->pid;
    }
    if (w->fd >= 0)
        close(w->fd);
    w->pid = 0;
    w->fd = -1;
}

static int worker_spawn(struct lua_sb_pool *p, struct worker *w)
{
    reap_dead(w);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        worker_main(sv[1], p->as_mb, parent);
        _exit(0);
    }
    close(sv[1]);
    w->pid = pid;
    w->fd = sv[0];
    int why = 0;
    json_t *hello = recv_frame(w->fd, mono_s() + SB_HELLO_MS / 1000.0, &why);
    if (!hello || strcmp(json_string_value(json_object_get(hello, "t")) ?: "", "hello") != 0) {
        json_decref(hello);
        worker_reap(w);
        return -1;
    }
    w->seccomp = (int)json_integer_value(json_object_get(hello, "seccomp"));
    if (w->seccomp)
        p->seccomp_seen = 1;
    json_decref(hello);
    return 0;
}

struct lua_sb_pool *lua_sb_pool_new(int workers, int address_space_mb)
{
    if (workers < 1 || workers > SB_MAX_WORKERS)
        return NULL;
    struct lua_sb_pool *p = fg_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->n = workers;
    p->as_mb = address_space_mb;
    for (int i = 0; i < SB_MAX_WORKERS; i++)
        p->w[i].fd = -1;
    return p;
}

void lua_sb_pool_free(struct lua_sb_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        worker_reap(&p->w[i]);
        reap_dead(&p->w[i]);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int lua_sb_pool_pids(struct lua_sb_pool *p, int *pids, int max)
{
    int k = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n && k < max; i++)
        if (p->w[i].pid > 0)
            pids[k++] = (int)p->w[i].pid;
    pthread_mutex_unlock(&p->mu);
    return k;
}

int lua_sb_pool_seccomp(struct lua_sb_pool *p)
{
    return p->seccomp_seen;
}

static struct worker *acquire(struct lua_sb_pool *p, double deadline)
{
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (int i = 0; i < p->n; i++) {
            if (!p->w[i].busy) {
                p->w[i].busy = 1;
                pthread_mutex_unlock(&p->mu);
                return &p->w[i];
            }
        }
        double left = deadline - mono_s();
        if (left <= 0) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + left;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
}

static void release(struct lua_sb_pool *p, struct worker *w)
{
    pthread_mutex_lock(&p->mu);
    w->busy = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static enum lua_sb_outcome outcome_of(const char *s)
{
    for (int o = LUA_SB_OK; o <= LUA_SB_BAD_RESULT; o++)
        if (s && strcmp(s, lua_sb_outcome_name((enum lua_sb_outcome)o)) == 0)
            return (enum lua_sb_outcome)o;
    return LUA_SB_RUNTIME_ERROR;
}

static unsigned long long seed_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 20);
    x ^= (unsigned long long)(uintptr_t)&ts;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

enum fg_err lua_sb_pool_run(struct lua_sb_pool *p, const struct lua_sb_call *call,
                            lua_sb_host_fn host, void *ctx, struct lua_sb_result *out)
{
    memset(out, 0, sizeof *out);
    double t0 = mono_s();
    double deadline = t0 + (double)call->max_ms / 1000.0;
    struct worker *w = acquire(p, deadline);
    if (!w)
        return FG_EUNAVAIL;
    if (w->pid <= 0 && worker_spawn(p, w) != 0) {
        release(p, w);
        return FG_EUNAVAIL;
    }
    json_t *req = json_pack(
        "{s:s%,s:s,s:s,s:O?,s:I,s:I,s:I,s:i,s:I}", "src", call->source, call->source_len, "name",
        call->chunkname ? call->chunkname : "=overlay", "fn", call->entry ? call->entry : "process",
        "input", call->input, "mem", (json_int_t)call->max_memory, "fuel",
        (json_int_t)call->max_fuel, "ms", (json_int_t)call->max_ms, "caps", call->caps, "seed",
        (json_int_t)((call->seed ? call->seed : seed_now()) & 0x7fffffffffffffffULL));
    if (!req) {
        release(p, w);
        out->outcome = LUA_SB_RUNTIME_ERROR;
        snprintf(out->error, sizeof out->error, "the source or input is not valid UTF-8");
        return FG_OK;
    }
    int rc = send_frame(w->fd, req);
    if (rc != 0) { /* the worker died while idle: one new worker, one retry */
        worker_reap(w);
        if (worker_spawn(p, w) != 0 || send_frame(w->fd, req) != 0) {
            json_decref(req);
            worker_reap(w);
            release(p, w);
            return FG_EUNAVAIL;
        }
    }
    json_decref(req);
    int kill_it = 0;
    for (;;) {
        int why = 0;
        json_t *m = recv_frame(w->fd, deadline, &why);
        if (!m) {
            if (why == -2) {
                out->outcome = LUA_SB_TIMEOUT;
                snprintf(out->error, sizeof out->error, "wall-clock limit of %lld ms exceeded",
                         call->max_ms);
                kill_it = 1;
                break;
            }
            /* EOF: the worker died (RLIMIT_CPU, seccomp, crash) */
            int st = 0;
            pid_t pid = w->pid;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            w->pid = 0;
            close(w->fd);
            w->fd = -1;
            if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU) {
                out->outcome = LUA_SB_TIMEOUT;
                snprintf(out->error, sizeof out->error, "CPU limit exceeded");
            } else {
                out->outcome = LUA_SB_RUNTIME_ERROR;
                snprintf(out->error, sizeof out->error, "the sandbox worker died (%s %d)",
                         WIFSIGNALED(st) ? "signal" : "exit",
                         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            }
            break;
        }
        const char *t = json_string_value(json_object_get(m, "t"));
        if (t && strcmp(t, "call") == 0) {
            const char *fn = json_string_value(json_object_get(m, "fn"));
            json_t *args = json_object_get(m, "args");
            char err[256] = "";
            int denied = 0;
            json_t *r = NULL;
            if (host && fn && json_is_array(args))
                r = host(ctx, fn, args, err, sizeof err, &denied);
            else
                snprintf(err, sizeof err, "host functions are unavailable");
            json_t *reply =
                r ? json_pack("{so}", "ok", r)
                  : json_pack("{sssb}", "error", err[0] ? err : "failed", "denied", denied);
            json_decref(m);
            int src = send_frame(w->fd, reply);
            json_decref(reply);
            if (src != 0) {
                out->outcome = LUA_SB_RUNTIME_ERROR;
                snprintf(out->error, sizeof out->error, "the sandbox worker went away");
                kill_it = 1;
                break;
            }
            continue;
        }
        if (!t || strcmp(t, "done") != 0) {
            json_decref(m);
            out->outcome = LUA_SB_RUNTIME_ERROR;
            snprintf(out->error, sizeof out->error, "protocol error from the sandbox worker");
            kill_it = 1;
            break;
        }
        out->outcome = outcome_of(json_string_value(json_object_get(m, "outcome")));
        snprintf(out->error, sizeof out->error, "%s",
                 json_string_value(json_object_get(m, "error")) ?: "");
        out->fuel_used = json_integer_value(json_object_get(m, "fuel"));
        out->memory_peak = (size_t)json_integer_value(json_object_get(m, "mem"));
        if (out->outcome == LUA_SB_OK) {
            out->result = json_object_get(m, "result");
            out->result = out->result ? json_incref(out->result) : json_null();
        }
        json_t *logs = json_object_get(m, "logs");
        if (json_is_array(logs))
            out->logs = json_incref(logs);
        json_decref(m);
        break;
    }
    if (kill_it)
        worker_reap(w);
    release(p, w);
    out->elapsed_ms = (mono_s() - t0) * 1000.0;
    return FG_OK;
}
