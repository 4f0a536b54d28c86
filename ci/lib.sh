# Shared shell helpers of the ci/ scripts (sourced, not executed).
# shellcheck shell=bash

# Messages go to stderr so that stdout stays usable for command output.
log() { printf '[%s] %s\n' "${CI_NAME:-ci}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now: seconds since the epoch with nanoseconds (for timings).
now() { date +%s.%N; }

# elapsed START: seconds since START, one decimal.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# timed NAME CMD...: runs CMD, records "NAME<TAB>seconds<TAB>rc" in CI_TIMINGS and
# returns CMD's exit status (the caller decides whether it is fatal).
# When CMD is a shell function and CI_STEP_SCRIPT names the calling script, the function runs in a
# fresh `bash CI_STEP_SCRIPT --step CMD...` process: bash ignores `set -e` inside functions called
# from `if`/`||`/`&&` (and in their subshells), a fresh process restores it.
CI_TIMINGS=()
timed() {
    local name=$1 t0 rc
    shift
    t0=$(now)
    log "--> $name"
    set +e
    if [ -n "${CI_STEP_SCRIPT:-}" ] && declare -F "$1" >/dev/null; then
        "${BASH:-bash}" "$CI_STEP_SCRIPT" --step "$@"
    else
        "$@"
    fi
    rc=$?
    set -e
    CI_TIMINGS+=("$name"$'\t'"$(elapsed "$t0")"$'\t'"$rc")
    log "<-- $name: $(elapsed "$t0") s (exit $rc)"
    return "$rc"
}

# print_timings: the table of every timed step.
print_timings() {
    local row
    [ "${#CI_TIMINGS[@]}" -gt 0 ] || return 0
    printf '%-44s %9s %5s\n' step seconds exit >&2
    for row in "${CI_TIMINGS[@]}"; do
        IFS=$'\t' read -r -a f <<<"$row"
        printf '%-44s %9s %5s\n' "${f[0]}" "${f[1]}" "${f[2]}" >&2
    done
}

# dockerfile_base DOCKERFILE: the default of its `ARG BASE=...` line.
dockerfile_base() {
    sed -n 's/^ARG[[:space:]]\{1,\}BASE=\([^[:space:]]\{1,\}\).*/\1/p' "$1" | head -n 1
}

# have_image NAME: true when the engine has the image.
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# host_ca_bundle: the CA bundle the host's pip/curl trust (empty if none).
host_ca_bundle() {
    local f
    for f in "${PIP_CERT:-}" "${SSL_CERT_FILE:-}" "${REQUESTS_CA_BUNDLE:-}" /etc/ssl/certs/ca-certificates.crt; do
        if [ -n "$f" ] && [ -f "$f" ]; then
            printf '%s\n' "$f"
            return 0
        fi
    done
}
