# Shared by scripts/demo and scripts/test-all: install what is missing.
# Sourced, not run.

# ensure_tools CMD:PACKAGE... installs the Debian packages of missing commands
# (as root), or says exactly what is missing.
ensure_tools() {
    local missing_packages=() missing_commands=() pair cmd pkg
    for pair in "$@"; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -e "$cmd" ]; then
            missing_commands+=("$cmd")
            missing_packages+=("$pkg")
        fi
    done
    [ ${#missing_packages[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing: ${missing_packages[*]}" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_packages[@]}" >/dev/null
    else
        echo "missing commands: ${missing_commands[*]}" >&2
        echo "install the Debian packages: sudo apt-get install ${missing_packages[*]}" >&2
        exit 1
    fi
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "missing: the Rust toolchain (cargo); install it with rustup (https://rustup.rs)" >&2
        exit 1
    fi
}

# The tools every build needs.
ensure_build_tools() {
    ensure_rust
    ensure_tools javac:openjdk-17-jdk-headless ecj:ecj gradle:gradle pkg-config:pkg-config \
        /usr/include/openssl/ssl.h:libssl-dev openssl:openssl \
        /usr/sbin/mosquitto:mosquitto mosquitto_sub:mosquitto-clients
}

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
