/* Shared state over a real redis-server started on a free loopback port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/shared_state.h"

enum fg_err fg_ss_redis_open(const char *url, struct fg_shared_state **out, char *err,
                             size_t errlen);

static int g_port;
static pid_t g_pid;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static void start_redis(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", g_port);
    g_pid = fork();
    if (g_pid == 0) {
        int fd = open("/dev/null", 1);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    /* wait until it accepts connections */
    for (int i = 0; i < 200; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)g_port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (ok)
            return;
        usleep(20000);
    }
    fail_msg("redis-server did not start");
}

static void stop_redis(void)
{
    kill(g_pid, SIGTERM);
    waitpid(g_pid, NULL, 0);
}

static int setup(void **state)
{
    (void)state;
    g_port = free_port();
    start_redis();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_redis();
    return 0;
}

static struct fg_shared_state *open_ss(void)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", g_port);
    struct fg_shared_state *s = NULL;
    assert_int_equal(fg_ss_redis_open(url, &s, err, sizeof err), FG_OK);
    return s;
}

static void test_ops(void **state)
{
    (void)state;
    struct fg_shared_state *s = open_ss();
    assert_string_equal(s->ops->name, "redis");
    int64_t n = 0, ttl = 0;
    fg_ss_del(s, "rl:test");
    assert_int_equal(fg_ss_incr(s, "rl:test", 60000, &n, &ttl), FG_OK);
    assert_int_equal(n, 1);
    assert_true(ttl > 59000 && ttl <= 60000);
    assert_int_equal(fg_ss_incr(s, "rl:test", 1000, &n, &ttl), FG_OK);
    assert_int_equal(n, 2);
    assert_true(ttl > 1000); /* an existing key keeps its TTL */
    int stored = -1;
    assert_int_equal(fg_ss_set(s, "sess:a", "revoked", 5000, 1, &stored), FG_OK);
    assert_int_equal(stored, 1);
    assert_int_equal(fg_ss_set(s, "sess:a", "other", 5000, 1, &stored), FG_OK);
    assert_int_equal(stored, 0);
    char buf[32];
    int found = 0;
    assert_int_equal(fg_ss_get(s, "sess:a", buf, sizeof buf, &found, &ttl), FG_OK);
    assert_true(found);
    assert_string_equal(buf, "revoked");
    assert_true(ttl > 0 && ttl <= 5000);
    assert_int_equal(fg_ss_set(s, "sess:b", "x", 50, 0, NULL), FG_OK);
    usleep(120000);
    assert_int_equal(fg_ss_get(s, "sess:b", buf, sizeof buf, &found, NULL), FG_OK);
    assert_false(found);                                                  /* expired */
    assert_int_equal(fg_ss_incr(s, "sess:a", 1000, &n, NULL), FG_EINVAL); /* not an integer */
    assert_int_equal(fg_ss_del(s, "sess:a"), FG_OK);
    assert_int_equal(fg_ss_get(s, "sess:a", buf, sizeof buf, &found, NULL), FG_OK);
    assert_false(found);
    char longkey[FG_SS_MAX_KEY + 10];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_int_equal(fg_ss_incr(s, longkey, 1000, &n, NULL), FG_EINVAL);
    fg_ss_close(s);
}

static void test_outage_and_recovery(void **state)
{
    (void)state;
    struct fg_shared_state *s = open_ss();
    int64_t n;
    assert_int_equal(fg_ss_incr(s, "rl:x", 60000, &n, NULL), FG_OK);
    stop_redis();
    assert_int_equal(fg_ss_incr(s, "rl:x", 60000, &n, NULL), FG_EUNAVAIL);
    char buf[8];
    int found;
    assert_int_equal(fg_ss_get(s, "rl:x", buf, sizeof buf, &found, NULL), FG_EUNAVAIL);
    start_redis();
    assert_int_equal(fg_ss_incr(s, "rl:x", 60000, &n, NULL), FG_OK);
    assert_int_equal(n, 1); /* a fresh server: state started over */
    fg_ss_close(s);
    char err[128];
    struct fg_shared_state *bad = NULL;
    assert_int_equal(fg_ss_redis_open("redis://127.0.0.1:1/0", &bad, err, sizeof err), FG_EUNAVAIL);
    assert_non_null(strstr(err, "REDIS_URL"));
    assert_int_equal(fg_ss_redis_open("http://x", &bad, err, sizeof err), FG_EINVAL);
    assert_int_equal(fg_ss_redis_open("redis://h:99999", &bad, err, sizeof err), FG_EINVAL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops),
        cmocka_unit_test(test_outage_and_recovery),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
