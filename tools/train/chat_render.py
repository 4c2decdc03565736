"""Render OpenAI-style conversations to DeepSeek-V4 prompt text (chat-format.md §2.3-§2.8).

The subset the training data uses: system (+ tools), user, assistant (reasoning, content,
tool_calls), tool results; thinking and chat mode; drop_thinking as the reference decides it.
The fixed strings (BOS, tools block, ...) are read from the C++ encoder's header
src/tokenizer/chat_format.h, so there is one copy of the training-format text; make_data.py
cross-checks a sample against `dsv4 tokenize --chat` (the C++ encoder) token for token.
"""
import json
import os
import re

_HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "tokenizer",
                       "chat_format.h")


def _load_constants():
    text = open(_HEADER, encoding="utf-8").read()
    out = {}
    for m in re.finditer(r'inline constexpr std::string_view (k\w+)\s*=\s*((?:"(?:[^"\\]|\\.)*"\s*)+);',
                         text):
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))
        s = "".join(parts)
        s = re.sub(r'\\(.)', lambda e: {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}[e.group(1)], s)
        out[m.group(1)] = s
    return out


K = _load_constants()
BOS, EOS, USER, ASSISTANT = K["kBos"], K["kEos"], K["kUser"], K["kAssistant"]
THINK_OPEN, THINK_CLOSE, DSML = K["kThinkOpen"], K["kThinkClose"], K["kDsml"]
SPECIAL_TOKENS = [BOS, EOS, USER, ASSISTANT, THINK_OPEN, THINK_CLOSE, DSML, K["kReminder"]]


def dumps(v):
    """The reference's json.dumps(value, ensure_ascii=False) (§2.10)."""
    return json.dumps(v, ensure_ascii=False)


def tools_block(tools):
    return K["kToolsBlockHead"] + "\n".join(dumps(t["function"]) for t in tools) + K["kToolsBlockTail"]


def dsml_calls(calls):
    invokes = []
    for c in calls:
        args = json.loads(c["function"]["arguments"])
        params = []
        for k, v in args.items():
            if isinstance(v, str):
                params.append(f'<{DSML}parameter name="{k}" string="true">{v}</{DSML}parameter>')
            else:
                params.append(f'<{DSML}parameter name="{k}" string="false">{dumps(v)}</{DSML}parameter>')
        invokes.append(f'<{DSML}invoke name="{c["function"]["name"]}">\n' + "\n".join(params)
                       + f"\n</{DSML}invoke>")
    return f"\n\n<{DSML}tool_calls>\n" + "\n".join(invokes) + f"\n</{DSML}tool_calls>"


def render(messages, thinking, tools=None):
    """messages: list of {role, content, [reasoning_content], [tool_calls], [tool_call_id]}
    (tool results in call order) -> prompt text, BOS first."""
    msgs = [dict(m) for m in messages]
    if tools:
        if msgs and msgs[0]["role"] == "system":
            msgs[0]["tools"] = tools
        else:
            msgs.insert(0, {"role": "system", "content": "", "tools": tools})
    merged = []
    for m in msgs:   # tool results and user text join the preceding user-with-blocks entry
        if m["role"] in ("tool", "user"):
            block = ("<tool_result>" + m["content"] + "</tool_result>") if m["role"] == "tool" \
                else m["content"]
            if merged and merged[-1]["role"] == "user":
                merged[-1]["blocks"].append(block)
            else:
                merged.append({"role": "user", "blocks": [block]})
        else:
            merged.append(m)
    drop = not tools
    last_user = max((i for i, m in enumerate(merged) if m["role"] == "user"), default=-1)
    out = [BOS]
    for i, m in enumerate(merged):
        role = m["role"]
        if role == "system":
            s = m.get("content") or ""
            if m.get("tools"):
                s += "\n\n" + tools_block(m["tools"])
            out.append(s)
        elif role == "user":
            out.append(USER + "\n\n".join(m["blocks"]))
        elif role == "assistant":
            tc = dsml_calls(m["tool_calls"]) if m.get("tool_calls") else ""
            think = ""
            if thinking and (not drop or i > last_user):
                think = (m.get("reasoning_content") or "") + THINK_CLOSE
            out.append(think + (m.get("content") or "") + tc + EOS)
        nxt = merged[i + 1]["role"] if i + 1 < len(merged) else None
        if role == "user" and nxt in (None, "assistant"):
            out.append(ASSISTANT + (THINK_OPEN if thinking and (not drop or i >= last_user)
                                    else THINK_CLOSE))
    return "".join(out)
