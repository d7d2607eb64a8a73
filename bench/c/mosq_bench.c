/*
 * libmosquitto (Debian libmosquitto-dev) for bench/run. Command line in
 * bench_common.h.
 *
 * Settings: MQTT 3.1.1, mosquitto_max_inflight_messages_set(20) (the same
 * as MOSQ_OPT_SEND_MAXIMUM in 2.0; publish: inflight= or the library's
 * default, also 20), MOSQ_OPT_TCP_NODELAY 1 (etkmqtt and
 * Paho always set TCP_NODELAY), mosquitto_loop_start (its own network
 * thread), mosquitto_tls_set(cafile) / mosquitto_tls_psk_set(key, identity)
 * with the library's default ciphers and TLS versions.
 *
 * Completion: mosquitto_publish queues without limit (messages beyond the
 * window wait in the library); done_ns is when on_publish has been called
 * for every message: QoS 1 on PUBACK, QoS 0 once the PUBLISH was written
 * to the socket. No persistence (libmosquitto has none).
 */
#include "bench_common.h"

#include <mosquitto.h>
#include <openssl/ssl.h>

struct ctx {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int connected;
    int connect_rc;
    long published;
    long target;
    struct latency_record *latency;
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc) {
    struct ctx *ctx = obj;
    (void)mosq;
    pthread_mutex_lock(&ctx->mutex);
    ctx->connected = rc == 0 ? 1 : -1;
    ctx->connect_rc = rc;
    pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->mutex);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid) {
    struct ctx *ctx = obj;
    (void)mosq;
    (void)mid;
    pthread_mutex_lock(&ctx->mutex);
    if (++ctx->published == ctx->target) pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->mutex);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m) {
    struct ctx *ctx = obj;
    (void)mosq;
    if (ctx->latency != NULL) latency_arrived(ctx->latency, m->payload, (size_t)m->payloadlen);
}

static void check(int rc, const char *what) {
    if (rc == MOSQ_ERR_SUCCESS) return;
    fprintf(stderr, "%s: %s\n", what, mosquitto_strerror(rc));
    exit(1);
}

static struct mosquitto *make_client_with(struct ctx *ctx, const struct broker *b, const char *id, int inflight) {
    struct mosquitto *mosq;
    memset(ctx, 0, sizeof *ctx);
    pthread_mutex_init(&ctx->mutex, NULL);
    pthread_cond_init(&ctx->cond, NULL);
    mosq = mosquitto_new(id, true, ctx);
    if (mosq == NULL) die("mosquitto_new failed");
    check(mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311), "protocol");
    if (inflight > 0) check(mosquitto_max_inflight_messages_set(mosq, (unsigned)inflight), "max_inflight");
    check(mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1), "tcp_nodelay");
    if (b->transport == TRANSPORT_TLS)
        check(mosquitto_tls_set(mosq, b->cafile, NULL, NULL, NULL, NULL), "tls_set");
    if (b->transport == TRANSPORT_PSK)
        check(mosquitto_tls_psk_set(mosq, b->psk_key, b->psk_id, NULL), "tls_psk_set");
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_publish_callback_set(mosq, on_publish);
    mosquitto_message_callback_set(mosq, on_message);
    return mosq;
}

/* The clients of the connect, latency and idle tests: in-flight 20. */
static struct mosquitto *make_client(struct ctx *ctx, const struct broker *b, const char *id) {
    return make_client_with(ctx, b, id, MAX_INFLIGHT);
}

static void connect_and_wait(struct mosquitto *mosq, struct ctx *ctx, const struct broker *b) {
    struct timespec deadline = deadline_in_ms(10000);
    int rc = 0;
    check(mosquitto_connect(mosq, b->host, b->port, 60), "mosquitto_connect");
    check(mosquitto_loop_start(mosq), "loop_start");
    pthread_mutex_lock(&ctx->mutex);
    while (ctx->connected == 0 && rc == 0) rc = pthread_cond_timedwait(&ctx->cond, &ctx->mutex, &deadline);
    pthread_mutex_unlock(&ctx->mutex);
    if (ctx->connected != 1) {
        fprintf(stderr, "not connected: %s\n", mosquitto_connack_string(ctx->connect_rc));
        exit(1);
    }
}

static void finish(struct mosquitto *mosq) {
    mosquitto_disconnect(mosq);
    mosquitto_loop_stop(mosq, false);
    mosquitto_destroy(mosq);
}

static int publish_run(const struct broker *b, const struct publish_args *a) {
    struct ctx ctx;
    struct measurement m;
    struct mosquitto *mosq;
    unsigned char *payload = calloc(1, (size_t)a->size + 1);
    int i;
    char id[64];
    if (a->store_dir != NULL) die("libmosquitto has no persistence");
    snprintf(id, sizeof id, "mosq-%d", (int)getpid());
    mosq = make_client_with(&ctx, b, id, a->inflight);
    connect_and_wait(mosq, &ctx, b);
    if (b->transport != TRANSPORT_TCP) {
        SSL *ssl = mosquitto_ssl_get(mosq);
        if (ssl != NULL) fprintf(stderr, "libmosquitto %s: %s %s\n", b->transport == TRANSPORT_PSK ? "psk" : "tls",
                                 SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    }
    ctx.target = a->messages;
    measure_start(&m);
    for (i = 0; i < a->messages; i++) {
        pace(a, &m, i);
        check(mosquitto_publish(mosq, NULL, a->topic, a->size, payload, a->qos, false), "mosquitto_publish");
    }
    measure_wait_begins(&m);
    await_count(&ctx.mutex, &ctx.cond, &ctx.published, a->messages);
    measure_end(&m, a->messages);
    wait_for_harness();
    finish(mosq);
    free(payload);
    return 0;
}

static int connect_time(const struct broker *b, int rounds) {
    double *ms = malloc(sizeof(double) * (size_t)rounds);
    int i;
    for (i = 0; i < rounds; i++) {
        struct ctx ctx;
        struct mosquitto *mosq;
        char id[64];
        int64_t start = now_ns();
        snprintf(id, sizeof id, "mosq-connect-%d-%d", (int)getpid(), i);
        mosq = make_client(&ctx, b, id);
        connect_and_wait(mosq, &ctx, b);
        ms[i] = (now_ns() - start) / 1e6;
        finish(mosq);
    }
    printf("%.2f\n", percentile(ms, rounds, 0.5));
    return 0;
}

static int latency(const struct broker *b, int rate, int messages) {
    struct ctx ctx;
    struct latency_record record;
    struct mosquitto *mosq;
    char id[64];
    int rc;
    latency_init(&record, messages);
    snprintf(id, sizeof id, "mosq-latency-%d", (int)getpid());
    mosq = make_client(&ctx, b, id);
    ctx.latency = &record;
    connect_and_wait(mosq, &ctx, b);
    check(mosquitto_subscribe(mosq, NULL, "bench/latency/mosq", 1), "subscribe");
    sleep_ns(200000000LL);
    PACED_PUBLISH(rate, messages,
                  check(mosquitto_publish(mosq, NULL, "bench/latency/mosq", LATENCY_PAYLOAD, payload_, 1, false),
                        "publish"));
    rc = latency_report(&record);
    finish(mosq);
    return rc;
}

static int idle_rss(const struct broker *b) {
    struct ctx ctx;
    struct mosquitto *mosq;
    long rss = vm_rss_kib(), anon = status_kib("RssAnon"), file = status_kib("RssFile");
    mosq = make_client(&ctx, b, "mosq-idle");
    connect_and_wait(mosq, &ctx, b);
    sleep_ns(2000000000LL);
    print_rss_increase(rss, anon, file);
    finish(mosq);
    return 0;
}

int main(int argc, char **argv) {
    static const struct bench_modes modes = {publish_run, connect_time, latency, idle_rss};
    int rc = 2;
    mosquitto_lib_init();
    if (!run_common_mode(&modes, argc, argv, &rc)) fprintf(stderr, "usage: see bench/c/bench_common.h\n");
    mosquitto_lib_cleanup();
    return rc;
}
