#!/usr/bin/env bash
# nats-cluster.sh - run a local N-node JetStream cluster of separate nats-server
# processes on loopback, for testing against "external" servers.
#
# Usage:
#   scripts/nats-cluster.sh start BIN DIR [N]   start N nodes (default 3) of BIN,
#                                               state/configs/logs in DIR; waits until the
#                                               cluster is ready (see Readiness below)
#                                               and prints the comma-separated client
#                                               URLs as the LAST line of stdout.
#   scripts/nats-cluster.sh stop DIR            kill all nodes started in DIR, remove DIR.
#   scripts/nats-cluster.sh status DIR          print one line per node (exit 1 if any is down).
#
# Environment:
#   NATS_CLUSTER_TIMEOUT  seconds to wait for readiness per attempt (default 30)
#   NATS_CLUSTER_ATTEMPTS start attempts (default 3): a start that is not ready
#                         in time (or where a node dies, e.g. a port was taken)
#                         is torn down and redone with fresh ports and state;
#                         the failed attempt's logs are kept in DIR/failed-K/
#   NATS_CLUSTER_NAME     cluster name (default "kvh")
#   NATS_CLUSTER_STAGGER  1 (default): start node i+1 only after node i accepts
#                         client connections; 0: start all nodes at once
#   NATS_CLUSTER_VERBOSE  1: log each readiness condition still being waited for
#   NATS_CLUSTER_EXTRA_CONF text appended verbatim to every node's config
#                         (e.g. $'debug: true\nlogtime: true')
#
# Files written into DIR:
#   .nats-cluster         marker (stop refuses to rm -rf a DIR without it)
#   nX.conf nX.log nX.pid config, combined stdout/stderr log, pid of node X
#   nX/jetstream/         JetStream store of node X
#   urls                  comma-separated client URLs (same as the last stdout line)
#   nodes.env             NODE<i>_CLIENT/CLUSTER/MONITOR ports, N, BIN (shell-sourceable)
#
# Ports are obtained from the kernel (bind to port 0) so nothing is hard-coded.
# Readiness (with python3): all nodes alive and /healthz ok, all agree on one
# JetStream meta leader, the leader's /jsz shows cluster_size=N with all N-1
# peers current, an R=N probe stream can be created and deleted, and
# $JS.API.INFO answers on every node. Without python3 only healthz + an agreed
# meta leader are checked.
# Why stagger + retry: with nats-server v2.10.27 a fresh 3-node cluster sometimes
# (~7% of simultaneous starts here, ~3% staggered) forms a meta group of size 2
# that never admits the third node (still so after > 3 min); /healthz is "ok"
# on every node, but R3 placement fails with "no suitable peers for placement".
# v2.11.17 and v2.15.2 did not show this. Hence the strict readiness check and
# the automatic redo of a stalled start.
# Requires: bash, curl; python3 recommended (port picking falls back to /proc).
set -euo pipefail

MARKER=".nats-cluster"

die() { echo "nats-cluster: $*" >&2; exit 1; }
log() { echo "nats-cluster: $*" >&2; }

usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2
  exit 2
}

# free_ports COUNT -> prints COUNT distinct free TCP ports on 127.0.0.1, one per line.
free_ports() {
  local count=$1
  if command -v python3 >/dev/null 2>&1 && python3 - "$count" <<'EOF' 2>/dev/null
import socket, sys
n = int(sys.argv[1])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
  then
    return 0
  fi
  # Fallback: random ports from the ephemeral range not currently in /proc/net/tcp{,6}.
  local used picked=() p tries=0
  used=$(awk 'NR>1 {split($2,a,":"); print strtonum("0x" a[2])}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
  while [ "${#picked[@]}" -lt "$count" ]; do
    tries=$((tries + 1)); [ "$tries" -lt 10000 ] || die "could not find free ports"
    p=$((20000 + RANDOM % 30000))
    if grep -qx "$p" <<<"$used"; then continue; fi
    if printf '%s\n' "${picked[@]:-}" | grep -qx "$p"; then continue; fi
    picked+=("$p")
  done
  printf '%s\n' "${picked[@]}"
}

http_get() { curl -fsS --max-time 2 "$1" 2>/dev/null; }

# pid_alive PID CONF -> true if PID is running and its command line mentions CONF
# (guards against pid reuse).
pid_alive() {
  local pid=$1 conf=$2
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$conf" || return 1
  fi
  return 0
}

# pids_of DIR -> "pid conf" per node that has a pid file
node_list() {
  local dir=$1 f
  for f in "$dir"/n*.pid; do
    [ -e "$f" ] || continue
    echo "$(cat "$f" 2>/dev/null) ${f%.pid}.conf"
  done
}

stop_nodes() {
  local dir=$1 pid conf alive waited
  local -a pids=()
  while read -r pid conf; do
    [ -n "$pid" ] || continue
    if pid_alive "$pid" "$conf"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid:$conf")
    fi
  done < <(node_list "$dir")
  [ "${#pids[@]}" -gt 0 ] || return 0
  waited=0
  while :; do
    alive=0
    for e in "${pids[@]}"; do
      if pid_alive "${e%%:*}" "${e#*:}"; then alive=1; fi
    done
    [ "$alive" = 1 ] || break
    if [ "$waited" -ge 100 ]; then   # 10s grace, then SIGKILL
      for e in "${pids[@]}"; do
        if pid_alive "${e%%:*}" "${e#*:}"; then
          log "node pid ${e%%:*} did not exit on SIGTERM, sending SIGKILL"
          kill -KILL "${e%%:*}" 2>/dev/null || true
        fi
      done
      sleep 0.2
      break
    fi
    sleep 0.1; waited=$((waited + 1))
  done
}

cmd_start() {
  [ $# -ge 2 ] && [ $# -le 3 ] || usage
  local bin=$1 dir=$2 n=${3:-3}
  local attempts=${NATS_CLUSTER_ATTEMPTS:-3}

  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "N must be a positive integer, got '$n'"
  [[ "$attempts" =~ ^[0-9]+$ ]] && [ "$attempts" -ge 1 ] || die "NATS_CLUSTER_ATTEMPTS must be >= 1"
  if [[ "$bin" != */* ]]; then bin=$(command -v "$bin") || die "binary not found: $1"; fi
  [ -x "$bin" ] || die "not an executable: $bin"
  bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
  command -v curl >/dev/null 2>&1 || die "curl is required"

  if [ -e "$dir" ]; then
    [ -d "$dir" ] || die "$dir exists and is not a directory"
    if [ -e "$dir/$MARKER" ]; then
      local pid conf
      while read -r pid conf; do
        if pid_alive "$pid" "$conf"; then die "a cluster is already running in $dir (pid $pid); stop it first"; fi
      done < <(node_list "$dir")
      log "removing stale cluster state in $dir"
      rm -rf -- "$dir"
    elif [ -n "$(ls -A "$dir")" ]; then
      die "$dir is not empty and was not created by this script"
    fi
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  : >"$dir/$MARKER"

  # If start is interrupted, do not leave half a cluster running.
  trap 'stop_nodes "$dir"; exit 130' INT TERM
  local a urls
  for ((a = 1; a <= attempts; a++)); do
    if urls=$(start_attempt "$bin" "$dir" "$n"); then
      trap - INT TERM
      echo "$urls" >"$dir/urls"
      echo "$urls"
      return 0
    fi
    stop_nodes "$dir"
    mkdir -p "$dir/failed-$a"
    mv "$dir"/n*.log "$dir"/n*.conf "$dir/nodes.env" "$dir/failed-$a/" 2>/dev/null || true
    rm -rf -- "$dir"/n[0-9]* 2>/dev/null || true
    if [ "$a" -lt "$attempts" ]; then
      log "attempt $a/$attempts failed (logs kept in $dir/failed-$a); retrying with fresh ports and state"
    fi
  done
  trap - INT TERM
  die "cluster did not become ready in $attempts attempt(s); logs in $dir/failed-*; run '$0 stop $dir' to clean up"
}

# start_attempt BIN DIR N: one try; prints URLs on success, returns 1 on failure
# (nodes may still be running then; the caller stops them).
start_attempt() {
  local bin=$1 dir=$2 n=$3
  local timeout=${NATS_CLUSTER_TIMEOUT:-30}
  local cname=${NATS_CLUSTER_NAME:-kvh}
  local stagger=${NATS_CLUSTER_STAGGER:-1}

  # 3 ports per node: client, cluster (route), monitoring (http).
  local -a ports
  mapfile -t ports < <(free_ports $((3 * n)))
  [ "${#ports[@]}" -eq $((3 * n)) ] || { log "could not allocate ports"; return 1; }

  local -a cport rport mport
  local i
  for ((i = 1; i <= n; i++)); do
    cport[i]=${ports[3 * (i - 1)]}
    rport[i]=${ports[3 * (i - 1) + 1]}
    mport[i]=${ports[3 * (i - 1) + 2]}
  done

  local routes="" urls=""
  for ((i = 1; i <= n; i++)); do
    routes+="    \"nats-route://127.0.0.1:${rport[i]}\""$'\n'
    urls+="${urls:+,}nats://127.0.0.1:${cport[i]}"
  done

  {
    echo "N=$n"
    echo "BIN='$bin'"
    echo "URLS='$urls'"
    for ((i = 1; i <= n; i++)); do
      echo "NODE${i}_CLIENT=${cport[i]} NODE${i}_CLUSTER=${rport[i]} NODE${i}_MONITOR=${mport[i]}"
    done
  } >"$dir/nodes.env"

  for ((i = 1; i <= n; i++)); do
    mkdir -p "$dir/n$i/jetstream"
    {
      echo "server_name: \"n$i\""
      echo "listen: \"127.0.0.1:${cport[i]}\""
      echo "http: \"127.0.0.1:${mport[i]}\""
      echo "jetstream {"
      echo "  store_dir: \"$dir/n$i/jetstream\""
      echo "}"
      if [ "$n" -gt 1 ]; then
        echo "cluster {"
        echo "  name: \"$cname\""
        echo "  listen: \"127.0.0.1:${rport[i]}\""
        echo "  routes: ["
        printf '%s' "$routes"
        echo "  ]"
        echo "}"
      fi
      if [ -n "${NATS_CLUSTER_EXTRA_CONF:-}" ]; then printf '%s\n' "$NATS_CLUSTER_EXTRA_CONF"; fi
    } >"$dir/n$i.conf"
  done

  # Start nodes. stdin/stdout/stderr are detached from the caller so that
  # e.g. URLS=$(nats-cluster.sh start ...) does not hang on the servers' fds.
  # (SIGHUP only makes nats-server reload its config, so no nohup is needed.)
  # Unless NATS_CLUSTER_STAGGER=0, node i+1 is started once node i accepts clients.
  local t
  for ((i = 1; i <= n; i++)); do
    "$bin" -c "$dir/n$i.conf" </dev/null >>"$dir/n$i.log" 2>&1 &
    echo $! >"$dir/n$i.pid"
    if [ "$stagger" != 0 ] && [ "$i" -lt "$n" ]; then
      for ((t = 0; t < 100; t++)); do   # up to ~10s
        if (exec 3<>"/dev/tcp/127.0.0.1/${cport[i]}") 2>/dev/null; then break; fi
        kill -0 "$(cat "$dir/n$i.pid")" 2>/dev/null || break
        sleep 0.1
      done
    fi
  done
  log "started $n node(s) of $bin ($("$bin" --version 2>/dev/null || echo '?')) in $dir"

  local leader="" rc=0
  if command -v python3 >/dev/null 2>&1; then
    local -a pids=()
    for ((i = 1; i <= n; i++)); do pids+=("$(cat "$dir/n$i.pid")"); done
    leader=$(python3 - "$timeout" "$n" "$(IFS=,; echo "${mport[*]}")" \
      "$(IFS=,; echo "${cport[*]}")" "$(IFS=,; echo "${pids[*]}")" <<'EOF'
import json, os, socket, sys, time, urllib.request, urllib.error, random, string

timeout, n = float(sys.argv[1]), int(sys.argv[2])
mports = sys.argv[3].split(","); cports = sys.argv[4].split(","); pids = sys.argv[5].split(",")
t0 = time.time(); deadline = t0 + timeout
verbose = os.environ.get("NATS_CLUSTER_VERBOSE", "") not in ("", "0")
last = "starting"

def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=2) as r:
            return json.loads(r.read().decode())
    except urllib.error.HTTPError as e:  # healthz answers 503 + JSON body when unhealthy
        raise RuntimeError("%s on :%s -> %s %s" % (path, port, e.code, e.read().decode(errors="replace").strip()))

def alive(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return True

def js_request(port, subject, payload):
    """Minimal NATS client: one request/reply, returns reply payload (bytes) or raises."""
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    f = s.makefile("rb")
    try:
        if not f.readline().startswith(b"INFO"):
            raise RuntimeError("no INFO")
        inbox = "_INBOX." + "".join(random.choice(string.ascii_letters) for _ in range(16))
        body = json.dumps(payload).encode()
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"name":"nats-cluster.sh"}\r\n'
                  + ("SUB %s 1\r\n" % inbox).encode()
                  + ("PUB %s %s %d\r\n" % (subject, inbox, len(body))).encode() + body + b"\r\nPING\r\n")
        while True:
            line = f.readline()
            if not line:
                raise RuntimeError("connection closed")
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise RuntimeError(line.decode().strip())
            elif line.startswith(b"MSG"):
                size = int(line.split()[-1]); data = f.read(size + 2)[:-2]
                return data
            elif line.startswith(b"HMSG"):
                parts = line.split(); hlen, tlen = int(parts[-2]), int(parts[-1])
                data = f.read(tlen + 2)[:-2]
                raise RuntimeError("status reply: " + data[:hlen].decode(errors="replace").split("\r\n")[0])
    finally:
        s.close()

probed = False
shrunk = 0
ppid = os.getppid()
while time.time() < deadline:
    if os.getppid() != ppid:
        sys.exit(3)  # nats-cluster.sh was killed
    try:
        for i, pid in enumerate(pids):
            if not alive(pid):
                print("node n%d (pid %s) exited" % (i + 1, pid), file=sys.stderr)
                sys.exit(2)
        for p in mports:
            h = get(p, "/healthz")
            if h.get("status") != "ok":
                raise RuntimeError("healthz on :%s: %s" % (p, h))
        leader = ""
        if n > 1:
            leaders = set()
            for p in mports:
                mc = get(p, "/jsz").get("meta_cluster") or {}
                leaders.add(mc.get("leader", ""))
            if len(leaders) != 1 or "" in leaders:
                raise RuntimeError("meta leaders seen: %s" % sorted(leaders))
            leader = leaders.pop()
            lp = mports[int(leader[1:]) - 1] if leader[1:].isdigit() else mports[0]
            mc = get(lp, "/jsz").get("meta_cluster") or {}
            reps = mc.get("replicas") or []
            # v2.10 stall: the first meta leader shrinks the group below N and
            # never re-admits the missing node. Give up early so we can redo.
            cs = mc.get("cluster_size")
            if isinstance(cs, int) and cs < n:
                shrunk = shrunk or time.time()
                if time.time() - shrunk > 5:
                    print("meta group stuck at cluster_size=%d < %d (known nats-server v2.10 startup race)" % (cs, n), file=sys.stderr)
                    sys.exit(1)
            else:
                shrunk = 0
            if mc.get("cluster_size") != n or len(reps) != n - 1 or not all(r.get("current") and not r.get("offline") for r in reps):
                raise RuntimeError("meta peers not all current: size=%s replicas=%s" % (mc.get("cluster_size"), reps))
        if not probed:
            name = "NATS_CLUSTER_PROBE_" + "".join(random.choice(string.ascii_uppercase) for _ in range(8))
            cfg = {"name": name, "subjects": ["nats-cluster-probe." + name], "storage": "memory", "num_replicas": n}
            r = json.loads(js_request(cports[0], "$JS.API.STREAM.CREATE." + name, cfg))
            if "error" in r:
                raise RuntimeError("probe stream create: %s" % r["error"])
            r = json.loads(js_request(cports[0], "$JS.API.STREAM.DELETE." + name, {}))
            if "error" in r:
                raise RuntimeError("probe stream delete: %s" % r["error"])
            probed = True
        for p in cports:  # every node answers JetStream API requests
            r = json.loads(js_request(p, "$JS.API.INFO", {}))
            if "error" in r:
                raise RuntimeError("$JS.API.INFO via :%s: %s" % (p, r["error"]))
        print(leader or "-")
        sys.exit(0)
    except SystemExit:
        raise
    except Exception as e:
        if verbose and str(e) != last:
            print("nats-cluster: [%.1fs] waiting: %s" % (time.time() - t0, e), file=sys.stderr)
        last = str(e)
    time.sleep(0.2)
print("not ready; last condition: %s" % last, file=sys.stderr)
sys.exit(1)
EOF
    ) || rc=$?
  else
    log "python3 not found: readiness = healthz + agreed meta leader only (no placement probe)"
    local deadline=$((SECONDS + timeout)) ready l body pid
    while :; do
      ready=1; leader=""
      for ((i = 1; i <= n; i++)); do
        read -r pid <"$dir/n$i.pid"
        if ! pid_alive "$pid" "$dir/n$i.conf"; then log "node n$i exited"; rc=2; break 2; fi
        if ! http_get "http://127.0.0.1:${mport[i]}/healthz" | grep -q '"ok"'; then ready=0; break; fi
        if [ "$n" -gt 1 ]; then
          body=$(http_get "http://127.0.0.1:${mport[i]}/jsz") || { ready=0; break; }
          l=$(printf '%s' "$body" | tr -d '\n' | grep -o '"meta_cluster": *{[^}]*}' |
            grep -o '"leader": *"[^"]*"' | head -n1 | sed 's/.*: *"\(.*\)"/\1/') || true
          if [ -z "$l" ]; then ready=0; break; fi
          if [ -z "$leader" ]; then leader=$l; elif [ "$l" != "$leader" ]; then ready=0; break; fi
        fi
      done
      [ "$ready" = 1 ] && break
      if [ "$SECONDS" -ge "$deadline" ]; then log "not ready after ${timeout}s"; rc=1; break; fi
      sleep 0.2
    done
    [ "$rc" -ne 0 ] || sleep 1  # let the meta leader learn every peer's stats before placement
  fi
  if [ "$rc" -ne 0 ]; then
    for ((i = 1; i <= n; i++)); do log "--- n$i.log (tail)"; tail -n 5 "$dir/n$i.log" >&2 || true; done
    return 1
  fi
  if [ "$n" -gt 1 ]; then log "cluster ready, JetStream meta leader: $leader"; else log "server ready"; fi
  echo "$urls"
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local dir=$1
  [ -e "$dir" ] || { log "$dir does not exist, nothing to stop"; return 0; }
  [ -e "$dir/$MARKER" ] || die "$dir was not created by this script (no $MARKER), refusing to touch it"
  stop_nodes "$dir"
  rm -rf -- "$dir"
  log "stopped and removed $dir"
}

cmd_status() {
  [ $# -eq 1 ] || usage
  local dir=$1 pid conf bad=0 name
  [ -e "$dir/$MARKER" ] || die "no cluster in $dir"
  while read -r pid conf; do
    name=$(basename "$conf" .conf)
    if pid_alive "$pid" "$conf"; then echo "$name pid=$pid up"; else echo "$name pid=$pid down"; bad=1; fi
  done < <(node_list "$dir")
  return "$bad"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  *) usage ;;
esac
