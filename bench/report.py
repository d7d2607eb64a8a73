#!/usr/bin/env python3
"""Markdown report of a bench/run CSV (bench/harness.py): tables, ratios
against libmosquitto (and Paho) from the same run, and the issue's targets
(pass/fail).

    python3 bench/report.py bench/results/latest.csv

A value is the median over the rounds of the run; a ratio is the median of
the per-round ratios, each between runs that followed one another on the
same broker (the clients take turns within a round, in rotating order), so
a change in the machine's load between rounds cancels out.
"""
import csv
import statistics
import sys
from collections import defaultdict

CLIENTS = ["etk-java", "etk-c", "libmosquitto", "paho"]
TRANSPORTS = {"tcp": "plain TCP", "tls": "certificate TLS", "psk": "TLS-PSK"}
DEFAULT_WINDOW = {"etk-java": 20, "etk-c": 20, "libmosquitto": 20, "paho": 65535}


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


class Data:
    def __init__(self, path):
        self.rows = list(csv.DictReader(open(path)))
        self.by = defaultdict(list)
        for r in self.rows:
            key = (r["section"], r["measurement"], r["client"], r["transport"], r["qos"], r["payload_bytes"],
                   r["setting"])
            self.by[key].append(r)

    def values(self, section, measurement, client, transport="", qos="", size="", setting=""):
        return self.by.get((section, measurement, client, transport, str(qos), str(size), setting), [])

    def median(self, *key):
        rows = self.values(*key)
        nums = [number(r["value"]) for r in rows]
        if not rows:
            return None
        bad = [r["value"] for r, n in zip(rows, nums) if n is None]
        if bad:
            return bad[0]
        return statistics.median(nums)

    def spread(self, *key):
        nums = [number(r["value"]) for r in self.values(*key)]
        nums = [n for n in nums if n is not None]
        return (min(nums), max(nums)) if len(nums) > 1 else None

    def ratio(self, section, measurement, a, b, transport="", qos="", size="", setting_a="", setting_b=None):
        """Median of per-round ratios a/b."""
        r = self.ratios(section, measurement, a, b, transport, qos, size, setting_a, setting_b)
        return statistics.median(r) if r else None

    def ratios(self, section, measurement, a, b, transport="", qos="", size="", setting_a="", setting_b=None):
        """The per-round ratios a/b."""
        ra = {r["round"]: number(r["value"]) for r in self.values(section, measurement, a, transport, qos, size,
                                                                  setting_a)}
        rb = {r["round"]: number(r["value"]) for r in self.values(
            section, measurement, b, transport, qos, size, setting_a if setting_b is None else setting_b)}
        return [ra[k] / rb[k] for k in ra if k in rb and ra[k] is not None and rb[k]]

    def info(self, name, client=""):
        for r in self.rows:
            if r["section"] == "info" and r["measurement"] == name and r["client"] == client:
                return r["value"]
        return None


def cell(value, digits=0):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def ratio_text(r):
    return "n/a" if r is None else f"{r:.2f}"


def ratio_range(d, *args):
    """The median per-round ratio, with the lowest and highest round when
    there are several: how much of a difference the noise makes."""
    r = d.ratios(*args)
    if not r:
        return "n/a"
    if len(r) == 1:
        return f"{r[0]:.2f}"
    return f"{statistics.median(r):.2f} ({min(r):.2f}–{max(r):.2f})"


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "**FAIL**")


def main(path):
    d = Data(path)
    out = []
    targets = []

    def target(name, measured, ok):
        targets.append(f"| {name} | {measured} | {verdict(ok)} |")

    rounds = {s: len({r["round"] for r in d.rows if r["section"] == s and r["round"]}) for s in
              ("tput", "paced", "slow", "durable")}
    out.append("### The machine and the run\n")
    for name in ("cpu", "memory", "kernel", "mosquitto", "libmosquitto", "paho", "openssl", "java", "rustc",
                 "etkmqtt", "date", "mode"):
        v = d.info(name)
        if v:
            out.append(f"- {name}: {v}")
    loads = [(r["measurement"].replace("loadavg_", ""), r["value"]) for r in d.rows
             if r["section"] == "info" and r["measurement"].startswith("loadavg")]
    if loads:
        out.append("- load average (1, 5, 15 min) before each section: " +
                   "; ".join(f"{w.replace('before_', '')} {v}" for w, v in loads))
    secs = [(r["client"], r["value"]) for r in d.rows if r["section"] == "info" and r["measurement"] == "seconds"]
    if secs:
        out.append("- seconds per section: " + ", ".join(f"{c} {v}" for c, v in secs))
    out.append("")

    # ---- 1, 2: throughput ---------------------------------------------------
    if rounds["tput"]:
        n = rounds["tput"]
        out.append(f"### Throughput counted at the subscriber (msg/s; median of {n} round(s); in-flight 20)\n")
        out.append("N messages per run from the publisher's first publish call until the subscriber has the "
                   "N-th; ratios are medians of per-round ratios (lowest–highest round in brackets).\n")
        out.append("| transport | QoS | payload | " + " | ".join(CLIENTS) +
                   " | etk-c / libmosquitto | etk-java / libmosquitto | target |")
        out.append("|---|---|---|" + "---:|" * len(CLIENTS) + "---:|---:|---|")
        for t in TRANSPORTS:
            for q in ("0", "1"):
                for s in ("64", "1024"):
                    vals = [d.median("tput", "e2e_rate", c, t, q, s, "inflight=20") for c in CLIENTS]
                    rc = d.ratio("tput", "e2e_rate", "etk-c", "libmosquitto", t, q, s, "inflight=20")
                    rj = d.ratio("tput", "e2e_rate", "etk-java", "libmosquitto", t, q, s, "inflight=20")
                    want = 1.5 if t == "psk" else 1.0
                    ok = None if rc is None or rj is None else (rc >= want and rj >= want)
                    out.append(f"| {TRANSPORTS[t]} | {q} | {s} B | " + " | ".join(cell(v) for v in vals) +
                               f" | {ratio_range(d, 'tput', 'e2e_rate', 'etk-c', 'libmosquitto', t, q, s, 'inflight=20')}"
                               f" | {ratio_range(d, 'tput', 'e2e_rate', 'etk-java', 'libmosquitto', t, q, s, 'inflight=20')}"
                               f" | ≥ {want} {verdict(ok)} |")
                    for c, r in (("etk-c", rc), ("etk-java", rj)):
                        target(f"end to end ≥ {want}× libmosquitto: {c}, {TRANSPORTS[t]} QoS {q} {s} B",
                               ratio_text(r), None if r is None else r >= want)
        out.append("")
        out.append(f"### The publishers' own figures (msg/s; each program's own completion, see the method)\n")
        out.append("| transport | QoS | payload | " + " | ".join(CLIENTS) +
                   " | etk-c own / end to end | libmosquitto own / end to end |")
        out.append("|---|---|---|" + "---:|" * len(CLIENTS) + "---:|---:|")
        for t in TRANSPORTS:
            for q in ("0", "1"):
                for s in ("64", "1024"):
                    vals = [d.median("tput", "own_rate", c, t, q, s, "inflight=20") for c in CLIENTS]
                    oe = []
                    for c in ("etk-c", "libmosquitto"):
                        own = d.median("tput", "own_rate", c, t, q, s, "inflight=20")
                        e2e = d.median("tput", "e2e_rate", c, t, q, s, "inflight=20")
                        oe.append(ratio_text(own / e2e) if isinstance(own, float) and isinstance(e2e, float)
                                  else "n/a")
                    out.append(f"| {TRANSPORTS[t]} | {q} | {s} B | " + " | ".join(cell(v) for v in vals) +
                               f" | {oe[0]} | {oe[1]} |")
        out.append("")

        # ---- 3: CPU flat out ------------------------------------------------
        out.append("### Client CPU per message, flat out (µs user + sys per message; lower is better)\n")
        out.append("The whole client process over the run (getrusage; Java: its threads' CPU), less the "
                   "benchmark's own waiting on the calling thread.\n")
        out.append("| transport | QoS | payload | " + " | ".join(CLIENTS) +
                   " | etk-c / libmosquitto | etk-java / libmosquitto | target (QoS 1) |")
        out.append("|---|---|---|" + "---:|" * len(CLIENTS) + "---:|---:|---|")
        for t in TRANSPORTS:
            for q in ("0", "1"):
                for s in ("64", "1024"):
                    vals = [d.median("tput", "cpu_per_msg", c, t, q, s, "inflight=20") for c in CLIENTS]
                    rc = d.ratio("tput", "cpu_per_msg", "etk-c", "libmosquitto", t, q, s, "inflight=20")
                    rj = d.ratio("tput", "cpu_per_msg", "etk-java", "libmosquitto", t, q, s, "inflight=20")
                    tgt = ""
                    if q == "1":
                        ok = None if rc is None or rj is None else (rc <= 0.6 and rj <= 0.8)
                        tgt = f"≤ 0.6 / ≤ 0.8 {verdict(ok)}"
                        target(f"CPU per QoS 1 message ≤ 0.6× libmosquitto: etk-c, {TRANSPORTS[t]} {s} B",
                               ratio_text(rc), None if rc is None else rc <= 0.6)
                        target(f"CPU per QoS 1 message ≤ 0.8× libmosquitto: etk-java, {TRANSPORTS[t]} {s} B",
                               ratio_text(rj), None if rj is None else rj <= 0.8)
                    out.append(f"| {TRANSPORTS[t]} | {q} | {s} B | " + " | ".join(cell(v, 2) for v in vals) +
                               f" | {ratio_range(d, 'tput', 'cpu_per_msg', 'etk-c', 'libmosquitto', t, q, s, 'inflight=20')}"
                               f" | {ratio_range(d, 'tput', 'cpu_per_msg', 'etk-java', 'libmosquitto', t, q, s, 'inflight=20')}"
                               f" | {tgt} |")
        out.append("")

    # ---- 4: CPU paced -----------------------------------------------------------
    if rounds["paced"]:
        out.append(f"### Client CPU per message at 1 000 msg/s (µs; 64 B; median of {rounds['paced']} round(s))\n")
        out.append("A gateway's load: one message every millisecond, so nothing is batched. The pacing sleeps "
                   "are left out (they are the application's); \"library threads\" is the part spent in the "
                   "client library's own threads.\n")
        out.append("| transport | QoS | " + " | ".join(CLIENTS) +
                   " | etk-c / libmosquitto | etk-java / libmosquitto | library threads: " +
                   " / ".join(CLIENTS) + " |")
        out.append("|---|---|" + "---:|" * len(CLIENTS) + "---:|---:|---:|")
        for t in ("tcp", "psk"):
            for q in ("0", "1"):
                vals = [d.median("paced", "cpu_per_msg", c, t, q, 64, "rate=1000") for c in CLIENTS]
                lib = [d.median("paced", "cpu_lib_per_msg", c, t, q, 64, "rate=1000") for c in CLIENTS]
                rc = d.ratio("paced", "cpu_per_msg", "etk-c", "libmosquitto", t, q, 64, "rate=1000")
                rj = d.ratio("paced", "cpu_per_msg", "etk-java", "libmosquitto", t, q, 64, "rate=1000")
                out.append(f"| {TRANSPORTS[t]} | {q} | " + " | ".join(cell(v, 1) for v in vals) +
                           f" | {ratio_range(d, 'paced', 'cpu_per_msg', 'etk-c', 'libmosquitto', t, q, 64, 'rate=1000')}"
                           f" | {ratio_range(d, 'paced', 'cpu_per_msg', 'etk-java', 'libmosquitto', t, q, 64, 'rate=1000')}"
                           f" | " + " / ".join(cell(v, 1) for v in lib) + " |")
        out.append("")

    # ---- 5: Java breakdown --------------------------------------------------------
    if rounds["tput"] or rounds["paced"]:
        out.append("### Where etk-java's CPU goes (µs per message)\n")
        out.append("Per thread (/proc/self/task/*/schedstat): the library's threads (etkmqtt-io, "
                   "etkmqtt-events), the caller's thread (the Java loop, the shim, JNI and the library's own "
                   "publish path), the JIT compilers, the garbage collector and the JVM's other threads. "
                   "\"JVM outside the library\" = JIT + GC + other JVM threads + (Java caller − etk-c caller), "
                   "the last being what the Java side and JNI add to the same library call.\n")
        out.append("| run | total | library threads | caller | JIT | GC | other JVM | etk-c total | etk-c library "
                   "threads | etk-c caller | JVM outside the library | share of etk-java's CPU |")
        out.append("|---|" + "---:|" * 11)
        cases = []
        if rounds["tput"]:
            cases += [("tput", t, q, "64", "inflight=20", f"flat out, {TRANSPORTS[t]} QoS {q}")
                      for t in ("tcp", "psk") for q in ("0", "1")]
        if rounds["paced"]:
            cases += [("paced", t, q, "64", "rate=1000", f"1 000 msg/s, {TRANSPORTS[t]} QoS {q}")
                      for t in ("tcp", "psk") for q in ("0", "1")]
        for sec, t, q, s, setting, label in cases:
            g = {m: d.median(sec, f"cpu_{m}_per_msg", "etk-java", t, q, s, setting)
                 for m in ("lib", "caller", "jit", "gc", "jvm_other")}
            g = {k: (v if isinstance(v, float) else 0.0) for k, v in g.items()}
            total = d.median(sec, "cpu_per_msg", "etk-java", t, q, s, setting)
            ctot = d.median(sec, "cpu_per_msg", "etk-c", t, q, s, setting)
            clib = d.median(sec, "cpu_lib_per_msg", "etk-c", t, q, s, setting)
            ccall = d.median(sec, "cpu_caller_per_msg", "etk-c", t, q, s, setting)
            outside = share = None
            if isinstance(total, float) and isinstance(ccall, float):
                outside = g["jit"] + g["gc"] + g["jvm_other"] + (g["caller"] - ccall)
                share = outside / total if total else None
            out.append(f"| {label} | {cell(total, 2)} | {cell(g['lib'], 2)} | {cell(g['caller'], 2)} | "
                       f"{cell(g['jit'], 2)} | {cell(g['gc'], 2)} | {cell(g['jvm_other'], 2)} | {cell(ctot, 2)} | "
                       f"{cell(clib, 2)} | {cell(ccall, 2)} | {cell(outside, 2)} | "
                       f"{'n/a' if share is None else f'{share:.0%}'} |")
        out.append("")

    # ---- 6: slow link ---------------------------------------------------------------
    if rounds["slow"]:
        rtt = number(d.median("slow", "rtt_added", "")) or 100
        out.append(f"### Slow link: {rtt / 2:.0f} ms each way, QoS 1, 64 B (msg/s; median of {rounds['slow']} "
                   f"round(s))\n")
        out.append("The limit of a window of W messages in flight is W / RTT; with Paho's default window "
                   "(65535) all messages of a run fit in one window.\n")
        out.append("| client | window | at the subscriber | own figure | limit W / RTT | at the subscriber / "
                   "limit | own / limit | CPU µs/msg | target (etkmqtt: both ≥ 0.9 × limit) |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for window in ("default", "100"):
            for c in CLIENTS:
                setting = f"inflight={window}"
                w = DEFAULT_WINDOW[c] if window == "default" else 100
                e2e = d.median("slow", "e2e_rate", c, "tcp", 1, 64, setting)
                own = d.median("slow", "own_rate", c, "tcp", 1, 64, setting)
                cpu = d.median("slow", "cpu_per_msg", c, "tcp", 1, 64, setting)
                limit = w / (rtt / 1000)
                frac = own / limit if isinstance(own, float) and w < 10000 else None
                efrac = e2e / limit if isinstance(e2e, float) and w < 10000 else None
                tgt = ""
                if c.startswith("etk"):
                    ok = None if frac is None or efrac is None else min(frac, efrac) >= 0.9
                    tgt = verdict(ok)
                    target(f"slow link ≥ 0.9 × window/RTT: {c}, window {w}",
                           f"{ratio_text(efrac)} at the subscriber, {ratio_text(frac)} own", ok)
                out.append(f"| {c} | {w}{' (default)' if window == 'default' else ''} | {cell(e2e)} | {cell(own)} | "
                           f"{cell(limit) if w < 10000 else 'none'} | {ratio_text(efrac)} | {ratio_text(frac)} | "
                           f"{cell(cpu, 1)} | {tgt} |")
        lates = []
        for direction in ("client->broker", "broker->client"):
            mx = d.median("slow", "proxy_late_max", direction)
            mean = d.median("slow", "proxy_late_mean", direction)
            sched = d.median("slow", "proxy_scheduling", direction)
            if mx is not None:
                lates.append(f"{direction} late by max {cell(mx, 3)} ms, mean {cell(mean, 3)} ms ({sched} scheduling)")
        if lates:
            out.append("\nThe proxy's writes against their due time: " + "; ".join(lates) + ".")
        out.append("")

    # ---- 7: durable -------------------------------------------------------------------
    if rounds["durable"]:
        out.append(f"### Durable publishing: QoS 1, 64 B, plain TCP, in-flight 20 (median of {rounds['durable']} "
                   f"round(s))\n")
        fs = d.info("durable_store_filesystem")
        if fs:
            out.append(f"Stores on {fs}; syncs counted by an LD_PRELOAD counter of fsync, fdatasync, "
                       "sync_file_range, syncfs, sync, msync (cross-checked with strace -f -c); bytes: what the "
                       "process handed to write() for files (its wchar less that of the same client without "
                       "persistence, per round) and what reached the block layer (write_bytes).\n")
        out.append("| client | persistence | at the subscriber msg/s | own msg/s | fsync calls / msg | "
                   "(strace) | bytes to write() / msg | write_bytes / msg | CPU µs/msg | at the subscriber / "
                   "Paho file |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c, setting in (("etk-c", "storesync=always"), ("etk-c", "storesync=batch"), ("etk-c", "none"),
                           ("paho", "file"), ("paho", "none")):
            e2e = d.median("durable", "e2e_rate", c, "tcp", 1, 64, setting)
            own = d.median("durable", "own_rate", c, "tcp", 1, 64, setting)
            syncs = d.median("durable", "syncs_per_msg", c, "tcp", 1, 64, setting)
            strace = d.median("durable", "strace_syncs_per_msg", c, "", "", "", setting)
            cpu = d.median("durable", "cpu_per_msg", c, "tcp", 1, 64, setting)
            wb = d.median("durable", "write_bytes_per_msg", c, "tcp", 1, 64, setting)
            # File bytes: wchar minus wchar of the same client without persistence, per round.
            wa = {r["round"]: number(r["value"]) for r in d.values("durable", "wchar_per_msg", c, "tcp", 1, 64,
                                                                   setting)}
            wn = {r["round"]: number(r["value"]) for r in d.values("durable", "wchar_per_msg", c, "tcp", 1, 64,
                                                                   "none")}
            fb = [wa[k] - wn[k] for k in wa if k in wn and wa[k] is not None and wn[k] is not None]
            fbytes = statistics.median(fb) if fb and setting != "none" else None
            vs = d.ratio("durable", "e2e_rate", c, "paho", "tcp", 1, 64, setting, "file")
            out.append(f"| {c} | {setting} | {cell(e2e)} | {cell(own)} | {cell(syncs, 3)} | {cell(strace, 3)} | "
                       f"{cell(fbytes, 1)} | {cell(wb, 0)} | {cell(cpu, 1)} | {ratio_text(vs)} |")
            if setting == "storesync=always":
                target("durable (STORESYNC always) ≥ 2× Paho C file persistence", ratio_text(vs),
                       None if vs is None else vs >= 2)
            if setting == "storesync=batch":
                target("(not an issue target) durable STORESYNC batch ≥ 2× Paho C file persistence",
                       ratio_text(vs), None if vs is None else vs >= 2)
        out.append("")

    # ---- 8: memory --------------------------------------------------------------------
    mem = [r for r in d.rows if r["section"] == "memory"]
    if mem:
        out.append("### Memory\n")
        out.append("| client | idle connected client: RSS increase | of it anonymous | of it file-backed (library "
                   "code) |")
        out.append("|---|---:|---:|---:|")
        for c, setting, label in (("etk-java", "next-to-jar", "etk-java, library next to the jar (the Flexy layout)"),
                                  ("etk-java", "extracted", "etk-java, library extracted from the jar"),
                                  ("etk-c", "", "etk-c"), ("libmosquitto", "", "libmosquitto"), ("paho", "", "paho")):
            rss = d.median("memory", "idle_rss", c, "", "", "", setting)
            out.append(f"| {label} | {cell(rss)} KiB | "
                       f"{cell(d.median('memory', 'idle_rss_anon', c, '', '', '', setting))} KiB | "
                       f"{cell(d.median('memory', 'idle_rss_file', c, '', '', '', setting))} KiB |")
        for setting in ("next-to-jar", "extracted"):
            rss = d.median("memory", "idle_rss", "etk-java", "", "", "", setting)
            sp = d.spread("memory", "idle_rss", "etk-java", "", "", "", setting)
            target(f"Java idle RSS ≤ 2 MiB (first client of a JVM, library {setting.replace('-', ' ')})",
                   f"{cell(rss)} KiB" + (f" (rounds {cell(sp[0])}–{cell(sp[1])})" if sp else ""),
                   None if not isinstance(rss, float) else rss <= 2048)
        further = d.median("memory", "rss_kib_per_further_client", "etk-java")
        target("Java idle RSS ≤ 2 MiB (each further client)", f"{cell(further, 1)} KiB",
               None if not isinstance(further, float) else further <= 2048)
        out.append("")
        out.append("| etk-java | value |")
        out.append("|---|---:|")
        for name, label, unit in (
                ("idle_heap", "Java heap increase of the first idle client (library next to the jar)", "KiB"),
                ("rss_kib_per_further_client", "RSS per further idle client (10 clients)", "KiB"),
                ("anon_kib_per_further_client", "of it anonymous", "KiB"),
                ("heap_per_publish_reused_qos0", "Java heap per publish, QoS 0, message reused", "bytes"),
                ("heap_per_publish_reused_qos1", "Java heap per publish, QoS 1, message reused", "bytes"),
                ("heap_per_publish_new_qos0", "Java heap per publish, QoS 0, new MqttMessage + byte[64] each", "bytes"),
                ("heap_per_publish_new_qos1", "Java heap per publish, QoS 1, new MqttMessage + byte[64] each", "bytes"),
                ("heap_per_receive_qos0", "Java heap per received message, QoS 0 (event thread)", "bytes"),
                ("heap_per_receive_qos1", "Java heap per received message, QoS 1 (event thread)", "bytes"),
                ("heap_message_objects", "the objects a received message is (MqttMessage, topic String, "
                                         "byte[64]), made in Java", "bytes")):
            setting = "next-to-jar" if name == "idle_heap" else ""
            out.append(f"| {label} | {cell(d.median('memory', name, 'etk-java', '', '', '', setting), 1)} {unit} |")
        out.append("")

    # ---- 9: misc ------------------------------------------------------------------------
    misc = [r for r in d.rows if r["section"] == "misc"]
    if misc:
        out.append("### Connect + handshake to CONNACK (median ms; lower is better)\n")
        out.append("| transport | " + " | ".join(CLIENTS) + " | etk-c / libmosquitto | etk-java / libmosquitto |")
        out.append("|---|" + "---:|" * (len(CLIENTS) + 2))
        for t in ("psk", "tls", "tcp"):
            vals = [d.median("misc", "connect", c, t) for c in CLIENTS]
            def r(a, b):
                return ratio_text(a / b) if isinstance(a, float) and isinstance(b, float) and b else "n/a"
            out.append(f"| {TRANSPORTS[t]} | " + " | ".join(cell(v, 2) for v in vals) +
                       f" | {r(vals[1], vals[2])} | {r(vals[0], vals[2])} |")
        out.append("\n### Publish-to-receive latency, QoS 1 at 1 000 msg/s, own subscription (µs)\n")
        out.append("| client | transport | p50 | p99 |")
        out.append("|---|---|---:|---:|")
        for c in CLIENTS:
            for t in ("tcp", "psk"):
                p50 = d.median("misc", "latency_p50", c, t, 1, 64)
                if p50 is not None:
                    out.append(f"| {c} | {TRANSPORTS[t]} | {cell(p50)} | {cell(d.median('misc', 'latency_p99', c, t, 1, 64))} |")
        out.append("\n### publish() call, library sizes, QoS 0 stall check\n")
        out.append("| measurement | value |")
        out.append("|---|---:|")
        pc, pj = d.median("misc", "publish_call", "etk-c", "", 1, 64), d.median("misc", "publish_call", "etk-java", "", 1, 64)
        out.append(f"| publish() call, enqueue only, C API | {cell(pc, 1)} ns |")
        out.append(f"| publish() call, enqueue only, Java API | {cell(pj, 1)} ns |")
        jni = pj - pc if isinstance(pj, float) and isinstance(pc, float) else None
        out.append(f"| JNI overhead per publish (Java − C) | {cell(jni, 1)} ns |")
        for lib in ("libetkmqtt_jni.so", "libetkmqtt.so", "libmosquitto.so", "libpaho-mqtt3as.so"):
            out.append(f"| {lib}, stripped | {cell(d.median('misc', 'library_size', lib))} bytes |")
        stalls = [(t, d.median("misc", "qos0_stall_check", "etk-c", t)) for t in TRANSPORTS]
        stalls = [(t, v) for t, v in stalls if v is not None]
        out.append("| QoS 0 stall check (etk-c, 20 000 × 1 KiB) | " +
                   "; ".join(f"{TRANSPORTS[t]}: {v}" for t, v in stalls) + " |")
        if stalls:
            target("(not an issue target) QoS 0 queue drains without outside wake-ups",
                   "; ".join(f"{TRANSPORTS[t]}: {v}" for t, v in stalls), all(v == "ok" for _, v in stalls))
        out.append("")

    # ---- 10: the subscriber -----------------------------------------------------------
    busy = [(number(r["value"]), r) for r in d.rows if r["measurement"] == "sub_busy"]
    busy = [(b, r) for b, r in busy if b is not None]
    if busy:
        b, r = max(busy, key=lambda x: x[0])
        per_read = [number(r["value"]) for r in d.rows if r["measurement"] == "sub_msgs_per_read"]
        full = [number(r["value"]) for r in d.rows if r["measurement"] == "sub_full_reads"]
        wrong = [r for r in d.rows if r["measurement"] == "sub_wrong"]
        missing = [r for r in d.rows if r["measurement"] == "e2e_rate" and str(r["value"]).startswith("missing")]
        errors = [r for r in d.rows if r["measurement"] == "e2e_rate" and r["value"] == "error"]
        out.append("### Is the subscriber the bottleneck?\n")
        out.append(f"- Its busy share (its CPU time / the time from its first to its last message), highest of "
                   f"{len(busy)} runs: {b:.0%} ({r['section']} {r['client']} {r['transport']} QoS {r['qos']} "
                   f"{r['payload_bytes']} B); median {statistics.median(x for x, _ in busy):.0%}.")
        out.append(f"- Messages per read: median {statistics.median(per_read):.1f}, highest {max(per_read):.1f} "
                   f"(a read takes up to 256 KiB); reads that filled the buffer: at most {max(full):.1%} of a run's.")
        out.append(f"- Runs with messages missing: {len(missing)}; runs that failed: {len(errors)}; packets on "
                   f"the wrong topic or of the wrong size: {len(wrong)} runs.")
        out.append("")

    out.append("### Targets\n")
    out.append("| target | measured | result |")
    out.append("|---|---|---|")
    out.extend(targets)
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.csv")
