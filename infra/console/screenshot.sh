#!/usr/bin/env bash
# Takes a screenshot of the operator console of a running silo, logged in, in Debian's headless Chromium driven by
# Debian's chromedriver over the W3C WebDriver protocol (curl + jq; no browser download). How the README's pictures
# are made:
#   bash infra/console/screenshot.sh docs/console/console-demo.png [--collection debian] [--window 15] [--search "query"]
#     [--url http://127.0.0.1:8080] [--token-file /var/lib/orleans-embeddings/operator-token] [--wait 8] [--size 1400,2000]
# --window picks the online figures' period in minutes (15, 60, 360 or 1440); --search runs a search over the split.
set -euo pipefail

out=${1:?usage: screenshot.sh <out.png> [--collection C] [--window MINUTES] [--search QUERY] [--url URL] [--token-file F] [--wait SECONDS] [--size W,H]}
shift
url=http://127.0.0.1:8080
token_file=/var/lib/orleans-embeddings/operator-token
collection=
window=
query=
wait=8
size=1400,2000
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --token-file) token_file=$2; shift 2 ;;
    --collection) collection=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --search) query=$2; shift 2 ;;
    --wait) wait=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    *) echo "screenshot.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

for tool in chromium chromedriver curl jq; do
  command -v "$tool" >/dev/null || { echo "screenshot.sh: $tool is missing (apt-get install -y chromium chromium-driver curl jq)" >&2; exit 1; }
done
[ -s "$token_file" ] || { echo "screenshot.sh: no operator token in $token_file" >&2; exit 1; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
profile=$(mktemp -d)
chromedriver --port="$port" >/dev/null 2>&1 &
driver_pid=$!
trap 'kill "$driver_pid" 2>/dev/null || true; rm -rf "$profile"' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/status" >/dev/null && break
  sleep 0.1
done

webdriver() { # <method> <path> [json body]
  local answer
  answer=$(curl -sS -X "$1" "http://127.0.0.1:$port$2" -H 'Content-Type: application/json' ${3:+--data "$3"})
  if [ "$(jq -r '.value.error? // empty' <<<"$answer")" != "" ]; then
    echo "screenshot.sh: $1 $2: $(jq -r '.value.message' <<<"$answer" | head -n 1)" >&2
    exit 1
  fi
  printf '%s' "$answer"
}
element() { webdriver POST "/session/$session/element" "$(jq -nc --arg css "$1" '{using: "css selector", value: $css}')" | jq -r '.value | to_entries[0].value'; }

capabilities=$(jq -nc --arg profile "$profile" --arg size "$size" '{capabilities: {alwaysMatch: {"goog:chromeOptions": {binary: "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--window-size=\($size)",
         "--force-device-scale-factor=1", "--lang=en-GB", "--user-data-dir=\($profile)"]}}}}')
session=$(webdriver POST /session "$capabilities" | jq -r '.value.sessionId')
webdriver POST "/session/$session/url" "$(jq -nc --arg url "$url/console/" '{url: $url}')" >/dev/null
webdriver POST "/session/$session/element/$(element '#token')/value" "$(jq -nc --rawfile token "$token_file" '{text: ($token | rtrimstr("\n"))}')" >/dev/null
webdriver POST "/session/$session/element/$(element '#login-button')/click" '{}' >/dev/null
# Sets a form control as a user would, with the event the page listens to.
set_control() { # <id> <value> <event>
  webdriver POST "/session/$session/execute/sync" "$(jq -nc --arg id "$1" --arg v "$2" --arg e "$3" \
    '{script: "const c = document.getElementById(arguments[0]); c.value = arguments[1]; c.dispatchEvent(new Event(arguments[2], {bubbles: true, cancelable: true}));", args: [$id, $v, $e]}')" >/dev/null
}
sleep 2
if [ -n "$collection" ]; then
  set_control collection "$collection" change
  sleep 2
fi
if [ -n "$window" ]; then
  set_control window "$window" change
fi
if [ -n "$query" ]; then
  webdriver POST "/session/$session/element/$(element '#search-query')/value" "$(jq -nc --arg q "$query" '{text: $q}')" >/dev/null
  webdriver POST "/session/$session/element/$(element '#search-button')/click" '{}' >/dev/null
fi
sleep "$wait"
if [ "$(webdriver POST "/session/$session/execute/sync" '{"script": "return document.getElementById(\"app\").hidden", "args": []}' | jq -r .value)" = "true" ]; then
  echo "screenshot.sh: the console did not log in with the token in $token_file" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
webdriver GET "/session/$session/screenshot" | jq -r .value | base64 -d > "$out"
webdriver DELETE "/session/$session" >/dev/null
echo "screenshot.sh: wrote $out" >&2
