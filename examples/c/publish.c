/*
 * etkmqtt from C: connect, subscribe, publish with QoS 0, 1 and 2, and read
 * the three messages back through our own subscription.
 *
 *   usage: publish [HOST [PORT]]        (default 127.0.0.1 1883)
 *
 * Build (see run-tests): cc publish.c -I rust/capi/include \
 *     -L target/release -letkmqtt -Wl,-rpath,target/release -pthread
 */
#define _POSIX_C_SOURCE 200809L
#include "etkmqtt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TIMEOUT_MS 10000

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints why the last call on `client` failed (the rejected call's text),
 * or, for a connection problem, the client's getLastError() text. */
static void report(const etkmqtt_client *client, const char *what,
                   etkmqtt_result result) {
    char text[512];
    if (result == ETKMQTT_OK) /* nothing rejected: it timed out */
        fprintf(stderr, "%s\n", what);
    else
        fprintf(stderr, "%s failed: %s\n", what, etkmqtt_result_describe(result));
    if (client == NULL)
        return;
    /* A too-small buffer still gets the start of the text. */
    if (etkmqtt_client_last_call_error(client, text, sizeof text, NULL) !=
        ETKMQTT_NO_MESSAGE)
        fprintf(stderr, "  call error: %s\n", text);
    if (etkmqtt_client_last_error(client, text, sizeof text, NULL) !=
        ETKMQTT_NO_MESSAGE)
        fprintf(stderr, "  last error: %s\n", text);
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    const char *port = argc > 2 ? argv[2] : "1883";
    const char *topics[3] = {"etkmqtt/example/qos0", "etkmqtt/example/qos1",
                             "etkmqtt/example/qos2"};
    etkmqtt_client *client = NULL;
    etkmqtt_result result;
    long long deadline;
    int qos, received = 0, status = 1;

    result = etkmqtt_client_new("etkmqtt-c-example", host, &client);
    if (result != ETKMQTT_OK) {
        report(NULL, "etkmqtt_client_new", result);
        return 1;
    }
    if ((result = etkmqtt_client_set_option(client, "PORT", port)) != ETKMQTT_OK) {
        report(client, "set_option PORT", result);
        goto done;
    }
    /* Connecting happens in the background: wait for it, bounded. */
    if ((result = etkmqtt_client_connect(client)) != ETKMQTT_OK) {
        report(client, "connect", result);
        goto done;
    }
    deadline = now_ms() + TIMEOUT_MS;
    while (etkmqtt_client_status(client) != ETKMQTT_STATUS_CONNECTED) {
        if (now_ms() > deadline) {
            report(client, "not connected in time", ETKMQTT_OK);
            goto done;
        }
        sleep_ms(10);
    }
    printf("connected to %s:%s\n", host, port);

    if ((result = etkmqtt_client_subscribe(client, "etkmqtt/example/#", 2)) !=
        ETKMQTT_OK) {
        report(client, "subscribe", result);
        goto done;
    }
    for (qos = 0; qos <= 2; qos++) {
        char payload[32];
        int len = snprintf(payload, sizeof payload, "hello with QoS %d", qos);
        result = etkmqtt_client_publish(client, topics[qos],
                                        (const uint8_t *)payload, (size_t)len,
                                        qos, false);
        if (result != ETKMQTT_OK) {
            report(client, "publish", result);
            goto done;
        }
    }

    deadline = now_ms() + TIMEOUT_MS;
    while (received < 3 && now_ms() < deadline) {
        etkmqtt_message *message = NULL;
        const uint8_t *payload;
        size_t len;
        result = etkmqtt_client_read_message(client, &message);
        if (result == ETKMQTT_NO_MESSAGE) {
            sleep_ms(10); /* or wait for ETKMQTT_EVENT_MESSAGE in a callback */
            continue;
        }
        if (result != ETKMQTT_OK) {
            report(client, "read_message", result);
            goto done;
        }
        payload = etkmqtt_message_payload(message, &len);
        printf("received %s (QoS %d%s): %.*s\n", etkmqtt_message_topic(message),
               etkmqtt_message_qos(message),
               etkmqtt_message_retained(message) ? ", retained" : "", (int)len,
               (const char *)payload);
        etkmqtt_message_free(message);
        received++;
    }
    if (received < 3) {
        fprintf(stderr, "only %d of 3 messages came back\n", received);
        report(client, "timed out waiting for messages", ETKMQTT_OK);
        goto done;
    }
    status = 0;

done:
    /* Sends DISCONNECT (after delivering what is queued), then frees. */
    etkmqtt_client_free(client);
    return status;
}
