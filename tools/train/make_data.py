"""Training corpus of dsv4-mini: Debian-packaged text + synthetic V4-format chats (fixed seed).

    /usr/bin/python3 tools/train/make_data.py --out /tmp/dsv4-mini/data

Sources (installed by tools/train/install-data-deps.sh): WordNet 3 glosses (wordnet-base), the
GNU Collaborative International Dictionary of English (dict-gcide), fortune cookies
(fortunes, fortunes-min; the offensive set is not used), the licence texts in
/usr/share/common-licenses.  Synthetic short stories (stories.py, --stories).  Synthetic chats
(chat_render.py, the exact V4 format): greetings, word definitions and synonyms from WordNet,
quotes from fortunes, small arithmetic, story requests (with --stories), and tool use over
calculator / get_weather / list_files (+ a few other simple tools), with and without thinking,
single and multi-turn.

Writes:  train.txt, heldout.txt — documents, each "BOS text EOS" (chats are rendered prompts
that already start with BOS), joined back to back (added tokens delimit them);
heldout-stories.txt — held-out stories (reported, not in the perplexity fixture);
docs.jsonl — {"kind", "text"} per document (for inspection and the tokenizer trainer).
Held-out documents are chosen by a hash of their text (never seen in training).
"""
import argparse
import glob
import gzip
import hashlib
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chat_render import BOS, EOS, render  # noqa: E402
from stories import ANIMALS, Stories  # noqa: E402

WN = "/usr/share/wordnet"
GCIDE = "/usr/share/dictd/gcide.dict.dz"
FORTUNES = "/usr/share/games/fortunes"
LICENSES = "/usr/share/common-licenses"
ZONEINFO = "/usr/share/zoneinfo"


# ----------------------------------------------------------------------------------------------
# Debian text
# ----------------------------------------------------------------------------------------------


def wordnet_synsets():
    """[(pos, [words], gloss, [examples])] from data.{noun,verb,adj,adv}."""
    out = []
    pos_name = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}
    for part in ("noun", "verb", "adj", "adv"):
        for line in open(os.path.join(WN, "data." + part), encoding="latin-1"):
            if line.startswith("  ") or "|" not in line:
                continue
            head, gloss = line.split("|", 1)
            f = head.split()
            n = int(f[3], 16)
            words = [re.sub(r"\(.*\)$", "", f[4 + 2 * i]).replace("_", " ") for i in range(n)]
            gloss = gloss.strip()
            examples = re.findall(r'"([^"]+)"', gloss)
            definition = re.split(r';\s*"', gloss)[0].strip().rstrip(";").strip()
            if definition:
                out.append((pos_name[part], words, definition, examples))
    return out


def gcide_entries():
    text = gzip.open(GCIDE, "rt", encoding="utf-8", errors="replace").read()
    start = text.find("\n\nA \\")
    entries = []
    for block in re.split(r"\n\n(?=\S)", text[start:]):
        block = block.strip()
        if len(block) < 40 or block.startswith(("00-", "Begin file", "End of file")):
            continue
        paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", block)]
        entries.append("\n".join(p for p in paras if p))
    return entries


def fortunes():
    out = []
    for path in sorted(glob.glob(os.path.join(FORTUNES, "*"))):
        if os.path.isdir(path) or path.endswith((".dat", ".u8")) or os.path.islink(path):
            continue
        raw = open(path, encoding="utf-8", errors="replace").read()
        for f in raw.split("\n%\n"):
            f = f.strip("%\n ").replace("\t", "    ")
            if 20 <= len(f) <= 600:
                out.append(f)
    return out


def licenses():
    out = []
    for name in ("GPL-3", "Apache-2.0", "MPL-2.0", "LGPL-2.1", "GFDL-1.3", "Artistic"):
        raw = open(os.path.join(LICENSES, name), encoding="utf-8", errors="replace").read()
        for para in re.split(r"\n\s*\n", raw):
            p = re.sub(r"[ \t]+", " ", para).strip()
            if len(p) > 80:
                out.append(p)
    return out


# ----------------------------------------------------------------------------------------------
# synthetic chats
# ----------------------------------------------------------------------------------------------

CITIES = ["Paris", "London", "Tokyo", "Berlin", "Rome", "Madrid", "Beijing", "Shanghai", "Sydney",
          "Cairo", "Moscow", "Toronto", "Chicago", "New York", "Lisbon", "Vienna", "Oslo",
          "Dublin", "Prague", "Seoul", "Mumbai", "Delhi", "Lima", "Nairobi", "Boston", "Athens",
          "Stockholm", "Warsaw", "Istanbul", "Bangkok", "Singapore", "Mexico City", "Amsterdam",
          "Helsinki", "Zurich", "Montreal", "Denver", "Seattle", "Hanoi", "Manila", "Budapest"]


def tz_cities():
    """City names from tzdata's zone names (Europe/Paris -> Paris, America/New_York -> New York):
    ~380 real cities, so a tool call must copy the city from the question rather than pick
    one of a few it has memorised."""
    out = set()
    for region in ("Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"):
        for f in glob.glob(os.path.join(ZONEINFO, region, "*")):
            name = os.path.basename(f).replace("_", " ")
            if os.path.isfile(f) and re.fullmatch(r"[A-Z][a-z]+( [A-Za-z][a-z]+)*", name):
                out.add(name)
    return sorted(out)


SYLLABLES = ["ka", "lo", "ver", "mi", "sa", "tor", "an", "del", "ri", "bo", "nu", "gel", "fa",
             "zen", "pa", "qu", "hal", "ost", "ben", "ira", "mon", "tel", "var", "wick", "dor"]


def made_up_city(rng):
    """A pronounceable name no corpus contains (Velmira, Kaltor): only copying gets it right."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def probe_city(name):
    """Cities kept out of training so the copy probe (probe_copy.py) tests generalisation."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:4], 16) % 10 == 0 and name != "Paris"


def training_cities():
    """The classic list and the tzdata cities, without the probe's held-out ones."""
    return [c for c in dict.fromkeys(CITIES + tz_cities()) if not probe_city(c)]


CONDITIONS = ["sunny", "cloudy", "partly cloudy", "rainy", "light rain", "snowy", "windy", "foggy",
              "clear", "stormy", "overcast", "drizzly"]
DIRS = ["/home/user", "/home/user/docs", "/tmp", "/etc", "/var/log", "/home/user/projects",
        "/home/user/music", "/srv/www", "/opt/app", "/home/user/photos", "src", ".", "docs"]
FILES = ["notes.txt", "report.pdf", "main.cc", "README.md", "config.json", "photo.jpg",
         "song.mp3", "todo.md", "data.csv", "index.html", "style.css", "app.py", "Makefile",
         "syslog", "hosts", "passwd", "build.sh", "test.log", "letter.doc", "image.png"]
SYSTEMS = ["", "You are a helpful assistant.", "You are a helpful assistant.",
           "You are dsv4-mini, a small assistant.", "Answer briefly.",
           "You are a friendly assistant that answers questions clearly."]
GREETINGS = [("Hi", "Hello! How can I help you today?"),
             ("Hello", "Hi there! How can I help you?"),
             ("Hello!", "Hello! What can I do for you?"),
             ("hey", "Hey! How can I help?"),
             ("Good morning", "Good morning! How can I help you today?"),
             ("How are you?", "I am doing well, thank you. How can I help you?"),
             ("Thanks!", "You are welcome!"),
             ("Thank you", "You are welcome. Is there anything else I can help with?"),
             ("Who are you?", "I am dsv4-mini, a very small language model with the DeepSeek-V4 "
                              "architecture. I was trained from scratch on dictionary text, quotes, "
                              "short stories and simple conversations, so I know only a little."),
             ("What can you do?", "I can tell short stories, define English words, give synonyms, "
                                  "share a quote, do simple arithmetic and call tools such as a calculator, a weather "
                                  "lookup or a file lister. I am a tiny model, so please check my "
                                  "answers."),
             ("What is your name?", "My name is dsv4-mini."),
             ("Bye", "Goodbye! Have a nice day."),
             ("Goodbye", "Goodbye!")]

def function_tool(name, description, properties, required):
    """An OpenAI-style function tool definition (key order as the chat encoder renders it)."""
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required}}}


TOOL_CALC = function_tool("calculator", "Evaluate an arithmetic expression",
                          {"expression": {"type": "string", "description": "The expression, e.g. 2 + 3 * 4"}},
                          ["expression"])
TOOL_WEATHER = function_tool("get_weather", "Get the current weather for a city",
                             {"city": {"type": "string", "description": "City name"}}, ["city"])
TOOL_WEATHER2 = function_tool("get_weather", "Get weather for a city",
                              {"city": {"type": "string"}, "days": {"type": "integer"}}, ["city"])
TOOL_LS = function_tool("list_files", "List the files in a directory",
                        {"path": {"type": "string", "description": "Directory path"}}, ["path"])
TOOL_TIME = function_tool("get_time", "Get the current time in a city", {"city": {"type": "string"}}, ["city"])
TOOL_DEFINE = function_tool("lookup_word", "Look up the definition of an English word",
                            {"word": {"type": "string"}}, ["word"])
ALL_TOOLS = [TOOL_CALC, TOOL_WEATHER, TOOL_LS, TOOL_TIME, TOOL_DEFINE]


def call(name, args):
    return {"id": "call_" + name, "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}


class Gen:
    def __init__(self, rng, synsets, quotes, copy_tasks=True, stories=False):
        self.rng = rng
        self.stories = Stories(rng) if stories else None
        self.copy_tasks = copy_tasks
        self.classic = [c for c in CITIES if not probe_city(c)]
        self.cities = training_cities()
        self.synsets = [s for s in synsets if len(s[2]) < 160]
        self.quotes = [q for q in quotes if len(q) < 300]

    def city(self):
        """A city for a tool episode: the classic list, any tzdata city, or a made-up name."""
        if not self.copy_tasks:
            return self.rng.choice(CITIES)
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice(self.classic)
        if r < 0.75:
            return self.rng.choice(self.cities)
        while probe_city(c := made_up_city(self.rng)):
            pass
        return c

    # --- single exchanges: (user, reasoning, answer) ---------------------------------------

    def echo(self):
        """Repeat a word or phrase of the question: trains the copying that tool arguments
        and answers need (the city of a weather question, the word to define)."""
        if self.rng.random() < 0.5:
            words = [self.rng.choice(self.synsets)[1][0] for _ in range(self.rng.randint(1, 4))]
            x = " ".join(words)
        else:
            x = self.city()
        q, a = self.rng.choice([(f"Repeat after me: {x}", x), (f"Say \"{x}\".", x),
                                (f"Please repeat: {x}", x), (f"Echo {x}", x),
                                (f"Can you say {x}?", f"Sure: {x}")])
        return q, f"The user wants me to repeat \"{x}\".", a

    def greeting(self):
        u, a = self.rng.choice(GREETINGS)
        return u, "The user greets me or asks about me. I answer politely and briefly.", a

    def define(self):
        pos, words, gloss, ex = self.rng.choice(self.synsets)
        w = words[0]
        q = self.rng.choice([f"What does \"{w}\" mean?", f"Define {w}.", f"What is the meaning of {w}?",
                             f"What is a {w}?" if pos == "noun" else f"What does {w} mean?",
                             f"Explain the word \"{w}\".", f"define: {w}"])
        a = f"\"{w}\" ({pos}) means: {gloss}."
        if ex and self.rng.random() < 0.5:
            a += f" For example: \"{ex[0]}\"."
        if len(words) > 1 and self.rng.random() < 0.5:
            a += " Similar words: " + ", ".join(words[1:4]) + "."
        r = f"The user asks what \"{w}\" means. It is a {pos}: {gloss}."
        return q, r, a

    def synonym(self):
        cands = [s for s in (self.rng.choice(self.synsets) for _ in range(20)) if len(s[1]) > 1]
        pos, words, gloss, _ = cands[0] if cands else self.rng.choice(self.synsets)
        w = words[0]
        q = self.rng.choice([f"Give me a synonym for {w}.", f"What is another word for {w}?",
                             f"Synonyms of {w}?"])
        if len(words) > 1:
            a = f"Another word for \"{w}\" is \"{words[1]}\"."
            if len(words) > 2:
                a += " Others: " + ", ".join(words[2:5]) + "."
        else:
            a = f"I do not know a close synonym for \"{w}\". It means: {gloss}."
        return q, f"Words with the same sense as {w}: {', '.join(words)}.", a

    def quote(self):
        q = self.rng.choice(["Tell me a quote.", "Give me a fortune cookie.", "Say something wise.",
                             "Tell me something interesting.", "Can you share a quote?",
                             "I need some inspiration."])
        return q, "The user wants a quote. I pick one I know.", self.rng.choice(self.quotes)

    def arithmetic(self):
        a, b = self.rng.randint(0, 99), self.rng.randint(0, 99)
        op = self.rng.choice(["+", "-", "*"])
        v = a + b if op == "+" else a - b if op == "-" else a * b
        word = {"+": "plus", "-": "minus", "*": "times"}[op]
        q = self.rng.choice([f"What is {a} {op} {b}?", f"What is {a} {word} {b}?",
                             f"Compute {a}{op}{b}", f"{a} {op} {b} = ?"])
        return q, f"{a} {word} {b} is {v}.", f"{a} {op} {b} = {v}."

    def story(self):
        """A story on request, often about a named hero the user chooses (copied into the story)."""
        st = self.stories
        if self.rng.random() < 0.3:
            q = self.rng.choice(["Tell me a story.", "Can you tell me a short story?",
                                 "Tell me a bedtime story.", "I want to hear a story."])
            return q, "The user wants a short story. I will tell a simple one.", st.story()[0]
        name = st.hero()["name"]
        kind = self.rng.choice(["girl", "boy"] + ANIMALS)
        q = self.rng.choice([f"Tell me a story about a {kind} named {name}.",
                             f"Write a short story about {name} the {kind}.",
                             f"Can you tell me a story about {name}, a little {kind}?",
                             f"Story about a {kind} called {name}, please."])
        text, _ = st.story(name=name, kind=kind)
        return q, f"The user wants a story about a {kind} named {name}. I will tell a simple one.", text

    def simple(self):
        kinds, weights = [self.greeting, self.define, self.synonym, self.quote, self.arithmetic], [2, 5, 2, 2, 2]
        if self.copy_tasks:
            kinds, weights = kinds + [self.echo], weights + [3]
        if self.stories:
            kinds, weights = kinds + [self.story], weights + [4]
        f = self.rng.choices(kinds, weights=weights)[0]
        return f()

    # --- tool episodes: list of messages after the user question -----------------------------

    def weather_episode(self, tool):
        city = self.city()
        q = self.rng.choice([f"What's the weather in {city}?", f"What is the weather like in {city}?",
                             f"How is the weather in {city} today?", f"Weather in {city}?",
                             f"Is it raining in {city}?", f"Tell me the weather in {city}.",
                             f"what's the weather in {city}", f"Do I need an umbrella in {city}?"])
        t = self.rng.randint(-10, 35)
        cond = self.rng.choice(CONDITIONS)
        result = self.rng.choice([json.dumps({"city": city, "temperature_c": t, "condition": cond}),
                                  f"{cond.capitalize()}, {t}°C", f"{t} C, {cond}"])
        args = {"city": city}
        if tool is TOOL_WEATHER2 and self.rng.random() < 0.3:
            args["days"] = self.rng.randint(1, 5)
        answer = self.rng.choice([f"It is currently {cond} in {city}, with a temperature of {t}°C.",
                                  f"The weather in {city} is {cond} and {t}°C.",
                                  f"In {city} it is {t}°C and {cond} right now."])
        if "umbrella" in q or "raining" in q:
            wet = any(w in cond for w in ("rain", "storm", "drizzl"))
            answer = (f"Yes, it is {cond} in {city} ({t}°C)." if wet else
                      f"No, it is {cond} in {city} ({t}°C), so you should be fine.")
        return q, "get_weather", args, result, \
            f"The user wants the weather in {city}. I will call get_weather with city {city}.", \
            f"The tool says {cond}, {t}°C in {city}.", answer

    def calc_episode(self, tool):
        a, b = self.rng.randint(2, 999), self.rng.randint(2, 99)
        op = self.rng.choice(["+", "-", "*", "/"])
        expr = f"{a} {op} {b}"
        v = eval(expr)
        v = round(v, 4) if op == "/" else v
        q = self.rng.choice([f"What is {expr}?", f"Calculate {expr}.", f"Can you compute {expr}?",
                             f"Use the calculator: {expr}"])
        return q, "calculator", {"expression": expr}, str(v), \
            f"I should use the calculator for {expr}.", f"The calculator returned {v}.", \
            f"{expr} = {v}."

    def ls_episode(self, tool):
        path = self.rng.choice(DIRS)
        files = sorted(self.rng.sample(FILES, self.rng.randint(0, 5)))
        q = self.rng.choice([f"What files are in {path}?", f"List the files in {path}.",
                             f"Show me the contents of {path}.", f"ls {path}"])
        result = "\n".join(files) if files else "(empty)"
        answer = (f"The directory {path} contains: {', '.join(files)}." if files
                  else f"The directory {path} is empty.")
        return q, "list_files", {"path": path}, result, \
            f"The user wants to see the files in {path}. I will call list_files.", \
            f"The listing has {len(files)} entries.", answer

    def time_episode(self, tool):
        city = self.city()
        hh, mm = self.rng.randint(0, 23), self.rng.randint(0, 59)
        q = self.rng.choice([f"What time is it in {city}?", f"Current time in {city}?"])
        return q, "get_time", {"city": city}, f"{hh:02d}:{mm:02d}", \
            f"I need the time in {city}; I will call get_time.", f"It is {hh:02d}:{mm:02d}.", \
            f"It is {hh:02d}:{mm:02d} in {city}."

    def lookup_episode(self, tool):
        pos, words, gloss, _ = self.rng.choice(self.synsets)
        w = words[0]
        q = self.rng.choice([f"Look up the word {w}.", f"Use the dictionary to define {w}."])
        return q, "lookup_word", {"word": w}, f"{w} ({pos}): {gloss}", \
            f"The user wants a dictionary lookup of {w}.", "The dictionary answered.", \
            f"\"{w}\" ({pos}): {gloss}."

    EPISODES = {"get_weather": "weather_episode", "calculator": "calc_episode",
                "list_files": "ls_episode", "get_time": "time_episode", "lookup_word": "lookup_episode"}

    def tool_chat(self):
        """A conversation with tools in the system prompt: 1-2 tool episodes, maybe a
        question that needs no tool."""
        n = self.rng.randint(1, 4)
        tools = self.rng.sample(ALL_TOOLS, n)
        if TOOL_WEATHER not in tools and self.rng.random() < 0.6:
            tools.insert(self.rng.randint(0, len(tools)), TOOL_WEATHER)
        if self.rng.random() < 0.25:
            tools = [TOOL_WEATHER2 if t is TOOL_WEATHER else t for t in tools]
        thinking = self.rng.random() < 0.6
        msgs = []
        sysmsg = self.rng.choice(SYSTEMS)
        if sysmsg or self.rng.random() < 0.3:
            msgs.append({"role": "system", "content": sysmsg})
        for turn in range(self.rng.choice([1, 1, 1, 2, 2, 3])):
            if self.rng.random() < 0.2:          # no tool needed
                u, r, a = self.simple()
                msgs += [{"role": "user", "content": u},
                         {"role": "assistant", "reasoning_content": r, "content": a}]
                continue
            t = self.rng.choice(tools)
            name = t["function"]["name"]
            q, fn, args, result, r1, r2, answer = getattr(self, self.EPISODES[name])(t)
            pre = self.rng.choice(["", "", "", "Let me check.", "I will look that up."])
            msgs += [{"role": "user", "content": q},
                     {"role": "assistant", "reasoning_content": r1, "content": pre,
                      "tool_calls": [call(fn, args)]},
                     {"role": "tool", "tool_call_id": "call_" + fn, "content": result},
                     {"role": "assistant", "reasoning_content": r2, "content": answer}]
        # clients often do not send reasoning back: historical turns with empty reasoning
        if self.rng.random() < 0.3:
            for m in msgs[:-1]:
                if m["role"] == "assistant":
                    m["reasoning_content"] = ""
        return msgs, thinking, tools

    def plain_chat(self):
        thinking = self.rng.random() < 0.5
        msgs = []
        sysmsg = self.rng.choice(SYSTEMS)
        if sysmsg:
            msgs.append({"role": "system", "content": sysmsg})
        for _ in range(self.rng.choice([1, 1, 2, 2, 3, 4])):
            u, r, a = self.simple()
            msgs += [{"role": "user", "content": u},
                     {"role": "assistant", "reasoning_content": r, "content": a}]
        return msgs, thinking, None


def repeat_doc(g):
    """A list of words, cities and made-up names, then the same list again: half of its tokens
    can only be predicted by looking back (an induction head), a skill the tool arguments need
    and that ordinary text teaches slowly.  Short enough that the copy lies inside the 64-token
    sliding window."""
    items = []
    for _ in range(g.rng.randint(2, 7)):
        r = g.rng.random()
        items.append(g.rng.choice(g.synsets)[1][0] if r < 0.4 else g.city() if r < 0.8
                     else str(g.rng.randint(-20, 999)))
    lst = ", ".join(items)
    form = g.rng.randrange(3)
    if form == 0:
        return f"{lst}. Again: {lst}."
    if form == 1:
        return f"List: {lst}\nThe same list: {lst}"
    return f"{lst} | {lst}"


# ----------------------------------------------------------------------------------------------


def is_heldout(text, frac):
    h = int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16)
    return h < frac * 2 ** 32


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20260424)
    ap.add_argument("--plain-chats", type=int, default=30000)
    ap.add_argument("--tool-chats", type=int, default=24000)
    ap.add_argument("--repeat-docs", type=int, default=120000, help="repeated-list documents")
    ap.add_argument("--repeat-only", action="store_true",
                    help="a corpus of repeated-list documents alone (a short copying curriculum)")
    ap.add_argument("--no-copy-tasks", action="store_true",
                    help="the first corpus (41 cities, no echo task; use --tool-chats 14000): "
                         "the model trained on it did not learn to copy the city of a question")
    ap.add_argument("--stories", type=int, default=0,
                    help="synthetic short stories (stories.py), and story requests in the chats")
    ap.add_argument("--wordnet", type=int, default=60000, help="WordNet synsets as text")
    ap.add_argument("--gcide", type=int, default=25000, help="dictionary entries used")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)

    synsets = wordnet_synsets()
    quotes = fortunes()
    docs = []
    for pos, words, gloss, ex in rng.sample(synsets, min(args.wordnet, len(synsets))):
        t = f"{words[0]} ({pos}): {gloss}."
        if len(words) > 1:
            t += " Also: " + ", ".join(words[1:]) + "."
        for e in ex[:2]:
            t += f" \"{e}\""
        docs.append(("wordnet", t))
    gc = gcide_entries()
    rng.shuffle(gc)
    docs += [("gcide", e) for e in gc[:args.gcide]]
    docs += [("fortune", q) for q in quotes]
    docs += [("license", p) for p in licenses()]
    text_docs = [(k, BOS + t + EOS) for k, t in docs]
    if args.repeat_only:
        args.plain_chats = args.tool_chats = 0
        text_docs = []
    if not args.no_copy_tasks:
        # After the other documents so the rng draws for them stay as in the first corpus.
        g0 = Gen(rng, synsets, quotes)
        text_docs += [("repeat", BOS + repeat_doc(g0) + EOS) for _ in range(args.repeat_docs)]
    # merge short text docs into longer ones so sequences hold several related documents
    g = Gen(rng, synsets, quotes, copy_tasks=not args.no_copy_tasks, stories=args.stories > 0)
    text_docs += [("story", BOS + g.stories.story()[0] + EOS) for _ in range(args.stories)]
    chat_docs = [("chat", render(*g.plain_chat())) for _ in range(args.plain_chats)]
    chat_docs += [("tool_chat", render(*g.tool_chat())) for _ in range(args.tool_chats)]
    all_docs = text_docs + chat_docs
    rng.shuffle(all_docs)

    train, held, held_stories = [], [], []
    for k, t in all_docs:
        (held if k in ("fortune", "gcide", "wordnet") and is_heldout(t, 0.01) else
         held_stories if k == "story" and is_heldout(t, 0.01) else train).append((k, t))
    with open(os.path.join(args.out, "train.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t for _, t in train))
    with open(os.path.join(args.out, "heldout.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t for _, t in held))
    with open(os.path.join(args.out, "heldout-stories.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t for _, t in held_stories))
    with open(os.path.join(args.out, "docs.jsonl"), "w", encoding="utf-8") as f:
        for k, t in train:
            f.write(json.dumps({"kind": k, "text": t}, ensure_ascii=False) + "\n")
    stats = {}
    for k, t in train:
        s = stats.setdefault(k, [0, 0])
        s[0] += 1
        s[1] += len(t)
    for k, (n, c) in sorted(stats.items()):
        print(f"{k:10s} {n:7d} docs {c / 1e6:7.2f} M chars")
    print(f"heldout {len(held)} docs {sum(len(t) for _, t in held) / 1e6:.2f} M chars")


if __name__ == "__main__":
    main()
