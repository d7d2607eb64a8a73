/*
 * Tests of the etkmqtt C API (rust/capi/include/etkmqtt.h) against a real
 * Mosquitto that this program starts on a free 127.0.0.1 port and stops at
 * the end. Every wait is bounded. Ends with "capi: N passed, M failed" and
 * exits non-zero when a test failed.
 *
 * Build and run: examples/c/run-tests (also under valgrind and ASan).
 * The broker binary is $ETKMQTT_MOSQUITTO, or /usr/sbin/mosquitto.
 */
#define _GNU_SOURCE
#include "etkmqtt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Generous: valgrind runs the library 20-50 times slower. */
#define WAIT_MS 15000

/* ---- test harness ------------------------------------------------------ */

static int tests_passed;
static int tests_failed;
static int current_failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "    %s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            current_failed = 1;                                                \
            return;                                                            \
        }                                                                      \
    } while (0)

/* Checks a call's result code; on a mismatch prints both codes' meanings. */
#define CHECK_RESULT(expr, expected)                                           \
    do {                                                                       \
        etkmqtt_result actual__ = (expr);                                      \
        if (actual__ != (etkmqtt_result)(expected)) {                          \
            fprintf(stderr, "    %s:%d: %s\n      returned %u (%s)\n"          \
                    "      expected %u (%s)\n", __FILE__, __LINE__, #expr,     \
                    (unsigned)actual__, etkmqtt_result_describe(actual__),     \
                    (unsigned)(expected),                                      \
                    etkmqtt_result_describe(expected));                        \
            current_failed = 1;                                                \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_INT(actual, expected)                                            \
    do {                                                                       \
        long long a__ = (long long)(actual), e__ = (long long)(expected);      \
        if (a__ != e__) {                                                      \
            fprintf(stderr, "    %s:%d: %s is %lld, expected %lld\n",          \
                    __FILE__, __LINE__, #actual, a__, e__);                    \
            current_failed = 1;                                                \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_CONTAINS(text, part)                                             \
    do {                                                                       \
        if (strstr((text), (part)) == NULL) {                                  \
            fprintf(stderr, "    %s:%d: \"%s\" does not contain \"%s\"\n",     \
                    __FILE__, __LINE__, (text), (part));                       \
            current_failed = 1;                                                \
            return;                                                            \
        }                                                                      \
    } while (0)

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls `cond` every 5 ms until it holds or `ms` have passed. */
#define WAIT_FOR(cond, ms)                                                     \
    do {                                                                       \
        long long deadline__ = now_ms() + (ms);                                \
        while (!(cond) && now_ms() < deadline__)                               \
            usleep(5000);                                                      \
    } while (0)

#define RUN(test)                                                              \
    do {                                                                       \
        current_failed = 0;                                                    \
        printf("test %s ... ", #test);                                         \
        fflush(stdout);                                                        \
        test();                                                                \
        if (current_failed) {                                                  \
            tests_failed++;                                                    \
            printf("FAILED\n");                                                \
        } else {                                                               \
            tests_passed++;                                                    \
            printf("ok\n");                                                    \
        }                                                                      \
        fflush(stdout);                                                        \
    } while (0)

/* ---- the broker -------------------------------------------------------- */

static char broker_dir[] = "/tmp/etkmqtt-capi-XXXXXX";
static char broker_conf[sizeof broker_dir + 32];
static char broker_log[sizeof broker_dir + 32];
static pid_t broker_pid = -1;
static int broker_port;

/* A port on 127.0.0.1 that nothing listens on right now. */
static int free_port(void) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(addr.sin_port);
}

static int port_accepts(int port) {
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    if (fd < 0)
        return 0;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

static void print_broker_log(void) {
    char line[512];
    FILE *log = fopen(broker_log, "r");
    if (log == NULL)
        return;
    fprintf(stderr, "mosquitto log (%s):\n", broker_log);
    while (fgets(line, sizeof line, log) != NULL)
        fprintf(stderr, "  %s", line);
    fclose(log);
}

static int start_broker(void) {
    const char *mosquitto = getenv("ETKMQTT_MOSQUITTO");
    FILE *conf;
    long long deadline;
    if (mosquitto == NULL)
        mosquitto = "/usr/sbin/mosquitto";
    if (mkdtemp(broker_dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(broker_conf, sizeof broker_conf, "%s/mosquitto.conf", broker_dir);
    snprintf(broker_log, sizeof broker_log, "%s/mosquitto.log", broker_dir);
    broker_port = free_port();
    conf = fopen(broker_conf, "w");
    if (broker_port <= 0 || conf == NULL) {
        perror("broker setup");
        return -1;
    }
    fprintf(conf,
            "listener %d 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n",
            broker_port);
    fclose(conf);

    broker_pid = fork();
    if (broker_pid < 0) {
        perror("fork");
        return -1;
    }
    if (broker_pid == 0) {
        /* The broker dies with this test, even when the test crashes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Opened before mosquitto drops root privileges (to the user
         * "mosquitto"), so it can still write its log here. */
        int log = open(broker_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0) {
            dup2(log, STDOUT_FILENO);
            dup2(log, STDERR_FILENO);
            close(log);
        }
        execl(mosquitto, "mosquitto", "-c", broker_conf, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", mosquitto, strerror(errno));
        _exit(127);
    }
    deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        int status;
        if (waitpid(broker_pid, &status, WNOHANG) == broker_pid) {
            fprintf(stderr, "mosquitto exited before listening\n");
            broker_pid = -1;
            print_broker_log();
            return -1;
        }
        if (port_accepts(broker_port))
            return 0;
        usleep(20000);
    }
    fprintf(stderr, "mosquitto did not listen on port %d in time\n",
            broker_port);
    return -1;
}

static void stop_broker(void) {
    if (broker_pid > 0) {
        long long deadline = now_ms() + 5000;
        int status;
        kill(broker_pid, SIGTERM);
        while (waitpid(broker_pid, &status, WNOHANG) == 0) {
            if (now_ms() >= deadline) {
                kill(broker_pid, SIGKILL);
                waitpid(broker_pid, &status, 0);
                break;
            }
            usleep(10000);
        }
        broker_pid = -1;
    }
    if (tests_failed > 0)
        print_broker_log();
    unlink(broker_conf);
    unlink(broker_log);
    rmdir(broker_dir);
}

/* ---- helpers ----------------------------------------------------------- */

/* A client id unique to this process and test. */
static const char *client_id(const char *name) {
    static char id[128];
    snprintf(id, sizeof id, "capi-%ld-%s", (long)getpid(), name);
    return id;
}

/* A topic unique to this process. */
static const char *topic(const char *name) {
    static char buf[4][128];
    static int next;
    char *t = buf[next++ % 4];
    snprintf(t, sizeof buf[0], "etkmqtt/capi/%ld/%s", (long)getpid(), name);
    return t;
}

/* A new client for the test broker, or NULL. */
static etkmqtt_client *new_client(const char *name, int port) {
    etkmqtt_client *client = NULL;
    char value[16];
    if (etkmqtt_client_new(client_id(name), "127.0.0.1", &client) != ETKMQTT_OK)
        return NULL;
    snprintf(value, sizeof value, "%d", port);
    if (etkmqtt_client_set_option(client, "PORT", value) != ETKMQTT_OK) {
        etkmqtt_client_free(client);
        return NULL;
    }
    return client;
}

/* The text of the client's last rejected call ("" if none). */
static const char *call_error(const etkmqtt_client *client) {
    static char buf[1024];
    buf[0] = '\0';
    etkmqtt_client_last_call_error(client, buf, sizeof buf, NULL);
    return buf;
}

/* What the event callback saw. */
struct events {
    etkmqtt_client *client;
    atomic_int messages;
    atomic_int statuses;
    atomic_int running;       /* callbacks running right now */
    atomic_int overlapped;    /* set if two ever ran at once */
    atomic_int close_when_connected;
    atomic_int closed_in_callback;
    atomic_int publish_after_close; /* result of a publish after that close */
    atomic_int error_seen_in_status_event; /* last_error had text in a status event */
};

static void on_event(void *user_data, int event) {
    struct events *events = user_data;
    if (atomic_fetch_add(&events->running, 1) != 0)
        atomic_store(&events->overlapped, 1);
    if (event == ETKMQTT_EVENT_MESSAGE)
        atomic_fetch_add(&events->messages, 1);
    else if (event == ETKMQTT_EVENT_STATUS) {
        char text[512];
        atomic_fetch_add(&events->statuses, 1);
        if (etkmqtt_client_last_error(events->client, text, sizeof text, NULL) ==
                ETKMQTT_OK &&
            strstr(text, "refused") != NULL)
            atomic_store(&events->error_seen_in_status_event, 1);
    }
    if (event == ETKMQTT_EVENT_STATUS &&
        atomic_load(&events->close_when_connected) &&
        etkmqtt_client_status(events->client) == ETKMQTT_STATUS_CONNECTED) {
        etkmqtt_client_close(events->client);
        atomic_store(&events->publish_after_close,
                     (int)etkmqtt_client_publish(events->client, "t",
                                                 (const uint8_t *)"x", 1, 0,
                                                 false));
        atomic_store(&events->closed_in_callback, 1);
    }
    atomic_fetch_sub(&events->running, 1);
}

/* Reads one message, waiting up to WAIT_MS; NULL if none came. */
static etkmqtt_message *next_message(etkmqtt_client *client) {
    etkmqtt_message *message = NULL;
    WAIT_FOR(etkmqtt_client_read_message(client, &message) == ETKMQTT_OK,
             WAIT_MS);
    return message;
}

/* ---- tests ------------------------------------------------------------- */

static void version_and_result_texts_are_static_strings(void) {
    CHECK(etkmqtt_version() != NULL);
    CHECK(strlen(etkmqtt_version()) > 0);
    CHECK(strcmp(etkmqtt_result_describe(ETKMQTT_OK), "success") == 0);
    CHECK_CONTAINS(etkmqtt_result_describe(ETKMQTT_BUFFER_TOO_SMALL), "buffer");
    CHECK(strcmp(etkmqtt_result_describe(9999), "unknown result code") == 0);
}

static void new_client_starts_disconnected_with_nothing_to_read(void) {
    etkmqtt_client *client = (etkmqtt_client *)&client; /* not NULL */
    etkmqtt_message *message = (etkmqtt_message *)&message;
    char buf[16] = "garbage";
    size_t needed = 99;
    CHECK_RESULT(etkmqtt_client_new(client_id("fresh"), "127.0.0.1", &client),
                 ETKMQTT_OK);
    CHECK(client != NULL);
    CHECK_INT(etkmqtt_client_status(client), ETKMQTT_STATUS_DISCONNECTED);
    CHECK_INT(etkmqtt_client_queued_count(client), 0);
    CHECK_INT(etkmqtt_client_dropped_count(client), 0);
    CHECK_RESULT(etkmqtt_client_read_message(client, &message),
                 ETKMQTT_NO_MESSAGE);
    CHECK(message == NULL);
    CHECK_RESULT(etkmqtt_client_last_error(client, buf, sizeof buf, &needed),
                 ETKMQTT_NO_MESSAGE);
    CHECK(buf[0] == '\0');
    CHECK_INT(needed, 1);
    CHECK_RESULT(etkmqtt_client_last_call_error(client, buf, sizeof buf, NULL),
                 ETKMQTT_NO_MESSAGE);
    etkmqtt_client_free(client);
}

static void null_pointers_return_null_argument(void) {
    etkmqtt_client *client = (etkmqtt_client *)&client;
    etkmqtt_message *message = NULL;
    char buf[8];
    size_t len = 99;
    CHECK_RESULT(etkmqtt_client_new(NULL, "127.0.0.1", &client),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK(client == NULL); /* *out is cleared on failure */
    CHECK_RESULT(etkmqtt_client_new("id", NULL, &client), ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_new("id", "127.0.0.1", NULL),
                 ETKMQTT_NULL_ARGUMENT);

    CHECK_RESULT(etkmqtt_client_set_option(NULL, "PORT", "1"),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_set_event_callback(NULL, on_event, NULL),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_connect(NULL), ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_publish(NULL, "t", NULL, 0, 0, false),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_subscribe(NULL, "t", 0), ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_unsubscribe(NULL, "t"), ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_read_message(NULL, &message),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_last_error(NULL, buf, sizeof buf, NULL),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_last_call_error(NULL, buf, sizeof buf, NULL),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_INT(etkmqtt_client_status(NULL), ETKMQTT_STATUS_UNKNOWN);
    CHECK_INT(etkmqtt_client_queued_count(NULL), 0);
    CHECK_INT(etkmqtt_client_dropped_count(NULL), 0);

    CHECK(etkmqtt_message_topic(NULL) == NULL);
    CHECK(etkmqtt_message_payload(NULL, &len) == NULL);
    CHECK_INT(len, 0);
    CHECK_INT(etkmqtt_message_qos(NULL), -1);
    CHECK(!etkmqtt_message_retained(NULL));

    client = new_client("nulls", broker_port);
    CHECK(client != NULL);
    CHECK_RESULT(etkmqtt_client_set_option(client, NULL, "1"),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_set_option(client, "PORT", NULL),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "option value is NULL");
    CHECK_RESULT(etkmqtt_client_publish(client, NULL, NULL, 0, 0, false),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "topic is NULL");
    CHECK_RESULT(etkmqtt_client_publish(client, "t", NULL, 3, 0, false),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_subscribe(client, NULL, 0),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_unsubscribe(client, NULL),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_read_message(client, NULL),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_last_error(client, NULL, 8, NULL),
                 ETKMQTT_NULL_ARGUMENT);
    /* NULL payload with length 0 is an empty message, not an error. */
    CHECK_RESULT(etkmqtt_client_publish(client, "t", NULL, 0, 1, false),
                 ETKMQTT_OK);
    CHECK_INT(etkmqtt_client_queued_count(client), 1);
    etkmqtt_client_free(client);
}

static void invalid_utf8_returns_invalid_utf8(void) {
    etkmqtt_client *client = NULL;
    CHECK_RESULT(etkmqtt_client_new("bad\xff", "127.0.0.1", &client),
                 ETKMQTT_INVALID_UTF8);
    CHECK(client == NULL);
    CHECK_RESULT(etkmqtt_client_new("id", "\xc3\x28", &client),
                 ETKMQTT_INVALID_UTF8);
    client = new_client("utf8", broker_port);
    CHECK(client != NULL);
    CHECK_RESULT(etkmqtt_client_set_option(client, "USERNAME", "\xe2\x82"),
                 ETKMQTT_INVALID_UTF8);
    CHECK_CONTAINS(call_error(client), "option value is not valid UTF-8");
    CHECK_RESULT(
        etkmqtt_client_publish(client, "a/\xff", (const uint8_t *)"x", 1, 0, false),
        ETKMQTT_INVALID_UTF8);
    CHECK_CONTAINS(call_error(client), "topic is not valid UTF-8");
    CHECK_RESULT(etkmqtt_client_subscribe(client, "\x80/#", 0),
                 ETKMQTT_INVALID_UTF8);
    CHECK_RESULT(etkmqtt_client_unsubscribe(client, "\x80/#"),
                 ETKMQTT_INVALID_UTF8);
    CHECK_INT(etkmqtt_client_queued_count(client), 0);
    etkmqtt_client_free(client);
}

static void bad_option_returns_invalid_argument_naming_it(void) {
    etkmqtt_client *client = new_client("options", broker_port);
    CHECK(client != NULL);
    CHECK_RESULT(etkmqtt_client_set_option(client, "NOSUCHOPTION", "1"),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "NOSUCHOPTION");
    CHECK_CONTAINS(call_error(client), "KEEPALIVE"); /* lists accepted names */
    CHECK_RESULT(etkmqtt_client_set_option(client, "PORT", "not-a-port"),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "PORT");
    /* Names are case-insensitive; a success keeps the last error text. */
    CHECK_RESULT(etkmqtt_client_set_option(client, "keepalive", "30"),
                 ETKMQTT_OK);
    CHECK_CONTAINS(call_error(client), "PORT");
    etkmqtt_client_free(client);
}

static void invalid_host_returns_invalid_argument(void) {
    etkmqtt_client *client = NULL;
    CHECK_RESULT(etkmqtt_client_new("id", "", &client), ETKMQTT_INVALID_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_new("id", "broker:1883", &client),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK(client == NULL);
}

static void invalid_topic_or_qos_returns_invalid_argument(void) {
    etkmqtt_client *client = new_client("topics", broker_port);
    const uint8_t x = 'x';
    CHECK(client != NULL);
    CHECK_RESULT(etkmqtt_client_publish(client, "a/+", &x, 1, 0, false),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "invalid topic");
    CHECK_RESULT(etkmqtt_client_publish(client, "a/#", &x, 1, 0, false),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_publish(client, "", &x, 1, 0, false),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_publish(client, "a", &x, 1, 3, false),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "QoS 3");
    CHECK_RESULT(etkmqtt_client_publish(client, "a", &x, 1, -1, false),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_subscribe(client, "a/#", 3),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_RESULT(etkmqtt_client_subscribe(client, "a/#/b", 0),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "invalid topic filter");
    CHECK_RESULT(etkmqtt_client_unsubscribe(client, "a/b#"),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_INT(etkmqtt_client_queued_count(client), 0);
    etkmqtt_client_free(client);
}

static void connect_reaches_status_connected_and_locks_configuration(void) {
    struct events events;
    char buf[64];
    etkmqtt_client *client = new_client("connect", broker_port);
    CHECK(client != NULL);
    memset(&events, 0, sizeof events);
    events.client = client;
    CHECK_RESULT(etkmqtt_client_set_event_callback(client, on_event, &events),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    WAIT_FOR(etkmqtt_client_status(client) == ETKMQTT_STATUS_CONNECTED, WAIT_MS);
    CHECK_INT(etkmqtt_client_status(client), ETKMQTT_STATUS_CONNECTED);
    /* Starting, then connected (maybe trying-to-connect between). */
    WAIT_FOR(atomic_load(&events.statuses) >= 2, WAIT_MS);
    CHECK(atomic_load(&events.statuses) >= 2);
    CHECK_RESULT(etkmqtt_client_last_error(client, buf, sizeof buf, NULL),
                 ETKMQTT_NO_MESSAGE);

    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_ALREADY_CONNECTED);
    CHECK_RESULT(etkmqtt_client_set_option(client, "KEEPALIVE", "10"),
                 ETKMQTT_ALREADY_CONNECTED);
    CHECK_CONTAINS(call_error(client), "KEEPALIVE");
    CHECK_RESULT(etkmqtt_client_set_event_callback(client, NULL, NULL),
                 ETKMQTT_ALREADY_CONNECTED);

    etkmqtt_client_close(client);
    CHECK_INT(etkmqtt_client_status(client), ETKMQTT_STATUS_DISCONNECTED);
    CHECK_RESULT(etkmqtt_client_publish(client, "t", NULL, 0, 0, false),
                 ETKMQTT_CLOSED);
    CHECK_RESULT(etkmqtt_client_subscribe(client, "t", 0), ETKMQTT_CLOSED);
    CHECK(!atomic_load(&events.overlapped));
    etkmqtt_client_free(client);
}

struct expected {
    const char *topic;
    const uint8_t *payload;
    size_t len;
    int qos;
};

static void qos0_1_2_round_trip_through_own_subscription(void) {
    static const uint8_t binary[] = {0x00, 0x01, 0xff, 0x00, 'e', 't', 'k'};
    struct expected sent[3];
    struct events events;
    int i;
    etkmqtt_client *client = new_client("roundtrip", broker_port);
    CHECK(client != NULL);
    memset(&events, 0, sizeof events);
    events.client = client;
    CHECK_RESULT(etkmqtt_client_set_event_callback(client, on_event, &events),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    WAIT_FOR(etkmqtt_client_status(client) == ETKMQTT_STATUS_CONNECTED, WAIT_MS);
    CHECK_INT(etkmqtt_client_status(client), ETKMQTT_STATUS_CONNECTED);
    CHECK_RESULT(etkmqtt_client_subscribe(client, topic("rt/#"), 2), ETKMQTT_OK);

    sent[0].topic = topic("rt/q0");
    sent[0].payload = (const uint8_t *)"";
    sent[0].len = 0;
    sent[1].topic = topic("rt/q1");
    sent[1].payload = binary;
    sent[1].len = sizeof binary;
    sent[2].topic = topic("rt/q2");
    sent[2].payload = (const uint8_t *)"exactly once";
    sent[2].len = strlen("exactly once");
    for (i = 0; i < 3; i++) {
        sent[i].qos = i;
        CHECK_RESULT(etkmqtt_client_publish(client, sent[i].topic,
                                            sent[i].payload, sent[i].len, i,
                                            false),
                     ETKMQTT_OK);
    }
    for (i = 0; i < 3; i++) {
        etkmqtt_message *message = next_message(client);
        const uint8_t *payload;
        size_t len = 99;
        CHECK(message != NULL);
        /* One publisher, one connection: the broker keeps the order. */
        if (strcmp(etkmqtt_message_topic(message), sent[i].topic) != 0) {
            fprintf(stderr, "    message %d topic %s, expected %s\n", i,
                    etkmqtt_message_topic(message), sent[i].topic);
            etkmqtt_message_free(message);
            CHECK(0);
        }
        payload = etkmqtt_message_payload(message, &len);
        CHECK(payload != NULL);
        CHECK_INT(len, sent[i].len);
        CHECK(memcmp(payload, sent[i].payload, len) == 0);
        CHECK_INT(etkmqtt_message_qos(message), sent[i].qos);
        CHECK(!etkmqtt_message_retained(message));
        etkmqtt_message_free(message);
    }
    WAIT_FOR(etkmqtt_client_queued_count(client) == 0, WAIT_MS);
    CHECK_INT(etkmqtt_client_queued_count(client), 0);
    /* Events come on their own thread, possibly after read_message saw the
     * messages: wait for them too. */
    WAIT_FOR(atomic_load(&events.messages) >= 3, WAIT_MS);
    CHECK_INT(atomic_load(&events.messages), 3);
    CHECK(!atomic_load(&events.overlapped));
    etkmqtt_client_free(client);
}

static void publish_tags_sends_tag_json_and_refuses_bad_tags(void) {
    etkmqtt_tag tags[5];
    etkmqtt_message *message;
    const char *expected =
        "[{\"tag\":\"Temperature\",\"value\":21.5,\"time\":\"2024-01-02 03:04:05\"},"
        "{\"tag\":\"Count\",\"value\":9007199254740993,\"time\":\"2024-01-02 03:04:05\"},"
        "{\"tag\":\"Running\",\"value\":true,\"time\":\"2024-01-02 03:04:05\"},"
        "{\"tag\":\"Mode\",\"value\":\"auto\",\"time\":\"2024-01-02 03:04:05\"},"
        "{\"tag\":\"Spare\",\"value\":null,\"time\":\"2024-01-02 03:04:05\"}]";
    const uint8_t *payload;
    size_t len = 0;
    etkmqtt_client *client = new_client("tags", broker_port);
    CHECK(client != NULL);
    memset(tags, 0, sizeof tags);
    tags[0].name = "Temperature";
    tags[0].kind = ETKMQTT_TAG_NUMBER;
    tags[0].number = 21.5;
    tags[1].name = "Count";
    tags[1].kind = ETKMQTT_TAG_INTEGER;
    tags[1].integer = 9007199254740993LL; /* 2^53 + 1: exact, not rounded */
    tags[2].name = "Running";
    tags[2].kind = ETKMQTT_TAG_BOOL;
    tags[2].boolean = true;
    tags[3].name = "Mode";
    tags[3].kind = ETKMQTT_TAG_TEXT;
    tags[3].text = "auto";
    tags[4].name = "Spare";
    tags[4].kind = ETKMQTT_TAG_NULL;
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    WAIT_FOR(etkmqtt_client_status(client) == ETKMQTT_STATUS_CONNECTED, WAIT_MS);
    CHECK_RESULT(etkmqtt_client_subscribe(client, topic("tags"), 1), ETKMQTT_OK);
    /* 2024-01-02T03:04:05.006Z */
    CHECK_RESULT(etkmqtt_client_publish_tags(client, topic("tags"), tags, 5,
                                             1704164645006LL, 1, false),
                 ETKMQTT_OK);
    message = next_message(client);
    CHECK(message != NULL);
    payload = etkmqtt_message_payload(message, &len);
    if (len != strlen(expected) || memcmp(payload, expected, len) != 0) {
        fprintf(stderr, "    got %.*s\n", (int)len, (const char *)payload);
        etkmqtt_message_free(message);
        CHECK(0);
    }
    etkmqtt_message_free(message);

    tags[1].kind = 99;
    CHECK_RESULT(etkmqtt_client_publish_tags(client, topic("tags"), tags, 5, 0,
                                             1, false),
                 ETKMQTT_INVALID_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "tags[1].kind is 99");
    tags[1].kind = ETKMQTT_TAG_TEXT;
    tags[1].text = NULL;
    CHECK_RESULT(etkmqtt_client_publish_tags(client, topic("tags"), tags, 5, 0,
                                             1, false),
                 ETKMQTT_NULL_ARGUMENT);
    CHECK_CONTAINS(call_error(client), "tags[1].text");
    CHECK_RESULT(etkmqtt_client_publish_tags(client, topic("tags"), NULL, 2, 0,
                                             1, false),
                 ETKMQTT_NULL_ARGUMENT);
    etkmqtt_client_free(client);
}

static void retained_message_arrives_flagged_retained(void) {
    etkmqtt_client *client = new_client("retained", broker_port);
    etkmqtt_message *message;
    size_t len;
    CHECK(client != NULL);
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    WAIT_FOR(etkmqtt_client_status(client) == ETKMQTT_STATUS_CONNECTED, WAIT_MS);
    CHECK_RESULT(etkmqtt_client_publish(client, topic("retained"),
                                        (const uint8_t *)"kept", 4, 1, true),
                 ETKMQTT_OK);
    /* Acknowledged: the broker has stored it before we subscribe. */
    WAIT_FOR(etkmqtt_client_queued_count(client) == 0, WAIT_MS);
    CHECK_INT(etkmqtt_client_queued_count(client), 0);
    CHECK_RESULT(etkmqtt_client_subscribe(client, topic("retained"), 1),
                 ETKMQTT_OK);
    message = next_message(client);
    CHECK(message != NULL);
    CHECK(etkmqtt_message_retained(message));
    CHECK(memcmp(etkmqtt_message_payload(message, &len), "kept", 4) == 0);
    CHECK_INT(len, 4);
    etkmqtt_message_free(message);
    /* An empty retained message clears it from the broker. */
    CHECK_RESULT(etkmqtt_client_publish(client, topic("retained"), NULL, 0, 1,
                                        true),
                 ETKMQTT_OK);
    WAIT_FOR(etkmqtt_client_queued_count(client) == 0, WAIT_MS);
    etkmqtt_client_free(client); /* frees the unread echo too */
}

static void unsubscribe_stops_delivery(void) {
    etkmqtt_client *client = new_client("unsubscribe", broker_port);
    etkmqtt_message *message;
    CHECK(client != NULL);
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    WAIT_FOR(etkmqtt_client_status(client) == ETKMQTT_STATUS_CONNECTED, WAIT_MS);
    CHECK_RESULT(etkmqtt_client_subscribe(client, topic("unsub/a"), 1),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_subscribe(client, topic("unsub/b"), 1),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_unsubscribe(client, topic("unsub/a")),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_publish(client, topic("unsub/a"),
                                        (const uint8_t *)"a", 1, 1, false),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_publish(client, topic("unsub/b"),
                                        (const uint8_t *)"b", 1, 1, false),
                 ETKMQTT_OK);
    /* b was published after a: had a been delivered, it would come first. */
    message = next_message(client);
    CHECK(message != NULL);
    if (strcmp(etkmqtt_message_topic(message), topic("unsub/b")) != 0) {
        fprintf(stderr, "    got %s after unsubscribing\n",
                etkmqtt_message_topic(message));
        etkmqtt_message_free(message);
        CHECK(0);
    }
    etkmqtt_message_free(message);
    etkmqtt_client_free(client);
}

static void offline_publish_is_delivered_after_connect(void) {
    etkmqtt_client *client = new_client("offline", broker_port);
    etkmqtt_message *message;
    CHECK(client != NULL);
    /* Both wait for the connection: the subscription is sent first. */
    CHECK_RESULT(etkmqtt_client_subscribe(client, topic("offline"), 1),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_publish(client, topic("offline"),
                                        (const uint8_t *)"queued", 6, 1, false),
                 ETKMQTT_OK);
    CHECK_INT(etkmqtt_client_queued_count(client), 1);
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    message = next_message(client);
    CHECK(message != NULL);
    CHECK(strcmp(etkmqtt_message_topic(message), topic("offline")) == 0);
    etkmqtt_message_free(message);
    WAIT_FOR(etkmqtt_client_queued_count(client) == 0, WAIT_MS);
    CHECK_INT(etkmqtt_client_queued_count(client), 0);
    etkmqtt_client_free(client);
}

/* A client trying to connect to a port where nothing listens, once the
 * first try has failed (its last_error is set); NULL on timeout. */
static etkmqtt_client *refused_client(const char *name) {
    etkmqtt_client *client = new_client(name, free_port());
    size_t needed = 0;
    if (client == NULL)
        return NULL;
    if (etkmqtt_client_connect(client) != ETKMQTT_OK) {
        etkmqtt_client_free(client);
        return NULL;
    }
    WAIT_FOR(etkmqtt_client_last_error(client, NULL, 0, &needed) ==
                 ETKMQTT_BUFFER_TOO_SMALL,
             WAIT_MS);
    return client;
}

static void the_first_failure_is_readable_in_a_status_event_after_it(void) {
    struct events events;
    etkmqtt_client *client = new_client("firstfailure", free_port());
    CHECK(client != NULL);
    memset(&events, 0, sizeof events);
    events.client = client;
    CHECK_RESULT(etkmqtt_client_set_event_callback(client, on_event, &events),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    /* The status stays 3 (trying to connect) after each refused attempt; the
     * failure still raises a status event, after last_error has its text. */
    WAIT_FOR(atomic_load(&events.error_seen_in_status_event), WAIT_MS);
    CHECK(atomic_load(&events.error_seen_in_status_event));
    etkmqtt_client_free(client);
}

static void connection_refused_last_error_says_refused(void) {
    char buf[512];
    etkmqtt_client *client = refused_client("refused");
    CHECK(client != NULL);
    CHECK_RESULT(etkmqtt_client_last_error(client, buf, sizeof buf, NULL),
                 ETKMQTT_OK);
    CHECK_CONTAINS(buf, "refused");
    CHECK_CONTAINS(buf, "127.0.0.1");
    CHECK(etkmqtt_client_status(client) != ETKMQTT_STATUS_CONNECTED);
    etkmqtt_client_free(client);
}

static void last_error_into_small_buffer_reports_needed_size(void) {
    char full[512], small[8];
    size_t needed = 0, needed_again = 0;
    etkmqtt_client *client = refused_client("smallbuf");
    CHECK(client != NULL);
    /* Size query: no buffer. */
    CHECK_RESULT(etkmqtt_client_last_error(client, NULL, 0, &needed),
                 ETKMQTT_BUFFER_TOO_SMALL);
    CHECK(needed > sizeof small);
    CHECK(needed <= sizeof full);
    CHECK_RESULT(etkmqtt_client_last_error(client, full, needed, &needed_again),
                 ETKMQTT_OK);
    CHECK_INT(needed_again, needed);
    CHECK_INT(strlen(full) + 1, needed);
    /* Too small: a NUL-terminated start of the text. */
    memset(small, 'x', sizeof small);
    CHECK_RESULT(etkmqtt_client_last_error(client, small, sizeof small,
                                           &needed_again),
                 ETKMQTT_BUFFER_TOO_SMALL);
    CHECK_INT(needed_again, needed);
    CHECK_INT(strlen(small), sizeof small - 1);
    CHECK(strncmp(small, full, sizeof small - 1) == 0);
    /* One byte short is still too small. */
    CHECK_RESULT(etkmqtt_client_last_error(client, full, needed - 1, NULL),
                 ETKMQTT_BUFFER_TOO_SMALL);
    etkmqtt_client_free(client);
}

static void close_from_the_callback_stops_the_client(void) {
    struct events events;
    int statuses;
    etkmqtt_client *client = new_client("closecb", broker_port);
    CHECK(client != NULL);
    memset(&events, 0, sizeof events);
    events.client = client;
    atomic_store(&events.close_when_connected, 1);
    CHECK_RESULT(etkmqtt_client_set_event_callback(client, on_event, &events),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    WAIT_FOR(atomic_load(&events.closed_in_callback), WAIT_MS);
    CHECK(atomic_load(&events.closed_in_callback));
    CHECK_INT(atomic_load(&events.publish_after_close), ETKMQTT_CLOSED);
    CHECK_INT(etkmqtt_client_status(client), ETKMQTT_STATUS_DISCONNECTED);
    /* close again (idempotent) waits for the callback to have returned. */
    etkmqtt_client_close(client);
    CHECK_INT(atomic_load(&events.running), 0);
    statuses = atomic_load(&events.statuses);
    usleep(100000);
    CHECK_INT(atomic_load(&events.statuses), statuses); /* no more events */
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_CLOSED);
    CHECK(!atomic_load(&events.overlapped));
    etkmqtt_client_free(client);
}

struct publisher {
    etkmqtt_client *client;
    const char *topic; /* topic() is not thread-safe: computed up front */
    int id;
    etkmqtt_result result;
};

#define PER_THREAD 50

static void *publish_from_thread(void *arg) {
    struct publisher *publisher = arg;
    char payload[32];
    int i;
    publisher->result = ETKMQTT_OK;
    for (i = 0; i < PER_THREAD && publisher->result == ETKMQTT_OK; i++) {
        int len = snprintf(payload, sizeof payload, "%d", publisher->id * 1000 + i);
        publisher->result = etkmqtt_client_publish(
            publisher->client, publisher->topic, (const uint8_t *)payload,
            (size_t)len, 1, false);
    }
    return NULL;
}

static void two_threads_publish_on_one_client(void) {
    struct publisher publishers[2];
    pthread_t threads[2];
    char seen[2][PER_THREAD];
    int i, received = 0;
    etkmqtt_client *client = new_client("threads", broker_port);
    CHECK(client != NULL);
    memset(seen, 0, sizeof seen);
    CHECK_RESULT(etkmqtt_client_subscribe(client, topic("threads"), 1),
                 ETKMQTT_OK);
    CHECK_RESULT(etkmqtt_client_connect(client), ETKMQTT_OK);
    WAIT_FOR(etkmqtt_client_status(client) == ETKMQTT_STATUS_CONNECTED, WAIT_MS);
    for (i = 0; i < 2; i++) {
        publishers[i].client = client;
        publishers[i].topic = topic("threads");
        publishers[i].id = i;
        CHECK(pthread_create(&threads[i], NULL, publish_from_thread,
                             &publishers[i]) == 0);
    }
    for (i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        CHECK_RESULT(publishers[i].result, ETKMQTT_OK);
    }
    while (received < 2 * PER_THREAD) {
        etkmqtt_message *message = next_message(client);
        const uint8_t *payload;
        char text[32];
        size_t len;
        int value;
        CHECK(message != NULL);
        payload = etkmqtt_message_payload(message, &len);
        snprintf(text, sizeof text, "%.*s", (int)len, (const char *)payload);
        etkmqtt_message_free(message);
        value = atoi(text);
        CHECK(value / 1000 < 2 && value % 1000 < PER_THREAD);
        CHECK(!seen[value / 1000][value % 1000]); /* no duplicates */
        seen[value / 1000][value % 1000] = 1;
        received++;
    }
    etkmqtt_client_free(client);
}

static void free_and_close_accept_null(void) {
    etkmqtt_client *client = new_client("null-free", broker_port);
    CHECK(client != NULL);
    etkmqtt_client_free(NULL);
    etkmqtt_client_close(NULL);
    etkmqtt_message_free(NULL);
    etkmqtt_client_close(client);
    etkmqtt_client_close(client);
    etkmqtt_client_free(client);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (start_broker() != 0) {
        stop_broker();
        printf("capi: 0 passed, 1 failed\n");
        return 1;
    }
    printf("mosquitto on 127.0.0.1:%d, etkmqtt %s\n", broker_port,
           etkmqtt_version());

    RUN(version_and_result_texts_are_static_strings);
    RUN(new_client_starts_disconnected_with_nothing_to_read);
    RUN(null_pointers_return_null_argument);
    RUN(invalid_utf8_returns_invalid_utf8);
    RUN(bad_option_returns_invalid_argument_naming_it);
    RUN(invalid_host_returns_invalid_argument);
    RUN(invalid_topic_or_qos_returns_invalid_argument);
    RUN(connect_reaches_status_connected_and_locks_configuration);
    RUN(qos0_1_2_round_trip_through_own_subscription);
    RUN(publish_tags_sends_tag_json_and_refuses_bad_tags);
    RUN(retained_message_arrives_flagged_retained);
    RUN(unsubscribe_stops_delivery);
    RUN(offline_publish_is_delivered_after_connect);
    RUN(connection_refused_last_error_says_refused);
    RUN(the_first_failure_is_readable_in_a_status_event_after_it);
    RUN(last_error_into_small_buffer_reports_needed_size);
    RUN(close_from_the_callback_stops_the_client);
    RUN(two_threads_publish_on_one_client);
    RUN(free_and_close_accept_null);

    stop_broker();
    printf("capi: %d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
