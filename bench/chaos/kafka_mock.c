/*
 * A Kafka cluster for bench/chaos/chaos.py: librdkafka's mock cluster (the real Kafka protocol,
 * the same mock tests/unit/core/test_delivery.c uses) in its own process. Prints the bootstrap
 * servers on the first line, then reads commands from stdin: "down" (every broker down), "up"
 * (every broker up), "quit". Exits on EOF.
 *
 * build: cc -O2 -o kafka_mock bench/chaos/kafka_mock.c $(pkg-config --cflags --libs rdkafka)
 * usage: kafka_mock [brokers=3]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int main(int argc, char **argv)
{
    int brokers = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 3;
    if (brokers < 1 || brokers > 9)
        brokers = 3;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        return 1;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        int down = strncmp(line, "down", 4) == 0, up = strncmp(line, "up", 2) == 0;
        if (strncmp(line, "quit", 4) == 0)
            break;
        for (int b = 1; b <= brokers && (down || up); b++) {
            if (down)
                rd_kafka_mock_broker_set_down(mc, b);
            else
                rd_kafka_mock_broker_set_up(mc, b);
        }
        printf("%s\n", down ? "down" : up ? "up" : "?");
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
