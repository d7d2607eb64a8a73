#!/usr/bin/env python3
"""The measuring half of bench/run (which builds everything first): starts
one Mosquitto, the counting subscriber (bench/c/sub_count.c), the delay
proxy (bench/c/delay_proxy.c) and the client programs, runs every
measurement, and writes one CSV row per number.

    python3 bench/harness.py --bin DIR --classpath CP --work DIR --csv FILE
                             [--quick] [--only SECTION,...]

Sections (in this order; docs/performance.md explains each method):
  tput     throughput counted at the subscriber, the publisher's own figure
           and CPU per message, flat out: {tcp, tls, psk} x QoS {0, 1} x
           {64, 1024} B x every client, in-flight 20, interleaved rounds
  paced    CPU per message at a fixed 1 000 msg/s (a gateway's load)
  slow     QoS 1 through a 50 ms-each-way delay proxy, each client's default
           in-flight window and 100
  durable  QoS 1 with etkmqtt's STOREDIR (STORESYNC always, batch) and Paho's
           file persistence; fsync calls and bytes written per message
  memory   idle RSS per client, Java heap per publish and per received message
  misc     connect time, latency, publish() call cost, library sizes, QoS 0
           stall check

Every run of a publisher goes like this: the subscriber connects to the
broker's plain listener, subscribes to a topic used by this run only and
says "ready"; then the publisher connects (over the cell's transport),
publishes N messages, prints its own figure and costs and keeps the
connection open; the run ends when the subscriber has all N (or reports how
many are missing), and only then is the publisher told to disconnect.
End-to-end rate = N / (arrival of the N-th message at the subscriber - the
publisher's first publish call), both CLOCK_MONOTONIC on this machine.

CSV columns: section, measurement, client, transport, qos, payload_bytes,
setting, round, value, unit. A value that is not a number says what went
wrong ("error", "missing 12").
"""
import argparse
import csv
import os
import platform
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

CLIENTS = ["etk-java", "etk-c", "libmosquitto", "paho"]
C_PROGRAMS = {"etk-c": "etk-c", "libmosquitto": "libmosquitto", "paho": "paho"}
PUBLISH_TIMEOUT_S = 600
SUB_READY_TIMEOUT_S = 15


def log(text):
    print(text, file=sys.stderr, flush=True)


_HANDED_OUT = set()


def free_port():
    """A 127.0.0.1 port that was free a moment ago and not handed out before:
    the kernel may give a port that was just closed to the next bind(0), and
    two listeners of one broker must not get the same one."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


class Lines:
    """A child process whose stdout is read line by line with timeouts."""

    def __init__(self, args, env=None, stdin=subprocess.PIPE, stderr=None):
        self.proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr,
                                     env=env, text=True, bufsize=1)
        self.queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def line(self, timeout):
        """The next line, or None at EOF or after `timeout` seconds."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def send(self, text):
        try:
            self.proc.stdin.write(text + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            try:
                self.proc.stdin and self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def keyvalues(line):
    out = {}
    for item in (line or "").split():
        if "=" in item:
            k, v = item.split("=", 1)
            out[k] = v
    return out


def classify_thread(client, name):
    """The library's threads, the caller's thread, or the JVM's own."""
    if client == "etk-java":
        if name.startswith("etkmqtt-"):
            return "lib"
        if name == "java":
            return "caller"
        if name.startswith(("C1_Compiler", "C2_Compiler")):
            return "jit"
        if name.startswith(("G1_", "GC_Thread")):
            return "gc"
        return "jvm_other"
    return "caller" if name == "main" else "lib"


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.bin = args.bin
        self.work = args.work
        self.rows = []
        self.clients_log = open(os.path.join(self.work, "clients.log"), "a")
        self.run_seq = 0
        self.run_id = f"{os.getpid()}-{int(time.time())}"
        self.javas = {}  # network name -> the EtkBench serve JVM using it
        self.envs = {}   # network name -> client environment
        self.broker = None

    # ---- output -----------------------------------------------------------

    def record(self, section, measurement, client, value, unit="", transport="", qos="", size="",
               setting="", rnd=""):
        if isinstance(value, float):
            value = f"{value:.6g}"
        self.rows.append([section, measurement, client, transport, qos, size, setting, rnd, value, unit])

    def write_csv(self):
        tmp = self.args.csv + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["section", "measurement", "client", "transport", "qos", "payload_bytes", "setting",
                        "round", "value", "unit"])
            w.writerows(self.rows)
        os.replace(tmp, self.args.csv)

    def info(self, name, value):
        self.record("info", name, "", str(value).replace("\n", " ").strip())

    # ---- broker ---------------------------------------------------------

    def start_broker(self):
        w = self.work
        key = subprocess.run(["openssl", "rand", "-hex", "32"], capture_output=True, text=True,
                             check=True).stdout.strip()
        with open(f"{w}/psk_file", "w") as f:
            f.write(f"bench:{key}\n")
        quiet = dict(capture_output=True, check=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=bench-ca", "-keyout", f"{w}/ca.key", "-out",
                        f"{w}/ca.pem"], **quiet)
        subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-subj", "/CN=localhost", "-keyout", f"{w}/server.key", "-out", f"{w}/server.csr"], **quiet)
        with open(f"{w}/san.ext", "w") as f:
            f.write("subjectAltName=DNS:localhost\n")
        subprocess.run(["openssl", "x509", "-req", "-in", f"{w}/server.csr", "-CA", f"{w}/ca.pem", "-CAkey",
                        f"{w}/ca.key", "-CAcreateserial", "-days", "2", "-extfile", f"{w}/san.ext", "-out",
                        f"{w}/server.pem"], **quiet)
        self.tcp, self.tls, self.psk = free_port(), free_port(), free_port()
        with open(f"{w}/mosquitto.conf", "w") as f:
            f.write(f"""log_dest stderr
# The broker's own Nagle delay would otherwise dominate the latency test.
set_tcp_nodelay true
# Count every message: no per-client queue limit (default 1000 would drop
# a burst to a subscriber that is momentarily behind).
max_queued_messages 0
max_queued_bytes 0
persistence false
listener {self.tcp} 127.0.0.1
allow_anonymous true
listener {self.tls} 127.0.0.1
cafile {w}/ca.pem
certfile {w}/server.pem
keyfile {w}/server.key
listener {self.psk} 127.0.0.1
psk_hint bench
psk_file {w}/psk_file
""")
        # Mosquitto started as root drops to the mosquitto user: it must read these.
        for name in os.listdir(w):
            os.chmod(os.path.join(w, name), 0o644 if os.path.isfile(os.path.join(w, name)) else 0o755)
        self.broker_log = open(f"{w}/mosquitto.log", "a")
        self.launch_broker()
        self.env = dict(os.environ, BENCH_HOST="localhost", BENCH_PORT_TCP=str(self.tcp),
                        BENCH_PORT_TLS=str(self.tls), BENCH_PORT_PSK=str(self.psk), BENCH_CAFILE=f"{w}/ca.pem",
                        BENCH_PSK_KEY=key, BENCH_PSK_ID="bench")
        self.envs["direct"] = self.env

    def launch_broker(self):
        w = self.work
        self.broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", f"{w}/mosquitto.conf"],
                                       stdout=self.broker_log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        for port in (self.tcp, self.tls, self.psk):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline or self.broker.poll() is not None:
                        raise SystemExit("mosquitto did not start:\n" + open(f"{w}/mosquitto.log").read())
                    time.sleep(0.1)

    def broker_alive(self):
        """Restarts the broker (same ports) if something ended it: on a
        machine shared with other work, someone's `pkill mosquitto` must not
        end the whole run. Each restart is logged and counted in the CSV."""
        if self.broker.poll() is None:
            return True
        log(f"   *** mosquitto ended (exit {self.broker.returncode}); starting it again")
        self.restarts = getattr(self, "restarts", 0) + 1
        self.info("broker_restarts", self.restarts)
        self.launch_broker()
        return False

    def stop_java(self, net):
        java = self.javas.pop(net, None)
        if java is not None:
            java.send("quit")
            java.stop()

    def stop(self):
        for net in list(self.javas):
            self.stop_java(net)
        if self.broker is not None and self.broker.poll() is None:
            self.broker.terminate()
            try:
                self.broker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.broker.kill()

    # ---- one publish run ------------------------------------------------

    def java_serve(self, net="direct"):
        """The long-lived JVM for runs over network `net`, warmed up once."""
        java = self.javas.get(net)
        if java is None or java.proc.poll() is not None:
            java = Lines(["java", "-cp", self.args.classpath, "EtkBench", "serve"], env=self.envs[net],
                         stderr=self.clients_log)
            # Over the slow link only TCP is proxied: warm up over TLS-PSK,
            # which still goes straight to the broker.
            java.send(f"warmup {2000 if self.quick else 20000} {'tcp,psk' if net == 'direct' else 'psk'}")
            if java.line(300) != "warm":
                raise SystemExit("the Java bench did not start (see clients.log)")
            self.javas[net] = java
        return java

    def publish(self, *args, **kwargs):
        """One run; returns a dict of the publisher's and the subscriber's
        key=value results, with "error" set when something failed. A run
        that failed because the broker went away is run once more."""
        self.broker_alive()
        result = self.publish_once(*args, **kwargs)
        if "error" in result and not self.broker_alive():
            result = self.publish_once(*args, **kwargs)
        return result

    def publish_once(self, client, transport, qos, size, messages, settings=(), net="direct", preload=None,
                     wrap=None):
        self.run_seq += 1
        topic = f"bench/{self.run_id}/{self.run_seq}"
        sub = Lines([f"{self.bin}/sub_count", "127.0.0.1", str(self.tcp), topic, str(messages), str(size),
                     str(PUBLISH_TIMEOUT_S)], stdin=subprocess.DEVNULL, stderr=self.clients_log)
        result = {}
        pub = None
        try:
            if sub.line(SUB_READY_TIMEOUT_S) != "ready":
                result["error"] = "subscriber not ready"
                return result
            args = ["publish", transport, str(qos), str(size), str(messages), topic, *settings]
            if client == "etk-java":
                pub = self.java_serve(net)
                pub.send(" ".join(args))
            else:
                penv = dict(self.envs[net])
                if preload:
                    penv["LD_PRELOAD"] = preload
                cmd = [f"{self.bin}/{C_PROGRAMS[client]}", *args]
                pub = Lines((wrap or []) + cmd, env=penv, stderr=self.clients_log)
            line = pub.line(PUBLISH_TIMEOUT_S)
            if line is None or "own_rate=" not in line:
                result["error"] = f"publisher failed ({line})"
                sub.proc.send_signal(signal.SIGTERM)
            else:
                result.update(keyvalues(line))
            # The subscriber ends when it has all; give it a while after the
            # publisher is done (a QoS 0 tail may still be in the broker).
            got = sub.line(120 if "error" not in result else 10)
            if got is None:
                sub.proc.send_signal(signal.SIGTERM)
                got = sub.line(10)
            result.update({"sub_" + k: v for k, v in keyvalues(got).items()})
        finally:
            if pub is not None:
                pub.send("close")
                if client != "etk-java":
                    pub.stop(timeout=60)
            sub.stop(timeout=5)
        if "sub_received" not in result:
            result.setdefault("error", "subscriber gave no result")
        return result

    def record_publish(self, section, client, transport, qos, size, messages, setting, rnd, r):
        key = dict(transport=transport, qos=qos, size=size, setting=setting, rnd=rnd)
        if "error" in r:
            log(f"   {client} {transport} QoS {qos} {size} B {setting}: ERROR {r['error']}")
            self.record(section, "e2e_rate", client, "error", "msg/s", **key)
            return None
        received = int(r["sub_received"])
        own = float(r["own_rate"])
        if received >= messages:
            e2e = messages / ((int(r["sub_last_ns"]) - int(r["start_ns"])) / 1e9)
            self.record(section, "e2e_rate", client, e2e, "msg/s", **key)
        else:
            e2e = None
            self.record(section, "e2e_rate", client, f"missing {messages - received}", "msg/s", **key)
        self.record(section, "own_rate", client, own, "msg/s", **key)
        cpu = int(r["cpu_us"])
        self.record(section, "cpu_per_msg", client, cpu / messages, "us", **key)
        if "cpu_process_us" in r:
            # The JVM's own process CPU figure (10 ms ticks): a check on the thread sum.
            self.record(section, "cpu_process_per_msg", client, int(r["cpu_process_us"]) / messages, "us", **key)
        self.record(section, "cpu_user_per_msg", client, int(r["user_us"]) / messages, "us", **key)
        self.record(section, "cpu_sys_per_msg", client, int(r["sys_us"]) / messages, "us", **key)
        classes = {}
        for item in r.get("threads", "").split(","):
            if ":" in item:
                name, us = item.rsplit(":", 1)
                cls = classify_thread(client, name)
                classes[cls] = classes.get(cls, 0) + int(us)
        for cls, us in sorted(classes.items()):
            self.record(section, f"cpu_{cls}_per_msg", client, us / messages, "us", **key)
        if int(r.get("syncs", -1)) >= 0:
            self.record(section, "syncs_per_msg", client, int(r["syncs"]) / messages, "calls", **key)
        self.record(section, "wchar_per_msg", client, int(r["wchar"]) / messages, "bytes", **key)
        self.record(section, "write_bytes_per_msg", client, int(r["write_bytes"]) / messages, "bytes", **key)
        span = (int(r["sub_last_ns"]) - int(r["sub_first_ns"])) / 1e9 if received > 1 else 0
        if span > 0:
            self.record(section, "sub_busy", client, int(r["sub_cpu_us"]) / 1e6 / span, "share", **key)
        if int(r["sub_reads"]) > 0:
            self.record(section, "sub_msgs_per_read", client, received / int(r["sub_reads"]), "msgs", **key)
            self.record(section, "sub_full_reads", client, int(r["sub_full_reads"]) / int(r["sub_reads"]),
                        "share", **key)
        if int(r.get("sub_wrong", 0)):
            self.record(section, "sub_wrong", client, int(r["sub_wrong"]), "msgs", **key)
        log(f"   {client} {transport} QoS {qos} {size} B {setting or ''} round {rnd}: "
            f"e2e {('%.0f' % e2e) if e2e else 'MISSING ' + str(messages - received)} msg/s, "
            f"own {own:.0f} msg/s, CPU {cpu / messages:.2f} us/msg")
        return r

    @staticmethod
    def rotated(items, k):
        k %= len(items)
        return items[k:] + items[:k]

    # ---- sections -------------------------------------------------------

    def section_tput(self):
        messages = 10000 if self.quick else 100000
        rounds = 1 if self.quick else 3
        log(f"== throughput at the subscriber + CPU: {messages} messages, {rounds} round(s), in-flight 20")
        self.java_serve()
        cells = [(t, q, s) for t in ("tcp", "tls", "psk") for q in (0, 1) for s in (64, 1024)]
        turn = 0
        for rnd in range(1, rounds + 1):
            for t, q, s in cells:
                for client in self.rotated(CLIENTS, turn):
                    r = self.publish(client, t, q, s, messages, ["inflight=20"])
                    self.record_publish("tput", client, t, q, s, messages, "inflight=20", rnd, r)
                turn += 1
            self.write_csv()

    def section_paced(self):
        messages = 1000 if self.quick else 3000
        rounds = 1 if self.quick else 2
        log(f"== CPU per message at 1 000 msg/s: {messages} messages, {rounds} round(s)")
        self.java_serve()
        turn = 0
        for rnd in range(1, rounds + 1):
            for t in ("tcp", "psk"):
                for q in (0, 1):
                    for client in self.rotated(CLIENTS, turn):
                        r = self.publish(client, t, q, 64, messages, ["inflight=20", "rate=1000"])
                        self.record_publish("paced", client, t, q, 64, messages, "rate=1000", rnd, r)
                    turn += 1
            self.write_csv()

    def section_slow(self):
        messages = 600 if self.quick else 2000
        rounds = 1 if self.quick else 2
        delay_ms = 50
        log(f"== slow link: {delay_ms} ms each way, QoS 1, {messages} messages, {rounds} round(s)")
        proxy_log = os.path.join(self.work, "delay_proxy.log")
        proxy = Lines([f"{self.bin}/delay_proxy", str(delay_ms), "127.0.0.1", str(self.tcp)],
                      stdin=subprocess.DEVNULL, stderr=open(proxy_log, "w"))
        line = proxy.line(10) or ""
        if not line.startswith("port "):
            raise SystemExit("delay_proxy did not start")
        self.envs["proxy"] = dict(self.env, BENCH_PORT_TCP=line.split()[1])
        self.record("slow", "rtt_added", "", 2 * delay_ms, "ms")
        turn = 0
        try:
            for rnd in range(1, rounds + 1):
                for window in ("default", "100"):
                    for client in self.rotated(CLIENTS, turn):
                        settings = [] if window == "default" else [f"inflight={window}"]
                        r = self.publish(client, "tcp", 1, 64, messages, settings, net="proxy")
                        self.record_publish("slow", client, "tcp", 1, 64, messages, f"inflight={window}", rnd, r)
                    turn += 1
                self.write_csv()
        finally:
            self.stop_java("proxy")
            proxy.proc.send_signal(signal.SIGTERM)
            proxy.proc.wait(timeout=10)
            err = open(proxy_log).read()
        for m in re.finditer(r"delay_proxy (\S+): (\d+) chunks, (\d+) bytes, late by max ([\d.]+) ms, "
                             r"mean ([\d.]+) ms \((\S+) scheduling\)", err):
            direction = m.group(1)
            self.record("slow", "proxy_chunks", direction, int(m.group(2)), "chunks")
            self.record("slow", "proxy_late_max", direction, float(m.group(4)), "ms")
            self.record("slow", "proxy_late_mean", direction, float(m.group(5)), "ms")
            self.record("slow", "proxy_scheduling", direction, m.group(6))
        log("   " + err.strip().replace("\n", "\n   "))

    def section_durable(self):
        messages = 1000 if self.quick else 5000
        rounds = 1 if self.quick else 3
        log(f"== durable publishing: QoS 1, 64 B, plain TCP, {messages} messages, {rounds} round(s)")
        store_root = os.path.join(self.work, "stores")
        os.makedirs(store_root, exist_ok=True)
        # findmnt, not stat -f: that reports ext4 as "ext2/ext3" (one magic number).
        fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "--target", store_root], capture_output=True,
                            text=True).stdout.split()
        self.info("durable_store_filesystem", f"{fs[0] if fs else '?'} on {fs[1] if len(fs) > 1 else '?'} "
                                              f"({store_root})")
        preload = f"{self.bin}/count_sync.so"
        variants = [("etk-c", "storesync=always", ["sync=always"]),
                    ("etk-c", "storesync=batch", ["sync=batch"]),
                    ("etk-c", "none", None),
                    ("paho", "file", []),
                    ("paho", "none", None)]
        turn = 0
        for rnd in range(1, rounds + 1):
            for client, setting, extra in self.rotated(variants, turn):
                settings = ["inflight=20"]
                if extra is not None:
                    d = os.path.join(store_root, f"{client}-{setting}-{rnd}")
                    os.makedirs(d, exist_ok=True)
                    settings += [f"store={d}"] + extra
                r = self.publish(client, "tcp", 1, 64, messages, settings, preload=preload)
                self.record_publish("durable", client, "tcp", 1, 64, messages, setting, rnd, r)
            turn += 1
            self.write_csv()
        shutil.rmtree(store_root, ignore_errors=True)
        if shutil.which("strace"):
            # The counter against the kernel's view: strace counts syscalls
            # (and slows the client down, so only the per-publish policies).
            n = 300
            for client, setting, extra in variants:
                if extra is None or setting == "storesync=batch":
                    continue
                d = os.path.join(store_root, f"strace-{client}")
                os.makedirs(d, exist_ok=True)
                out = os.path.join(self.work, f"strace-{client}.txt")
                r = self.publish(client, "tcp", 1, 64, n, ["inflight=20", f"store={d}"] + extra,
                                 wrap=["strace", "-f", "-c", "-o", out])
                calls = 0
                try:
                    for line in open(out):
                        f = line.split()
                        if len(f) >= 5 and f[-1] in ("fsync", "fdatasync", "sync_file_range", "syncfs", "msync"):
                            calls += int(f[3])
                except OSError:
                    calls = None
                # strace counts the whole process (also opening the store).
                self.record("durable", "strace_syncs_per_msg", client,
                            "error" if calls is None or "error" in r else calls / n, "calls", setting=setting)
            shutil.rmtree(store_root, ignore_errors=True)

    def section_memory(self):
        log("== memory: idle RSS per client, Java heap per publish and per received message")
        for client in ("etk-c", "libmosquitto", "paho"):
            out = self.run_simple([f"{self.bin}/{client}", "idle-rss"], 60).split()
            for name, value in zip(("idle_rss", "idle_rss_anon", "idle_rss_file"), out or ["error"]):
                self.record("memory", name, client, value, "KiB")
        # A fixed, pre-touched heap, so the garbage collector growing or
        # returning heap pages does not show up as the client's RSS.
        jvm = ["java", "-Xms64m", "-Xmx64m", "-XX:+AlwaysPreTouch", "-cp", self.args.classpath, "EtkBench"]
        # The Flexy layout (docs/flexy-deploy.md): the library next to the
        # jar, so NativeLoader loads it in place; and the desktop fallback,
        # extracting it from the jar to a temporary file first.
        flexy = os.path.join(self.work, "flexy")
        os.makedirs(flexy, exist_ok=True)
        jar, classes = self.args.classpath.split(":", 1)
        shutil.copy(jar, flexy)
        shutil.copy(dict(self.args.library)["libetkmqtt_jni.so"], flexy)
        beside = ["java", "-Xms64m", "-Xmx64m", "-XX:+AlwaysPreTouch", "-cp",
                  f"{flexy}/{os.path.basename(jar)}:{classes}", "EtkBench"]
        rounds = 1 if self.quick else 3
        for rnd in range(1, rounds + 1):
            for setting, cmd in (("next-to-jar", beside), ("extracted", jvm)):
                out = self.run_simple(cmd + ["idle-rss"], 120).split()
                for name, value in zip(("idle_rss", "idle_rss_anon", "idle_rss_file", "idle_heap"),
                                       out or ["error"]):
                    self.record("memory", name, "etk-java", value, "KiB", setting=setting, rnd=rnd)
        out = self.run_simple(beside + ["memory", "20000" if self.quick else "100000"], 300)
        for name, value in keyvalues(out.replace("\n", " ")).items():
            self.record("memory", name, "etk-java", value, "KiB" if "kib" in name else "bytes")

    def section_misc(self):
        rounds = 10 if self.quick else 50
        latency_messages = 1000 if self.quick else 5000
        log(f"== connect (median of {rounds}), latency ({latency_messages} at 1000 msg/s), publish() call")
        java = ["java", "-cp", self.args.classpath, "EtkBench"]
        for t in ("psk", "tls", "tcp"):
            for client in ("etk-c", "libmosquitto", "paho"):
                self.record("misc", "connect", client, self.run_simple([f"{self.bin}/{client}", "connect", t,
                                                                        str(rounds)], 120), "ms", transport=t)
            self.record("misc", "connect", "etk-java", self.run_simple(java + ["connect", t, str(rounds)], 120),
                        "ms", transport=t)
        for client, t in (("etk-c", "tcp"), ("libmosquitto", "tcp"), ("paho", "tcp"), ("etk-java", "tcp"),
                          ("etk-c", "psk"), ("libmosquitto", "psk"), ("etk-java", "psk")):
            cmd = java if client == "etk-java" else [f"{self.bin}/{client}"]
            out = self.run_simple(cmd + ["latency", t, "1000", str(latency_messages)], 120).split()
            self.record("misc", "latency_p50", client, out[0] if out else "error", "us", transport=t, qos=1,
                        size=64)
            self.record("misc", "latency_p99", client, out[1] if len(out) > 1 else "error", "us", transport=t,
                        qos=1, size=64)
        self.record("misc", "publish_call", "etk-c",
                    self.run_simple([f"{self.bin}/etk-c", "publish-call", "50000", "11"], 120), "ns", qos=1, size=64)
        self.record("misc", "publish_call", "etk-java",
                    self.run_simple(java + ["publish-call", "50000", "11"], 120), "ns", qos=1, size=64)
        for t in ("tcp", "tls", "psk"):
            self.record("misc", "qos0_stall_check", "etk-c",
                        self.run_simple([f"{self.bin}/etk-c", "stall-check", t], 60).replace(",", ";"), "",
                        transport=t)
        for name, path in self.args.library:
            stripped = os.path.join(self.work, "stripped.so")
            if subprocess.run(["strip", "-o", stripped, path]).returncode == 0:
                self.record("misc", "library_size", name, os.path.getsize(stripped), "bytes")

    def run_simple(self, cmd, timeout):
        """stdout of cmd (stripped), or "error"; run again once if the broker
        had gone away."""
        self.broker_alive()
        out = self.run_simple_once(cmd, timeout)
        if out == "error" and not self.broker_alive():
            out = self.run_simple_once(cmd, timeout)
        return out

    def run_simple_once(self, cmd, timeout):
        try:
            p = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE, stderr=self.clients_log, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return "error"
        return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else "error"

    def machine(self):
        def cmd(*c):
            try:
                return subprocess.run(c, capture_output=True, text=True).stdout.strip()
            except OSError:
                return "?"
        model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
        self.info("cpu", f"{os.cpu_count()} x {model}")
        self.info("memory", f"{int(mem) // 1024 // 1024} GiB")
        self.info("kernel", platform.release())
        self.info("mosquitto", cmd("dpkg-query", "-W", "-f", "${Version}", "mosquitto"))
        self.info("libmosquitto", cmd("dpkg-query", "-W", "-f", "${Version}", "libmosquitto1"))
        self.info("paho", cmd("dpkg-query", "-W", "-f", "${Version}", "libpaho-mqtt1.3"))
        self.info("openssl", cmd("openssl", "version"))
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
        self.info("java", java[0] if java else "?")
        self.info("rustc", cmd("rustc", "--version"))
        self.info("etkmqtt", cmd("git", "describe", "--always", "--dirty"))
        self.info("date", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        self.info("mode", "quick" if self.quick else "full")

    def loadavg(self, when):
        self.info(f"loadavg_{when}", open("/proc/loadavg").read().split()[:3])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--classpath", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default="tput,paced,slow,durable,memory,misc")
    p.add_argument("--library", nargs=2, action="append", default=[], metavar=("NAME", "PATH"))
    args = p.parse_args()
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    started = time.time()
    try:
        bench.machine()
        bench.start_broker()
        for section in args.only.split(","):
            t0 = time.time()
            bench.loadavg(f"before_{section}")
            getattr(bench, f"section_{section}")()
            bench.record("info", "seconds", section, round(time.time() - t0))
            bench.write_csv()
        bench.loadavg("end")
        bench.record("info", "seconds", "total", round(time.time() - started))
    finally:
        bench.stop()
        bench.write_csv()


if __name__ == "__main__":
    main()
