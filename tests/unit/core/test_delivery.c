/*
 * Outbox → Kafka delivery against librdkafka's mock cluster (the real Kafka protocol, in process):
 * every event arrives once acknowledged, in order per key, and a broker outage during delivery
 * loses nothing and reorders nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/delivery.h"
#include "store/audit.h"
#include "store/store.h"
#include "util/config.h"
#include "util/time.h"
#include "util/uuid.h"

#define KEYS    5
#define PER_KEY 40

struct ctx {
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mc;
    struct fg_config cfg;
    struct store *st;
    char dir[64];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof *c);
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    c->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(c->mock_rk);
    c->mc = rd_kafka_mock_cluster_new(c->mock_rk, 3);
    assert_non_null(c->mc);
    snprintf(c->dir, sizeof c->dir, "/tmp/forge-delivery-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/forge.db", c->dir);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    assert_int_equal(fg_config_load(&c->cfg, NULL, err, sizeof err), 0);
    assert_int_equal(store_open(&c->cfg, &c->st, err, sizeof err), FG_OK);
    int applied;
    assert_int_equal(c->st->ops->migrate(c->st, &applied), FG_OK);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    store_close(c->st);
    fg_config_free(&c->cfg);
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->mock_rk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", c->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    free(c);
    return 0;
}

static void add_events(struct ctx *c, int from, int to)
{
    enum fg_err e;
    struct store_conn *conn = store_acquire(c->st, &e);
    assert_non_null(conn);
    for (int i = from; i < to; i++) {
        char id[37], key[16], payload[64];
        fg_uuid7(id);
        snprintf(key, sizeof key, "res-%d", i % KEYS);
        snprintf(payload, sizeof payload, "{\"n\":%d}", i / KEYS);
        struct store_outbox_event ev = {0};
        ev.id = id;
        ev.type = "capsule.updated";
        ev.resource_id = key;
        ev.payload = payload;
        ev.created_at = fg_now_ms();
        assert_int_equal(c->st->audit->outbox_add(conn, &ev), FG_OK);
    }
    store_release(c->st, conn);
}

static long long backlog(struct ctx *c)
{
    enum fg_err e;
    struct store_conn *conn = store_acquire(c->st, &e);
    long long n = -1;
    assert_int_equal(c->st->audit->outbox_backlog(conn, &n), FG_OK);
    store_release(c->st, conn);
    return n;
}

/* Reads the topic back and checks: every (key, n) present, per key strictly increasing except
 * for duplicates of an already seen value (at least once). Returns the distinct count. */
static int consume_and_check(struct ctx *c, int expected)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(c->mc), err,
                      sizeof err);
    rd_kafka_conf_set(conf, "group.id", "forge-test", err, sizeof err);
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, "forge.capsule.updated", RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(rk, t), 0);
    rd_kafka_topic_partition_list_destroy(t);
    int last[KEYS];
    for (int i = 0; i < KEYS; i++)
        last[i] = -1;
    int distinct = 0;
    int64_t deadline = fg_now_ms() + 30000;
    while (distinct < expected && fg_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            int k = -1;
            assert_true(m->key_len > 4);
            k = atoi((const char *)m->key + 4) % KEYS; /* NOLINT: test code, fixed format */
            json_error_t je;
            json_t *v = json_loadb(m->payload, m->len, 0, &je);
            assert_non_null(v);
            assert_string_equal(json_string_value(json_object_get(v, "type")), "capsule.updated");
            int n = (int)json_integer_value(json_object_get(json_object_get(v, "payload"), "n"));
            json_decref(v);
            if (n > last[k]) {
                if (n != last[k] + 1)
                    fail_msg("key %d: gap or reorder, got %d after %d", k, n, last[k]);
                last[k] = n;
                distinct++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return distinct;
}

static struct fg_delivery *new_delivery(struct ctx *c)
{
    struct fg_delivery_config dc = {0};
    dc.bootstrap_servers = rd_kafka_mock_cluster_bootstraps(c->mc);
    dc.topic_prefix = "forge.";
    dc.batch_size = 50;
    dc.message_timeout_ms = 3000;
    dc.extra_config = "log_level=0";
    char err[256];
    struct fg_delivery *d = fg_delivery_new(c->st, &dc, err, sizeof err);
    if (!d)
        fail_msg("%s", err);
    return d;
}

static void test_delivers_everything_in_order(void **state)
{
    struct ctx *c = *state;
    rd_kafka_mock_topic_create(c->mc, "forge.capsule.updated", 3, 3);
    add_events(c, 0, KEYS * PER_KEY);
    assert_int_equal(backlog(c), KEYS * PER_KEY);
    struct fg_delivery *d = new_delivery(c);
    int total = 0, n = 0;
    for (int i = 0; i < 50 && total < KEYS * PER_KEY; i++) {
        assert_int_equal(fg_delivery_round(d, &n), FG_OK);
        total += n;
    }
    assert_int_equal(total, KEYS * PER_KEY);
    assert_int_equal(backlog(c), 0);
    fg_delivery_stop(d, 1000);
    assert_int_equal(consume_and_check(c, KEYS * PER_KEY), KEYS * PER_KEY);
}

static void test_broker_outage(void **state)
{
    struct ctx *c = *state;
    rd_kafka_mock_topic_create(c->mc, "forge.capsule.updated", 3, 3);
    add_events(c, 0, KEYS * PER_KEY / 2);
    struct fg_delivery *d = new_delivery(c);
    int n = 0;
    assert_int_equal(fg_delivery_round(d, &n), FG_OK);
    assert_true(n > 0);
    /* all brokers down: nothing may be marked delivered */
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_down(c->mc, b);
    add_events(c, KEYS * PER_KEY / 2, KEYS * PER_KEY);
    long long before = backlog(c);
    assert_int_equal(fg_delivery_round(d, &n), FG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(backlog(c), before);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_up(c->mc, b);
    int total = n;
    for (int i = 0; i < 100 && backlog(c) > 0; i++) {
        fg_delivery_round(d, &n);
        total += n;
    }
    assert_int_equal(backlog(c), 0);
    assert_true(total >= KEYS * PER_KEY / 2); /* at least the events held back by the outage */
    fg_delivery_stop(d, 1000);
    assert_int_equal(consume_and_check(c, KEYS * PER_KEY), KEYS * PER_KEY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delivers_everything_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_outage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
