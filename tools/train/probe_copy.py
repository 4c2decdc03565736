"""Does a served model copy values from its prompt?  The weather round trip for many cities.

    /usr/bin/python3 tools/train/probe_copy.py --model models/dsv4-mini [--ckpt CKPT]

Serves MODEL (or, with --ckpt, a training checkpoint exported next to MODEL's tokenizer) with
`dsv4 serve`, asks "What's the weather in CITY?" with a get_weather tool through the OpenAI
API (greedy, thinking on and off) for Paris, cities of the training corpus and cities kept
out of it (make_data.probe_city), sends a tool result with a random temperature back and
checks the answer.  Prints, per group, how many tool calls named the asked city and how many
answers repeat the city and the temperature of the result.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_data  # noqa: E402

TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}


def post(url, body):
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)["choices"][0]


def round_trip(url, city, think, temp):
    ask = {"role": "user", "content": f"What's the weather in {city}?"}
    base = {"model": "deepseek-v4-flash", "temperature": 0, "max_tokens": 120,
            "thinking": {"type": "enabled" if think else "disabled"}, "tools": [TOOL]}
    c1 = post(url, {**base, "messages": [ask]})
    calls = c1["message"].get("tool_calls") or []
    if not calls:
        return None, None
    try:
        arg = json.loads(calls[0]["function"]["arguments"]).get("city")
    except (ValueError, AttributeError):
        arg = None
    result = json.dumps({"city": city, "temperature_c": temp, "condition": "cloudy"})
    c2 = post(url, {**base, "messages": [ask, c1["message"],
                                         {"role": "tool", "tool_call_id": calls[0]["id"], "content": result}]})
    return arg, c2["message"].get("content") or ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/dsv4-mini")
    ap.add_argument("--ckpt", default="", help="export this training checkpoint first")
    ap.add_argument("--dsv4", default="build/apps/dsv4/dsv4")
    ap.add_argument("-n", type=int, default=12, help="cities per group")
    ap.add_argument("--show", action="store_true", help="print every exchange")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    model = args.model
    if args.ckpt:
        model = os.path.join(tmp, "model")
        subprocess.run([sys.executable, os.path.join(HERE, "export.py"), "--ckpt", args.ckpt,
                        "--out", model], check=True, stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(args.model, "tokenizer.json"), model)
    port_file = os.path.join(tmp, "port")
    server = subprocess.Popen([args.dsv4, "serve", "--model", model, "--port", "0",
                               "--port-file", port_file], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        url = "http://127.0.0.1:" + open(port_file).read().strip()
        rng = random.Random(7)
        tz = make_data.tz_cities()
        seen = make_data.training_cities()
        groups = {"Paris": ["Paris"],
                  "training cities": rng.sample(seen, args.n),
                  "held-out cities": rng.sample([c for c in tz if make_data.probe_city(c)], args.n)}
        for think in (False, True):
            for name, cities in groups.items():
                ok_call = ok_city = ok_temp = 0
                for city in cities:
                    temp = rng.randint(-9, 35)
                    arg, answer = round_trip(url, city, think, temp)
                    ok_call += arg == city
                    ok_city += answer is not None and city in answer
                    ok_temp += answer is not None and str(temp) in answer
                    if args.show:
                        print(f"  {city!r} {temp}: call {arg!r} -> {answer!r}")
                n = len(cities)
                print(f"thinking {'on ' if think else 'off'} {name:16s} call city {ok_call}/{n}  "
                      f"answer city {ok_city}/{n}  answer temperature {ok_temp}/{n}", flush=True)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
