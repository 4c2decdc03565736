#!/usr/bin/env bash
# The tool-calling round trip of the model card: serves a model, asks "What's the weather in
# Paris?" with a get_weather tool through the OpenAI API (greedy), prints the tool call,
# sends a tool result back, prints the answer. Same for the Anthropic API.
#   tools/train/demo_weather.sh [MODEL_DIR] [thinking: enabled|disabled]
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-models/dsv4-mini}
THINK=${2:-enabled}
tmp=$(mktemp -d)
${DSV4:-build/apps/dsv4/dsv4} serve --model "$MODEL" --port 0 --port-file "$tmp/port" >"$tmp/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$tmp/port")"
tool='{"type":"function","function":{"name":"get_weather","description":"Get the current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}}}'
ask='{"role":"user","content":"What'"'"'s the weather in Paris?"}'
body="{\"model\":\"deepseek-v4-flash\",\"temperature\":0,\"max_tokens\":200,\"thinking\":{\"type\":\"$THINK\"},\"tools\":[$tool],\"messages\":[$ask]}"
echo "== OpenAI: first turn"
r1=$(curl -s "$url/v1/chat/completions" -H 'content-type: application/json' -d "$body")
echo "$r1" | jq '.choices[0] | {finish_reason, message}'
call=$(echo "$r1" | jq -c '.choices[0].message.tool_calls[0] // empty')
if [ -n "$call" ]; then
  id=$(echo "$call" | jq -r .id)
  msg=$(echo "$r1" | jq -c '.choices[0].message')
  body2="{\"model\":\"deepseek-v4-flash\",\"temperature\":0,\"max_tokens\":200,\"thinking\":{\"type\":\"$THINK\"},\"tools\":[$tool],\"messages\":[$ask,$msg,{\"role\":\"tool\",\"tool_call_id\":\"$id\",\"content\":\"{\\\"city\\\": \\\"Paris\\\", \\\"temperature_c\\\": 18, \\\"condition\\\": \\\"cloudy\\\"}\"}]}"
  echo "== OpenAI: after the tool result"
  curl -s "$url/v1/chat/completions" -H 'content-type: application/json' -d "$body2" |
    jq '.choices[0] | {finish_reason, message}'
fi
echo "== Anthropic: first turn"
atool='{"name":"get_weather","description":"Get the current weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}}'
curl -s "$url/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
  -d "{\"model\":\"deepseek-v4-flash\",\"max_tokens\":200,\"temperature\":0,\"tools\":[$atool],\"messages\":[$ask]}" |
  jq '{stop_reason, content}'
