#!/usr/bin/env python3
"""Markdown report of a bench/run CSV: tables, ratios against libmosquitto
from the same run, and the issue's targets (pass/fail).

    python3 bench/report.py bench/results/latest.csv
"""
import csv
import sys

CLIENTS = ["etk-java", "etk-c", "libmosquitto", "paho"]
TRANSPORTS = {"tcp": "plain TCP", "tls": "certificate TLS", "psk": "TLS-PSK"}


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def main(path):
    rows = list(csv.DictReader(open(path)))

    def get(measurement, client, transport="", qos="", size=""):
        for r in rows:
            if (r["measurement"], r["client"]) == (measurement, client) and \
                    (not transport or r["transport"] == transport) and \
                    (not qos or r["qos"] == qos) and (not size or r["payload_bytes"] == size):
                return r["value"]
        return None

    def cell(value, digits=0):
        n = number(value)
        if n is None:
            return value or "n/a"
        return f"{n:,.{digits}f}"

    def ratio(a, b):
        a, b = number(a), number(b)
        return f"{a / b:.2f}" if a is not None and b else "n/a"

    # The QoS 0 stall fixed in 49c9a7b: any transport not "ok" is shouted
    # before everything else, because it makes the QoS 0 numbers meaningless.
    stalls = [(t, get("qos0_stall_check", "etk-c", t)) for t in TRANSPORTS]
    stalls = [(t, v) for t, v in stalls if v is not None]
    stalled = [(t, v) for t, v in stalls if v != "ok"]
    stall_summary = ("; ".join(f"{TRANSPORTS[t]}: {v}" for t, v in stalls) or None)

    out = []
    if stalled:
        out.append("**QoS 0 STALL — the etkmqtt QoS 0 numbers below are not valid:** " +
                   "; ".join(f"{TRANSPORTS[t]}: {v}" for t, v in stalled) + "\n")
    out.append("### Publish throughput (msg/s; max in-flight 20)\n")
    out.append("| transport | QoS | payload | " + " | ".join(CLIENTS) +
               " | etk-c / libmosquitto | etk-java / libmosquitto |")
    out.append("|---|---|---|" + "---|" * (len(CLIENTS) + 2))
    for t in TRANSPORTS:
        for q in ("0", "1"):
            for s in ("64", "1024"):
                values = [get("throughput", c, t, q, s) for c in CLIENTS]
                mosq = values[2]
                out.append(f"| {TRANSPORTS[t]} | {q} | {s} B | " +
                           " | ".join(cell(v) for v in values) +
                           f" | {ratio(values[1], mosq)} | {ratio(values[0], mosq)} |")
    out.append("\nQoS 0 stall check (etk-c, 20 000 x 1 KiB, no outside wake-ups): " +
               (stall_summary or "n/a") + ("" if stalls and not stalled else " — **FAIL**") + "\n")

    out.append("### Connect + handshake to CONNACK (median ms; lower is better)\n")
    out.append("| transport | " + " | ".join(CLIENTS) + " | etk-c / libmosquitto | etk-java / libmosquitto |")
    out.append("|---|" + "---|" * (len(CLIENTS) + 2))
    for t in ("psk", "tls", "tcp"):
        values = [get("connect", c, t) for c in CLIENTS]
        out.append(f"| {TRANSPORTS[t]} | " + " | ".join(cell(v, 2) for v in values) +
                   f" | {ratio(values[1], values[2])} | {ratio(values[0], values[2])} |")
    for c in CLIENTS:
        out.append(f"\n{c}: TLS-PSK / certificate TLS connect time = "
                   f"{ratio(get('connect', c, 'psk'), get('connect', c, 'tls'))}")

    out.append("\n### Publish-to-receive latency, QoS 1 at 1 000 msg/s, own subscription (µs)\n")
    out.append("| client | transport | p50 | p99 |")
    out.append("|---|---|---|---|")
    for c in CLIENTS:
        for t in ("tcp", "psk"):
            p50 = get("latency_p50", c, t)
            if p50 is not None:
                out.append(f"| {c} | {TRANSPORTS[t]} | {cell(p50)} | {cell(get('latency_p99', c, t))} |")

    out.append("\n### Memory, publish() cost, library size\n")
    out.append("| measurement | value |")
    out.append("|---|---|")
    for c in ("etk-c", "etk-java", "libmosquitto", "paho"):
        out.append(f"| idle connected client, RSS increase, {c} | {cell(get('idle_rss', c))} KiB |")
    out.append(f"| idle connected client, Java heap increase, etk-java | {cell(get('idle_heap', 'etk-java'))} KiB |")
    pc, pj = get("publish_call", "etk-c"), get("publish_call", "etk-java")
    out.append(f"| publish() call, enqueue only, C API | {cell(pc, 1)} ns |")
    out.append(f"| publish() call, enqueue only, Java API | {cell(pj, 1)} ns |")
    jni = number(pj) - number(pc) if number(pj) is not None and number(pc) is not None else None
    out.append(f"| JNI overhead per publish (Java - C) | {cell(jni, 1)} ns |")
    for lib in ("libetkmqtt_jni.so", "libetkmqtt.so", "libmosquitto.so", "libpaho-mqtt3as.so"):
        out.append(f"| {lib}, stripped | {cell(get('library_size', lib))} bytes |")

    out.append("\n### Ratios against libmosquitto (same run; throughput: higher is better)\n")
    for q in ("1", "0"):
        for t in TRANSPORTS:
            for s in ("64", "1024"):
                mosq = get("throughput", "libmosquitto", t, q, s)
                for c in ("etk-c", "etk-java", "paho"):
                    out.append(f"- {c} QoS{q} {TRANSPORTS[t]} {s} B / libmosquitto = "
                               f"{ratio(get('throughput', c, t, q, s), mosq)}")

    out.append("\n### Targets\n")
    out.append("| target | measured | result |")
    out.append("|---|---|---|")

    def verdict(ok):
        return "n/a" if ok is None else ("PASS" if ok else "**FAIL**")

    for c in ("etk-c", "etk-java"):
        for s in ("64", "1024"):
            mine = number(get("throughput", c, "psk", "1", s))
            mosq = number(get("throughput", "libmosquitto", "psk", "1", s))
            ok = None if mine is None or mosq is None else mine >= mosq
            out.append(f"| QoS 1 TLS-PSK throughput {s} B >= libmosquitto ({c}) | "
                       f"{cell(mine)} vs {cell(mosq)} msg/s (ratio {ratio(mine, mosq)}) | {verdict(ok)} |")
    out.append(f"| JNI overhead per publish < 2 µs | {cell(jni, 1)} ns | "
               f"{verdict(None if jni is None else jni < 2000)} |")
    for c in ("etk-c", "etk-java"):
        rss = number(get("idle_rss", c))
        out.append(f"| idle client RSS increase < 2 MiB ({c}) | {cell(rss)} KiB | "
                   f"{verdict(None if rss is None else rss < 2048)} |")
    size = number(get("library_size", "libetkmqtt_jni.so"))
    out.append(f"| native library (libetkmqtt_jni.so) < 3 MiB stripped | {cell(size)} bytes | "
               f"{verdict(None if size is None else size < 3 * 1024 * 1024)} |")
    out.append(f"| (not an issue target) QoS 0 queue drains without outside wake-ups | "
               f"{stall_summary or 'n/a'} | {verdict(None if not stalls else not stalled)} |")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.csv")
