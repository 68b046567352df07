#!/usr/bin/env bash
# ctest entry point of the dashboard test in headless Chromium (test dashboard_in_chromium).
#
#   bash tests/browser/run.sh BIN_DIR SOURCE_DIR
#     BIN_DIR     the build's bin dir (iota-orchestrator, iota-kafka-mock, iota-instance)
#     SOURCE_DIR  the repository (templates/, tests/browser/)
#
# Starts ZooKeeper, mosquitto, the Kafka stand-in and the daemon as scripts/demo does (free
# loopback ports, a temp dir, the repo's templates, local driver with reference workers) on a
# small inventory (300 Things, 50 Rules, fixed ids), waits for /readyz, then runs
# `node --test tests/browser/dashboard.test.mjs` against the dashboard. The screenshot lands in
# $PWD/dashboard.png (ctest runs this in the build's tests dir). Everything started here is
# stopped by PID on exit. Installs nothing but tests/browser/node_modules (`npm ci`); the Debian
# packages (chromium, nodejs) come from scripts/deps. Exit code: the node test's.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BIN_DIR SOURCE_DIR" >&2
  exit 2
fi
bin=$(cd "$1" && pwd)
root=$(cd "$2" && pwd)
out_dir=$PWD
browser_dir="$root/tests/browser"
log() { echo "dashboard_in_chromium: $*" >&2; }

# --- What the test needs on the machine: missing means FAIL, never a silent skip. ---
chromium_bin=${IOTA_CHROMIUM:-/usr/bin/chromium}
missing=0
if [ ! -x "$chromium_bin" ]; then
  log "FAIL: Chromium not found at $chromium_bin (Debian package 'chromium'; run scripts/deps)"
  missing=1
fi
for tool in node npm java mosquitto curl python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "FAIL: '$tool' not found on PATH (run scripts/deps)"
    missing=1
  fi
done
for b in iota-orchestrator iota-kafka-mock iota-instance; do
  if [ ! -x "$bin/$b" ]; then
    log "FAIL: $bin/$b missing (build it first)"
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 1
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  log "FAIL: node $(node --version) is too old; the test needs node >= 20 (node:test)"
  exit 1
fi

if [ ! -d "$browser_dir/node_modules/playwright-core" ]; then
  log "installing playwright-core (npm ci) in $browser_dir"
  (cd "$browser_dir" && npm ci --no-audit --no-fund) >&2
fi

rm -f "$out_dir/dashboard.png"  # never leave an earlier run's picture as this run's artifact
work=$(mktemp -d /tmp/iota-browser.XXXXXX)
pids=()
names=()
cleanup() {
  local status=$?
  trap - INT TERM EXIT
  # Reverse start order. The daemon stops its workers itself on SIGTERM; note them first so
  # that any worker left over (daemon killed after its grace) is still ended by its PID.
  local workers=()
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    local pid=${pids[$i]}
    if [ "${names[$i]}" = daemon ]; then
      mapfile -t workers < <(pgrep -P "$pid" 2>/dev/null || true)
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "${names[$i]} (pid $pid) still running 30 s after SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    if [ "${names[$i]}" = daemon ]; then
      for w in "${workers[@]}"; do
        if kill -0 "$w" 2>/dev/null; then
          log "worker pid $w outlived the daemon: SIGKILL"
          kill -KILL -- "-$w" 2>/dev/null || kill -KILL "$w" 2>/dev/null || true
        fi
      done
    fi
  done
  if [ -s "$work/dashboard.png" ]; then
    cp "$work/dashboard.png" "$out_dir/dashboard.png" && log "screenshot: $out_dir/dashboard.png"
  fi
  if [ "$status" -eq 0 ]; then
    rm -rf "$work"
  else
    log "FAILED (exit $status); logs kept in $work"
    for f in "$work/daemon.log" "$work/zk/out.log" "$work/mqtt/mosquitto.log" "$work/kafka.log"; do
      [ -s "$f" ] || continue
      echo "----- last lines of $f -----" >&2
      tail -n 30 "$f" >&2
    done
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {  # start NAME COMMAND... (output to the caller's redirections)
  local name=$1; shift
  "$@" &
  pids+=($!)
  names+=("$name")
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local t=$1 what=$2; shift 2
  for _ in $(seq 1 $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "$what did not come up within $t s"
  return 1
}

# ZooKeeper (Debian's server, started directly: zkEnv.sh insists on /var/log/zookeeper).
zk_port=$(free_port)
mkdir -p "$work/zk/data"
cat > "$work/zk/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work/zk/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr,stat
maxSessionTimeout=120000
CFG
start zookeeper java -Xmx512m -Dzookeeper.log.dir="$work/zk" \
  -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$work/zk/zoo.cfg" >"$work/zk/out.log" 2>&1
wait_for 90 ZooKeeper bash -c "exec 3<>/dev/tcp/127.0.0.1/$zk_port; echo ruok >&3; timeout 2 cat <&3 | grep -q imok"

# mosquitto: a persistent broker that never drops a queued QoS 1 message.
mqtt_port=$(free_port)
mkdir -p "$work/mqtt"
cat > "$work/mqtt/mosquitto.conf" <<CFG
listener $mqtt_port 127.0.0.1
allow_anonymous true
max_queued_messages 0
max_inflight_messages 0
persistence true
persistence_location $work/mqtt/
log_dest file $work/mqtt/mosquitto.log
user root
CFG
start mosquitto mosquitto -c "$work/mqtt/mosquitto.conf" >"$work/mqtt/out.log" 2>&1
wait_for 30 mosquitto bash -c "exec 3<>/dev/tcp/127.0.0.1/$mqtt_port"

# The Kafka stand-in: librdkafka's mock cluster, speaking the Kafka protocol.
start kafka-mock "$bin/iota-kafka-mock" --bootstrap-file "$work/kafka.bootstrap" >"$work/kafka.log" 2>&1
wait_for 30 "the Kafka stand-in" test -s "$work/kafka.bootstrap"
kafka=$(cat "$work/kafka.bootstrap")

# A small inventory with fixed UUID-like ids (seeded, so the ids are the same every run).
python3 - "$work" 300 50 <<'PY'
import sys, uuid, random
work, things, rules = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
for name, n in (("Thing", things), ("Rule", rules)):
    with open(f"{work}/{name}.txt", "w") as f:
        for _ in range(n):
            f.write(str(uuid.UUID(int=rnd.getrandbits(128), version=4)) + "\n")
PY
lookup_id=$(sed -n 150p "$work/Thing.txt")

http_port=$(free_port)
# Writes need a bearer token (SPEC 15): the page must ask for it and send it.
api_token="browser-test-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
printf '# the dashboard test\n%s\n' "$api_token" > "$work/tokens"
cat > "$work/config.yml" <<CFG
zookeeper: "127.0.0.1:$zk_port"
mqtt: { brokers: "mqtt://127.0.0.1:$mqtt_port", clientId: "iota-orchestrator-browser-test", journalDir: ./journal }
kafka: { brokers: "$kafka" }
http: { listen: "127.0.0.1:$http_port", tokensFile: "$work/tokens" }
driver: local
localDriver: { logDir: ./instances, binDir: "$bin" }
templatesPath: "$root/templates"
liveness: { heartbeatPeriod: 90s, podCheckPeriod: 60s, gracePeriod: 90s }
resources:
  - resource: Thing
    instanceName: iota-dac
    heart: true
    initInstances: 10
    dependsOn: [ProtocolMeta, DeviceMeta]
    inventory: { file: ./Thing.txt }
  - resource: Rule
    instanceName: iota-rules-engine
    heart: false
    initInstances: 10
    inventory: { file: ./Rule.txt }
CFG

start daemon bash -c 'cd "$1" && exec "$2/iota-orchestrator" --config "$1/config.yml"' _ "$work" "$bin" \
  >"$work/daemon.log" 2>&1
api="http://127.0.0.1:$http_port"
wait_for 120 "the daemon (/readyz)" curl -sf "$api/readyz"
log "daemon ready at $api/ (work dir $work)"

# The browser test. Bounded here too, so that the trap still runs well inside ctest's TIMEOUT.
started=$(date +%s)
set +e
(
  cd "$root"
  IOTA_DASHBOARD_URL="$api/" \
  IOTA_LOOKUP_ID="$lookup_id" \
  IOTA_API_TOKEN="$api_token" \
  IOTA_EXPECT_INSTANCES=10 \
  IOTA_SCREENSHOT="$work/dashboard.png" \
  IOTA_CHROMIUM="$chromium_bin" \
    timeout -k 10 300 node --test --test-reporter=spec tests/browser/dashboard.test.mjs
)
status=$?
set -e
log "node test finished in $(( $(date +%s) - started )) s with exit code $status"
exit "$status"
