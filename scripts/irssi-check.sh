#!/usr/bin/env bash
# Drives irssi (Debian's) against epchat's IRC listener under tmux, with a line-protocol user in the
# same rooms, and prints what both saw (docs/irc.md records a run). Needs: irssi, tmux, node, a built
# addon (npm run build:native) and dist/ (npx tsc -p .).
#   scripts/irssi-check.sh [OUTDIR]      (default: a new temporary directory, printed at the end)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$(mktemp -d /tmp/epchat-irssi.XXXXXX)}"
mkdir -p "$OUT/irssi" "$OUT/data"
SOCK="$OUT/tmux.sock"
PORTS="$(node -e "const n=require('net');const a=n.createServer().listen(0,'127.0.0.1',()=>{const b=n.createServer().listen(0,'127.0.0.1',()=>{console.log(a.address().port+' '+b.address().port);a.close();b.close();});});")"
LINE_PORT="${PORTS% *}"; IRC_PORT="${PORTS#* }"
SERVER_PID=""; LINE_PID=""
cleanup() {
  tmux -S "$SOCK" kill-server 2>/dev/null || true
  [ -n "$LINE_PID" ] && kill "$LINE_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

node "$ROOT/bin/epchat.js" --host 127.0.0.1 --port "$LINE_PORT" --irc-host 127.0.0.1 --irc-port "$IRC_PORT" \
  --data-dir "$OUT/data" --log-format json --no-console > "$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q "IRC listening" "$OUT/server.log" 2>/dev/null && break; sleep 0.1; done
grep -q "IRC listening" "$OUT/server.log" || { echo "epchat did not start:"; cat "$OUT/server.log"; exit 1; }

# A line-protocol user: liner, in room "one" (created first so irssi joins an existing room).
mkfifo "$OUT/line.in"
( exec 3>"$OUT/line.in"; sleep 30 ) &
FIFO_HOLDER=$!
node -e "const s=require('net').connect($LINE_PORT,'127.0.0.1');process.stdin.pipe(s);s.pipe(process.stdout);s.on('close',()=>process.exit(0));" \
  < "$OUT/line.in" > "$OUT/line.out" 2>&1 &
LINE_PID=$!
exec 4>"$OUT/line.in"
printf 'liner\n/create one\n' >&4

cat > "$OUT/irssi/config" <<CFG
settings = {
  core = { real_name = "Irssi Tester"; user_name = "tester"; nick = "irssiuser"; };
  "irc/core" = { cmd_queue_speed = "100msec"; cmds_max_at_once = "10"; };
  "fe-common/core" = { autolog = "yes"; autolog_path = "$OUT/irssi/logs/\$0.log"; autolog_level = "all"; };
};
CFG
tmux -S "$SOCK" new-session -d -s irssi -x 160 -y 50 \
  "irssi --home='$OUT/irssi' -n irssiuser -c 127.0.0.1 -p $IRC_PORT"
key() { tmux -S "$SOCK" send-keys -t irssi "$1" Enter; sleep "${2:-1}"; }
sleep 3
key "/window log on $OUT/irssi/status.log"
key "/join #one" 1
key "/join #two" 1
# Each channel finishes syncing (MODE, WHO, MODE b answered): irssi says "Join to #x was synced".
for _ in $(seq 60); do
  [ "$(cat "$OUT"/irssi/logs/*.log "$OUT/irssi/status.log" 2>/dev/null | grep -c 'was synced')" -ge 2 ] && break
  sleep 0.5
done
key "/names #one"
key "/topic #one the topic set from irssi"
key "/msg #one hello from irssi"
key "/window goto #one"
key "/me waves from irssi"
printf 'hello irssi from the line\n/me nods\n' >&4
sleep 1
key "/msg liner a private hello"
printf '/msg irssiuser private reply\n' >&4
sleep 1
key "/part #two leaving two"
key "/window goto 1"
key "/rawlog save $OUT/irssi/raw.log"
tmux -S "$SOCK" capture-pane -p -t irssi -S - > "$OUT/screen.txt"
key "/quit bye from irssi" 2
printf '/quit\n' >&4
sleep 1
kill "$FIFO_HOLDER" 2>/dev/null || true

SYNCED="$(cat "$OUT"/irssi/logs/*.log "$OUT/irssi/status.log" 2>/dev/null | grep -c 'was synced' || true)"
echo "== channels synced: $SYNCED of 2"
echo "== irssi status window"; cat "$OUT/irssi/status.log" 2>/dev/null || true
for f in "$OUT"/irssi/logs/*.log; do echo "== irssi log $(basename "$f")"; cat "$f"; done
echo "== irssi raw log (what irssi sent and got)"; cat "$OUT/irssi/raw.log" 2>/dev/null || true
echo "== the line user saw"; cat "$OUT/line.out"
echo "== output in $OUT"
[ "$SYNCED" -ge 2 ] || { echo "FAIL: irssi did not finish syncing both channels"; exit 1; }
