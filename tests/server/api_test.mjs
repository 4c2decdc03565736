// API tests of `dsv4 serve` with the official clients (`openai`, `@anthropic-ai/sdk`):
// starts the server on a free loopback port with the bundled tiny model and a test
// tokenizer, checks both surfaces (streaming and not, usage, thinking, cache hits on a
// repeated prefix, tool histories), error cases with the server still serving after them,
// client disconnects cancelling generation, and a clean SIGTERM shutdown.
// Usage: node api_test.mjs DSV4_BINARY SOURCE_DIR
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {startServer, testModel, tokenId} from './serve_fixture.mjs';

const [binary, source] = process.argv.slice(2);
const here = path.dirname(new URL(import.meta.url).pathname);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dsv4-server-test-'));
const model = testModel(source, work);
// A context limit that the long-prompt check can exceed cheaply.
const CONTEXT = 16384;

const KEY = 'sk-dsv4-test';
const KEY2 = 'sk-dsv4-second';
const served = await startServer(binary, [...model.args, '--max-context', String(CONTEXT),
                                          '--api-key', `${KEY},${KEY2}`,
                                          '--max-body-mb', '1', '--prefix-cache-mb', '256',
                                          '--max-concurrent-per-key', '3'], model.cwd);
const server = served.child;
const exited = served.exited;
const port = served.port;
const base = `http://127.0.0.1:${port}`;
const openai = new OpenAI({baseURL: `${base}/v1`, apiKey: KEY, maxRetries: 0});
const anthropic = new Anthropic({baseURL: base, apiKey: KEY, maxRetries: 0});

let failures = 0;
async function check(name, fn) {
  let timer;
  // A check that stalls fails (with the server log) instead of hanging the whole run.
  const stalled = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('check did not finish within 120 s')), 120_000);
  });
  try {
    await Promise.race([fn(), stalled]);
    console.log(`ok   ${name}`);
  } catch (e) {
    ++failures;
    console.log(`FAIL ${name}\n${e.stack || e}`);
  } finally {
    clearTimeout(timer);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const hello = [{role: 'user', content: 'Hello there'}];
// Long generations that must not end early: EOS (id 1) is never sampled.
const NO_EOS = {'1': -100};

function checkOpenAIUsage(u, thinking) {
  assert.equal(u.prompt_tokens, u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens);
  assert.equal(u.prompt_tokens_details.cached_tokens, u.prompt_cache_hit_tokens);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.ok(u.prompt_tokens > 0);
  if (thinking) assert.equal(typeof u.completion_tokens_details.reasoning_tokens, 'number');
  else assert.equal(u.completion_tokens_details, undefined);
}

async function raw(pathname, body, headers = {}) {
  const res = await fetch(base + pathname, {
    method: 'POST',
    headers: {'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers},
    body,
  });
  return {status: res.status, body: await res.json()};
}

async function metric(name) {
  const text = await (await fetch(`${base}/metrics`, {headers: {authorization: `Bearer ${KEY}`}})).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  assert.ok(m, `no ${name} in /metrics`);
  return Number(m[1]);
}

// ---------------------------------------------------------------- probes and models
await check('serve without --model serves the bundled model', async () => {
  // The log arrives through a pipe: give it a moment rather than racing the port file.
  for (let i = 0; i < 50 && !/listening on/.test(served.log()); ++i) await new Promise((r) => setTimeout(r, 100));
  if (model.trained) assert.match(served.log(), /listening on .*\(model models\/dsv4-mini\)/);
});

await check('health and HEAD / answer without a key', async () => {
  assert.equal((await fetch(`${base}/health`)).status, 200);
  assert.equal((await fetch(`${base}/`, {method: 'HEAD'})).status, 200);
});

await check('models.list names the DeepSeek models', async () => {
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  for (const id of ['deepseek-v4-flash', 'deepseek-v4-pro', 'deepseek-chat', 'deepseek-reasoner']) {
    assert.ok(ids.includes(id), id);
  }
  const plain = await fetch(`${base}/models`, {headers: {authorization: `Bearer ${KEY}`}});
  assert.equal((await plain.json()).object, 'list');
});

// ---------------------------------------------------------------- OpenAI surface
const greedy = {model: 'deepseek-chat', messages: hello, max_tokens: 12, temperature: 0, logit_bias: NO_EOS};
let greedyText = '';
await check('chat completion (deepseek-chat: no thinking), finish length, usage', async () => {
  const r = await openai.chat.completions.create(greedy);
  assert.match(r.id, UUID);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'deepseek-chat');
  const c = r.choices[0];
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.content, 'string');
  assert.equal(c.message.reasoning_content, undefined);
  assert.equal(c.finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 12);
  checkOpenAIUsage(r.usage, false);
  greedyText = c.message.content;
});

await check('streaming chat matches the non-streaming text; usage on the finish chunk', async () => {
  const stream = await openai.chat.completions.create(
      {...greedy, stream: true, stream_options: {include_usage: true}});
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const last = chunks.at(-1);
  assert.equal(last.choices[0].finish_reason, 'length');
  checkOpenAIUsage(last.usage, false);
  assert.equal(last.usage.completion_tokens, 12);
  for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, greedyText);
});

await check('logprobs and top_logprobs, streamed and not', async () => {
  const r = await openai.chat.completions.create({...greedy, logprobs: true, top_logprobs: 2});
  const entries = r.choices[0].logprobs.content;
  assert.equal(entries.length, r.usage.completion_tokens);
  for (const e of entries) {
    assert.ok(e.logprob <= 0);
    assert.equal(typeof e.token, 'string');
    assert.ok(Array.isArray(e.bytes));
    assert.equal(e.top_logprobs.length, 2);
    assert.ok(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob);
    assert.ok(e.logprob <= e.top_logprobs[0].logprob + 1e-6);  // greedy: the top one
  }
  assert.equal(entries.map((e) => e.token).join(''), r.choices[0].message.content);
  const s = await openai.chat.completions.create(
      {...greedy, logprobs: true, stream: true, stream_options: {include_usage: true}});
  let n = 0, usage;
  for await (const chunk of s) {
    n += chunk.choices[0]?.logprobs?.content?.length ?? 0;
    usage = chunk.usage ?? usage;
  }
  assert.equal(n, usage.completion_tokens);
  const plain = await openai.chat.completions.create(greedy);
  assert.equal(plain.choices[0].logprobs, null);
});

await check('thinking on by default: reasoning_content and reasoning_tokens', async () => {
  const r = await openai.chat.completions.create(
      {model: 'deepseek-v4-flash', messages: hello, max_tokens: 6});
  const m = r.choices[0].message;
  assert.equal(typeof m.reasoning_content, 'string');
  checkOpenAIUsage(r.usage, true);
  assert.ok(r.usage.completion_tokens_details.reasoning_tokens <= r.usage.completion_tokens);
  const s = await openai.chat.completions.create(
      {model: 'deepseek-reasoner', messages: hello, max_tokens: 6, stream: true});
  const chunks = [];
  for await (const chunk of s) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.reasoning_content, '');
  assert.equal(chunks[0].choices[0].delta.content, null);
  assert.ok(chunks.at(-1).choices[0].finish_reason);
});

await check('thinking disabled through the request body', async () => {
  const r = await openai.chat.completions.create(
      {model: 'deepseek-v4-pro', messages: hello, max_tokens: 4, thinking: {type: 'disabled'}});
  assert.equal(r.choices[0].message.reasoning_content, undefined);
  assert.equal(r.model, 'deepseek-v4-pro');
});

await check('a repeated long prefix reports prompt cache hits', async () => {
  // The engine snapshots the prompt at its last 128-token boundary (DeepSeek's cache unit
  // granularity), so a repeat of the same prompt, and the next turn of the conversation,
  // find it.
  const system = 'You are a careful assistant who answers briefly. '.repeat(40);
  const turn1 = [{role: 'system', content: system}, {role: 'user', content: 'First question?'}];
  const ask = (messages) =>
      openai.chat.completions.create({model: 'deepseek-chat', max_tokens: 3, messages});
  const first = await ask(turn1);
  assert.ok(first.usage.prompt_tokens > 256, JSON.stringify(first.usage));
  const again = await ask(turn1);
  checkOpenAIUsage(again.usage, false);
  assert.equal(again.usage.prompt_cache_hit_tokens,
               Math.floor(first.usage.prompt_tokens / 128) * 128, JSON.stringify(again.usage));
  const next = await ask([...turn1, {role: 'assistant', content: first.choices[0].message.content},
                          {role: 'user', content: 'And a second one?'}]);
  checkOpenAIUsage(next.usage, false);
  assert.ok(next.usage.prompt_cache_hit_tokens >= 256, JSON.stringify(next.usage));
  assert.equal(next.usage.prompt_cache_hit_tokens % 128, 0);
});

await check('a tool conversation history is accepted', async () => {
  const tools = [{type: 'function', function: {name: 'get_weather', description: 'Weather',
                  parameters: {type: 'object', properties: {city: {type: 'string'}}}}}];
  const r = await openai.chat.completions.create({
    model: 'deepseek-v4-flash', max_tokens: 3, tools, messages: [
      {role: 'user', content: 'Weather in Paris?'},
      {role: 'assistant', content: '', reasoning_content: 'Use the tool.',
       tool_calls: [{id: 'call_00_abc', type: 'function',
                     function: {name: 'get_weather', arguments: '{"city":"Paris"}'}}]},
      {role: 'tool', tool_call_id: 'call_00_abc', content: 'sunny'}]});
  assert.ok(['stop', 'length', 'tool_calls'].includes(r.choices[0].finish_reason));
});

await check('beta base: chat prefix completion continues the assistant prefix', async () => {
  const beta = new OpenAI({baseURL: `${base}/beta`, apiKey: KEY, maxRetries: 0});
  const r = await beta.chat.completions.create({
    model: 'deepseek-chat', max_tokens: 4, temperature: 0, logit_bias: NO_EOS,
    messages: [{role: 'user', content: 'Write code'}, {role: 'assistant', content: '```python\n', prefix: true}]});
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 4);
});

// ---------------------------------------------------------------- raw and FIM completions
const byteId = (text) => String(tokenId(model.tokenizer, text));
await check('completions: raw prompt, streamed and not, echo, stop, logprobs, cost', async () => {
  const body = {model: 'deepseek-chat', prompt: 'Once upon a time', max_tokens: 8, temperature: 0,
                logit_bias: NO_EOS};
  const r = await openai.completions.create(body);
  assert.match(r.id, UUID);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 8);
  assert.equal(typeof r.usage.cost, 'number');
  assert.ok(r.usage.cost > 0);
  const text = r.choices[0].text;
  const s = await openai.completions.create({...body, stream: true, stream_options: {include_usage: true}});
  let streamed = '', last;
  for await (const chunk of s) {
    streamed += chunk.choices[0]?.text ?? '';
    last = chunk;
  }
  assert.equal(streamed, text);
  assert.equal(last.choices[0].finish_reason, 'length');
  assert.equal(last.usage.completion_tokens, 8);
  const echoed = await openai.completions.create({...body, echo: true});
  assert.equal(echoed.choices[0].text, 'Once upon a time' + text);
  const lp = await openai.completions.create({...body, logprobs: 2});
  const l = lp.choices[0].logprobs;
  assert.equal(l.tokens.length, 8);
  assert.equal(l.token_logprobs.length, 8);
  assert.equal(Object.keys(l.top_logprobs[0]).length <= 2, true);
  assert.equal(l.text_offset[0], 0);
  assert.equal(l.tokens.join(''), text);
  // A stop string cuts the text (the default budget is OpenAI's 16 tokens).
  const stopAt = text.slice(3, 4);
  const stopped = await openai.completions.create({...body, max_tokens: undefined, stop: [stopAt]});
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  assert.ok(!stopped.choices[0].text.includes(stopAt));
  // The legacy paths answer too.
  for (const p of ['/completions', '/beta/completions']) {
    const x = await raw(p, JSON.stringify(body));
    assert.equal(x.status, 200, p);
    assert.equal(x.body.choices[0].text, text);
  }
});

await check('completions: FIM with suffix (400 without FIM tokens); bad prompt and n > 1 get 400', async () => {
  const fim = {model: 'deepseek-chat', prompt: 'def add(a, b):\n', suffix: '\n    return c\n',
               max_tokens: 6, logit_bias: NO_EOS};
  if (tokenId(model.tokenizer, '<｜fim▁begin｜>') !== undefined) {
    const r = await openai.completions.create(fim);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 6);
  } else {
    const x = await raw('/v1/completions', JSON.stringify(fim));
    assert.equal(x.status, 400);
    assert.match(x.body.error.message, /fill-in-the-middle is unavailable/);
  }
  for (const bad of [{prompt: 5}, {prompt: ['a', 'b']}, {prompt: 'x', n: 2},
                     {prompt: 'x', echo: true, logprobs: 1}]) {
    const x = await raw('/v1/completions', JSON.stringify({model: 'deepseek-chat', ...bad}));
    assert.equal(x.status, 400, JSON.stringify(bad));
    assert.equal(x.body.error.type, 'invalid_request_error');
  }
});

// ---------------------------------------------------------------- enforced output shapes
const weatherTools = [
  {type: 'function', function: {name: 'get_weather', description: 'Current weather in a city',
   parameters: {type: 'object', properties: {city: {type: 'string', maxLength: 16},
                                             unit: {type: 'string', enum: ['celsius', 'fahrenheit']}},
                required: ['city']}}},
  {type: 'function', function: {name: 'get_time', description: 'Local time',
   parameters: {type: 'object', properties: {zone: {type: 'string', maxLength: 8}}, required: ['zone']}}}];
const weatherAsk = [{role: 'user', content: "What's the weather in Paris?"}];

function checkWeatherCall(call) {
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_\d\d_[A-Za-z0-9]{24}$/);
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.equal(typeof args.city, 'string');
  assert.ok([...args.city].length <= 16);
  if ('unit' in args) assert.ok(['celsius', 'fahrenheit'].includes(args.unit));
}

await check('tool_choice named / required force a well-formed call (OpenAI, streamed and not)', async () => {
  const named = {type: 'function', function: {name: 'get_weather'}};
  const r = await openai.chat.completions.create({model: 'deepseek-chat', messages: weatherAsk,
    tools: weatherTools, tool_choice: named, max_tokens: 600, logit_bias: NO_EOS});
  assert.equal(r.choices[0].finish_reason, 'tool_calls', JSON.stringify(r.choices[0]));
  assert.equal(r.choices[0].message.tool_calls.length, 1);
  checkWeatherCall(r.choices[0].message.tool_calls[0]);
  const s = await openai.chat.completions.create({model: 'deepseek-chat', messages: weatherAsk,
    tools: weatherTools, tool_choice: named, max_tokens: 600, stream: true});
  const calls = [];
  let fragments = 0, finish;
  for await (const chunk of s) {
    for (const part of chunk.choices[0]?.delta?.tool_calls ?? []) {
      if (part.id) calls.push({...part, function: {...part.function}});
      else {
        ++fragments;
        calls[part.index].function.arguments += part.function.arguments;
      }
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.ok(fragments > 3, `arguments came in ${fragments} fragments`);
  checkWeatherCall(calls[0]);
  const req = await openai.chat.completions.create({model: 'deepseek-chat', messages: weatherAsk,
    tools: weatherTools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 600});
  assert.equal(req.choices[0].finish_reason, 'tool_calls');
  assert.ok(['get_weather', 'get_time'].includes(req.choices[0].message.tool_calls[0].function.name));
  // Then the tool result comes back and the model answers.
  const call = r.choices[0].message.tool_calls[0];
  const answer = await openai.chat.completions.create({model: 'deepseek-chat', max_tokens: 8,
    tools: weatherTools, messages: [...weatherAsk, r.choices[0].message,
      {role: 'tool', tool_call_id: call.id, content: '{"temperature": 18, "sky": "clear"}'}]});
  assert.ok(['stop', 'length', 'tool_calls'].includes(answer.choices[0].finish_reason));
  for (const bad of [{tool_choice: {type: 'function', function: {name: 'nope'}}}, {tool_choice: 'sometimes'},
                     {tool_choice: 'required', tools: undefined}]) {
    const x = await raw('/v1/chat/completions', JSON.stringify(
        {model: 'deepseek-chat', messages: weatherAsk, tools: weatherTools, ...bad}));
    assert.equal(x.status, 400, JSON.stringify(bad));
  }
});

await check('thinking mode: free reasoning (up to half the budget), then the enforced call', async () => {
  const r = await openai.chat.completions.create({model: 'deepseek-v4-flash', messages: weatherAsk,
    tools: weatherTools, tool_choice: {type: 'function', function: {name: 'get_weather'}},
    max_tokens: 600, logit_bias: NO_EOS});
  const c = r.choices[0];
  assert.equal(c.finish_reason, 'tool_calls', JSON.stringify(c));
  assert.equal(typeof c.message.reasoning_content, 'string');
  // 300 tokens of reasoning, then "</think>" (up to 8 more tokens when spelled out).
  assert.ok(r.usage.completion_tokens_details.reasoning_tokens <= 300 + 8, JSON.stringify(r.usage));
  checkWeatherCall(c.message.tool_calls[0]);
});

await check('tool_choice auto: the bundled model calls get_weather on its own, then answers the result (both APIs)', async () => {
  // The tools as the model card's demo (tools/train/demo_weather.sh) declares them; nothing
  // is enforced, so this is the trained model's own behaviour (greedy). It picks the tool and
  // the argument name and ends its turns properly; it copies the city from the question only
  // sometimes (Paris here, 6 of 50 cities in models/README.md's probe, and a CPU with other
  // SIMD kernels may round a close call the other way), so the value is checked for type.
  const tools = [{type: 'function', function: {name: 'get_weather', description: 'Get the current weather for a city',
    parameters: {type: 'object', properties: {city: {type: 'string', description: 'City name'}}, required: ['city']}}}];
  const r = await openai.chat.completions.create({model: 'deepseek-chat', messages: weatherAsk,
    tools, max_tokens: 200, temperature: 0});
  const c = r.choices[0];
  assert.ok(!(c.message.content ?? '').includes('DSML'), 'raw DSML leaked into content');
  if (c.finish_reason === 'tool_calls') for (const call of c.message.tool_calls) JSON.parse(call.function.arguments);
  if (!model.trained) {   // the random test model says anything; only the shape is checked
    console.log(`note: random test model finished with ${c.finish_reason}`);
    return;
  }
  assert.equal(c.finish_reason, 'tool_calls', JSON.stringify(c.message));
  assert.equal(c.message.tool_calls.length, 1);
  const call = c.message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(Object.keys(JSON.parse(call.function.arguments)), ['city']);
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
  const result = '{"city": "Paris", "temperature_c": 18, "condition": "cloudy"}';
  const answer = await openai.chat.completions.create({model: 'deepseek-chat', tools, max_tokens: 200,
    temperature: 0, messages: [...weatherAsk, c.message, {role: 'tool', tool_call_id: call.id, content: result}]});
  const a = answer.choices[0];
  assert.equal(a.finish_reason, 'stop', JSON.stringify(a.message));
  assert.equal(a.message.tool_calls, undefined);
  assert.match(a.message.content, /^[A-Z][^<>｜]{8,}$/, 'a plain sentence, no chat markers');
  console.log(`note: OpenAI call ${call.function.arguments}, answer after the tool result: ${JSON.stringify(a.message.content)}`);

  const atools = tools.map((t) => ({name: t.function.name, description: t.function.description,
                                    input_schema: t.function.parameters}));
  const m = await anthropic.messages.create({model: 'deepseek-chat', max_tokens: 200, temperature: 0,
    tools: atools, messages: weatherAsk});
  assert.equal(m.stop_reason, 'tool_use', JSON.stringify(m.content));
  const use = m.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.deepEqual(Object.keys(use.input), ['city']);
  assert.equal(typeof use.input.city, 'string');
  const m2 = await anthropic.messages.create({model: 'deepseek-chat', max_tokens: 200, temperature: 0,
    tools: atools, messages: [...weatherAsk, {role: 'assistant', content: m.content},
      {role: 'user', content: [{type: 'tool_result', tool_use_id: use.id, content: result}]}]});
  assert.equal(m2.stop_reason, 'end_turn', JSON.stringify(m2.content));
  const text = m2.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  assert.ok(!m2.content.some((b) => b.type === 'tool_use'));
  assert.match(text, /^[A-Z][^<>｜]{8,}$/, 'a plain sentence, no chat markers');
  console.log(`note: Anthropic answer after the tool result: ${JSON.stringify(text)}`);
});

await check('no tools offered: no tool call comes back, even from a model pushed to one', async () => {
  // The DSML token opens every tool block; a +100 bias makes the model want it at every
  // step. Without tools (or with tool_choice none) it is never sampled, so the answer is
  // text and never finish_reason tool_calls naming a tool nobody offered.
  const dsml = tokenId(model.tokenizer, '｜DSML｜');
  assert.equal(typeof dsml, 'number');
  const bias = {...NO_EOS, [dsml]: 100};
  for (const extra of [{}, {tools: weatherTools, tool_choice: 'none'}]) {
    const r = await openai.chat.completions.create({model: 'deepseek-chat', messages: weatherAsk,
      max_tokens: 12, temperature: 0, logit_bias: bias, ...extra});
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'length', JSON.stringify(c));
    assert.equal(c.message.tool_calls, undefined);
    assert.ok(!c.message.content.includes('DSML'), c.message.content);
  }
  const m = await anthropic.messages.create({model: 'deepseek-chat', max_tokens: 12, temperature: 0,
    messages: weatherAsk});
  assert.ok(!m.content.some((b) => b.type === 'tool_use'), JSON.stringify(m.content));
  // With tools offered the same bias does reach the tool block (the ban is only for no tools).
  const t = await openai.chat.completions.create({model: 'deepseek-chat', messages: weatherAsk,
    tools: weatherTools, max_tokens: 12, temperature: 0, logit_bias: bias, logprobs: true});
  assert.ok(t.choices[0].logprobs.content.some((x) => x.token === '｜DSML｜'),
            JSON.stringify(t.choices[0].logprobs.content.map((x) => x.token)));
});

await check('Anthropic tool_choice tool / any force a tool_use block (streamed and not)', async () => {
  const tools = weatherTools.map((t) => ({name: t.function.name, description: t.function.description,
                                          input_schema: t.function.parameters}));
  const body = {model: 'deepseek-chat', max_tokens: 600, tools, messages: weatherAsk,
                tool_choice: {type: 'tool', name: 'get_weather'}};
  const m = await anthropic.messages.create(body);
  assert.equal(m.stop_reason, 'tool_use');
  const use = m.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.equal(typeof use.input.city, 'string');
  const events = [];
  const stream = anthropic.messages.stream(body);
  stream.on('streamEvent', (e) => events.push(e));
  const final = await stream.finalMessage();
  assert.ok(events.filter((e) => e.delta?.type === 'input_json_delta').length > 3);
  assert.equal(final.content.find((b) => b.type === 'tool_use').name, 'get_weather');
  const any = await anthropic.messages.create({...body, tool_choice: {type: 'any', disable_parallel_tool_use: true}});
  assert.equal(any.stop_reason, 'tool_use');
  // The result goes back and the model answers.
  const answer = await anthropic.messages.create({model: 'deepseek-chat', max_tokens: 8, tools,
    messages: [...weatherAsk, {role: 'assistant', content: m.content},
               {role: 'user', content: [{type: 'tool_result', tool_use_id: use.id, content: '18 C, clear'}]}]});
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(answer.stop_reason));
});

await check('response_format json_object: the answer is one JSON object, finished when it closes', async () => {
  // The small test models would write JSON strings forever; banning every token with a
  // quote and favouring '}' makes the object close, which must end the generation (finish
  // stop, no EOS needed).
  const bias = {...NO_EOS, [byteId('}')]: 40};
  for (const [text, id] of Object.entries(model.tokenizer.model.vocab)) if (text.includes('"')) bias[id] = -100;
  const r = await openai.chat.completions.create({model: 'deepseek-chat', max_tokens: 50,
    messages: [{role: 'user', content: 'Reply in json'}], response_format: {type: 'json_object'},
    logit_bias: bias});
  assert.equal(r.choices[0].finish_reason, 'stop', JSON.stringify(r.choices[0]));
  assert.deepEqual(JSON.parse(r.choices[0].message.content), {});
  const bad = await raw('/v1/chat/completions', JSON.stringify(
      {model: 'deepseek-chat', messages: hello, response_format: {type: 'json_schema'}}));
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.message, 'This response_format type is unavailable now');
});

await check('thinking + tools without reasoning_content on a tool-call turn -> DeepSeek\'s 400', async () => {
  const x = await raw('/v1/chat/completions', JSON.stringify({model: 'deepseek-v4-flash', tools: weatherTools,
    messages: [...weatherAsk, {role: 'assistant', content: '', tool_calls: [{id: 'call_00_x', type: 'function',
      function: {name: 'get_weather', arguments: '{"city":"Paris"}'}}]},
      {role: 'tool', tool_call_id: 'call_00_x', content: 'sunny'}]}));
  assert.equal(x.status, 400);
  assert.equal(x.body.error.message, 'The `reasoning_content` in the thinking mode must be passed back to the API.');
  // Non-thinking mode does not need it.
  const ok = await raw('/v1/chat/completions', JSON.stringify({model: 'deepseek-chat', tools: weatherTools,
    max_tokens: 2, messages: [...weatherAsk, {role: 'assistant', content: '', tool_calls: [{id: 'call_00_x',
      type: 'function', function: {name: 'get_weather', arguments: '{"city":"Paris"}'}}]},
      {role: 'tool', tool_call_id: 'call_00_x', content: 'sunny'}]}));
  assert.equal(ok.status, 200);
});

await check('models advertise the context; a longer prompt gets a clear 400 at once', async () => {
  const list = await openai.models.list();
  for (const m of list.data) assert.equal(m.context_length, CONTEXT);
  const anth = await (await fetch(`${base}/v1/models`, {headers: {'x-api-key': KEY, 'anthropic-version': '2023-06-01'}})).json();
  assert.equal(anth.data[0].context_length, CONTEXT);
  const long = 'ab '.repeat(50000);  // 50k+ tokens
  await assert.rejects(openai.chat.completions.create({model: 'deepseek-chat', max_tokens: 2,
    messages: [{role: 'user', content: long}]}), (e) => e.status === 400 && new RegExp(`maximum context length is ${CONTEXT}`).test(e.message));
  await assert.rejects(anthropic.messages.create({model: 'deepseek-chat', max_tokens: 2,
    messages: [{role: 'user', content: long}]}), (e) => e.status === 400 && e.error.type === 'error');
  // A budget past the context is cut to fit, not refused (clients ask for 32000 by default).
  const r = await openai.chat.completions.create({...greedy, max_tokens: 1 << 20});
  assert.ok(r.usage.completion_tokens > 0);
});

await check('/metrics: request latency histograms, throughput, queue depth, cache ratios', async () => {
  await metric('dsv4_requests_running');  // a first throughput sample
  await openai.chat.completions.create(greedy);
  const text = await (await fetch(`${base}/metrics`, {headers: {authorization: `Bearer ${KEY}`}})).text();
  const count = text.match(/^dsv4_request_duration_seconds_count\{route="\/v1\/chat\/completions"\} (\d+)$/m);
  assert.ok(count && Number(count[1]) > 10, text);
  assert.match(text, /^dsv4_request_duration_seconds_bucket\{route="\/v1\/chat\/completions",le="\+Inf"\} \d+$/m);
  assert.match(text, /^dsv4_http_requests_total\{route="\/v1\/chat\/completions",status="400"\} \d+$/m);
  const rate = Number(text.match(/^dsv4_generation_tokens_per_second (\S+)$/m)[1]);
  assert.ok(rate > 0, text);
  assert.match(text, /^dsv4_queue_depth 0$/m);
  const ratio = Number(text.match(/^dsv4_prompt_cached_token_ratio (\S+)$/m)[1]);
  assert.ok(ratio > 0 && ratio < 1);
  assert.match(text, /^dsv4_prefix_cache_hit_ratio \S+$/m);
});

// ---------------------------------------------------------------- OpenAI errors
await check('malformed JSON -> 400 in the OpenAI shape', async () => {
  const r = await raw('/v1/chat/completions', '{"model": "deepseek-chat", "messages": [');
  assert.equal(r.status, 400);
  assert.equal(r.body.error.type, 'invalid_request_error');
  assert.equal(typeof r.body.error.message, 'string');
});

await check('wrong types -> 400 naming the field', async () => {
  const r = await raw('/v1/chat/completions',
                      JSON.stringify({model: 'deepseek-chat', messages: hello, max_tokens: 'many'}));
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /max_tokens/);
  const m = await raw('/v1/chat/completions', JSON.stringify({model: 'deepseek-chat', messages: 7}));
  assert.equal(m.status, 400);
});

await check('unknown model -> DeepSeek\'s 400', async () => {
  await assert.rejects(openai.chat.completions.create({model: 'gpt-4o', messages: hello}), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /The supported API model names are .* but you passed gpt-4o/);
    return true;
  });
});

await check('bad key -> 401 (Bearer and x-api-key)', async () => {
  const bad = new OpenAI({baseURL: `${base}/v1`, apiKey: 'sk-wrong', maxRetries: 0});
  await assert.rejects(bad.chat.completions.create(greedy), (e) => e.status === 401);
  const r = await raw('/v1/chat/completions', JSON.stringify(greedy),
                      {authorization: '', 'x-api-key': 'nope'});
  assert.equal(r.status, 401);
  assert.equal(r.body.error.type, 'authentication_error');
});

await check('unknown path -> 404 JSON', async () => {
  const r = await fetch(`${base}/v1/nothing`, {headers: {authorization: `Bearer ${KEY}`}});
  assert.equal(r.status, 404);
  assert.ok((await r.json()).error.message);
});

await check('body over --max-body-mb -> 413', async () => {
  const big = JSON.stringify({model: 'deepseek-chat', messages: [{role: 'user', content: 'x'.repeat(2 << 20)}]});
  let status;
  try {
    status = (await raw('/v1/chat/completions', big)).status;
  } catch (e) {
    // The server may close the connection before reading the whole upload.
    status = 'connection closed: ' + e.message;
  }
  assert.equal(status, 413);
});

await check('the server still serves after the errors', async () => {
  const r = await openai.chat.completions.create(greedy);
  assert.equal(r.choices[0].message.content, greedyText);
});

await check('a client that disconnects mid-stream cancels its generation', async () => {
  const controller = new AbortController();
  const stream = await openai.chat.completions.create(
      {model: 'deepseek-chat', messages: hello, max_tokens: 60000, logit_bias: NO_EOS, stream: true},
      {signal: controller.signal});
  let n = 0;
  try {
    for await (const _ of stream) {
      if (++n === 3) controller.abort();
    }
  } catch (e) {
    assert.ok(controller.signal.aborted, String(e));
  }
  // Cancellation is asynchronous (next engine step); wait for it, bounded by tries.
  let running = 1;
  for (let i = 0; i < 200 && running > 0; ++i) {
    running = await metric('dsv4_requests_running');
    if (running > 0) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(running, 0);
});

await check('a client that gives up on a non-streamed request cancels it too', async () => {
  const controller = new AbortController();
  const pending = openai.chat.completions.create(
      {model: 'deepseek-chat', messages: hello, max_tokens: 60000, logit_bias: NO_EOS}, {signal: controller.signal});
  // Abort once the generation is under way (the server sends a newline about every second).
  for (let i = 0; i < 200 && (await metric('dsv4_requests_running')) === 0; ++i) {
    await new Promise((r) => setTimeout(r, 20));
  }
  controller.abort();
  await assert.rejects(pending);
  let running = 1;
  for (let i = 0; i < 300 && running > 0; ++i) {
    running = await metric('dsv4_requests_running');
    if (running > 0) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(running, 0);
});

await check('concurrent requests are all served', async () => {
  const results = await Promise.all([1, 2, 3].map((i) => openai.chat.completions.create(
      {model: 'deepseek-chat', messages: [{role: 'user', content: `Request ${i}`}], max_tokens: 5,
       temperature: 0})));
  for (const r of results) assert.equal(r.usage.completion_tokens, 5);
});

await check('per-key concurrency limit -> 429, other keys unaffected', async () => {
  const controllers = [];
  const iterators = [];
  for (let i = 0; i < 3; ++i) {
    const controller = new AbortController();
    controllers.push(controller);
    const s = await openai.chat.completions.create(
        {model: 'deepseek-chat', messages: hello, max_tokens: 60000, logit_bias: NO_EOS, stream: true},
        {signal: controller.signal});
    iterators.push(s[Symbol.asyncIterator]());
    await iterators.at(-1).next();  // generating now
  }
  await assert.rejects(openai.chat.completions.create(greedy), (e) => e.status === 429);
  const other = new OpenAI({baseURL: `${base}/v1`, apiKey: KEY2, maxRetries: 0});
  assert.equal((await other.chat.completions.create(greedy)).choices[0].message.content, greedyText);
  for (const c of controllers) c.abort();
  for (const it of iterators) await it.next().catch(() => {});
  let running = 1;
  for (let i = 0; i < 200 && running > 0; ++i) {
    running = await metric('dsv4_requests_running');
    if (running > 0) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(running, 0);
  assert.equal((await openai.chat.completions.create(greedy)).choices[0].message.content, greedyText);
});

await check('a full queue -> 503 with Retry-After (a second server: 1 running, 1 waiting)', async () => {
  const small = await startServer(binary, [...model.args, '--max-running', '1', '--max-queue', '1'], model.cwd);
  try {
    const client = new OpenAI({baseURL: `${small.base}/v1`, apiKey: 'none', maxRetries: 0});
    const long = {model: 'deepseek-chat', messages: hello, max_tokens: 60000, logit_bias: NO_EOS, stream: true};
    const controllers = [new AbortController(), new AbortController()];
    const streams = [];
    for (const c of controllers) {
      const s = await client.chat.completions.create(long, {signal: c.signal});
      streams.push(s[Symbol.asyncIterator]());
      await streams.at(-1).next();  // the first chunk: running, or queued
    }
    const r = await fetch(`${small.base}/v1/chat/completions`, {method: 'POST',
      headers: {'content-type': 'application/json'}, body: JSON.stringify({...long, stream: false})});
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match((await r.json()).error.message, /overloaded/);
    const m = await fetch(`${small.base}/v1/messages`, {method: 'POST', headers: {'content-type': 'application/json'},
      body: JSON.stringify({model: 'deepseek-chat', max_tokens: 5, messages: hello})});
    assert.equal(m.status, 503);
    assert.equal((await m.json()).error.type, 'overloaded_error');  // Anthropic's shape
    for (const c of controllers) c.abort();
    for (const it of streams) await it.next().catch(() => {});
  } finally {
    small.stop();
  }
});

// ---------------------------------------------------------------- Anthropic surface
function checkAnthropicUsage(u) {
  for (const k of ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens',
                   'output_tokens']) {
    assert.equal(typeof u[k], 'number', k);
  }
}

await check('messages.create: system blocks, thinking block by default, usage', async () => {
  const m = await anthropic.messages.create({
    model: 'deepseek-v4-flash', max_tokens: 6,
    system: [{type: 'text', text: 'Be brief.', cache_control: {type: 'ephemeral'}}],
    messages: [{role: 'user', content: 'Hi'}]});
  assert.match(m.id, UUID);
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.content[0].type, 'thinking');
  assert.equal(typeof m.content[0].signature, 'string');
  // Thinking mode samples at temperature 1 (DeepSeek ignores the knob), so EOS may come.
  assert.ok(m.stop_reason === 'max_tokens' ? m.usage.output_tokens === 6
                                           : m.stop_reason === 'end_turn' && m.usage.output_tokens <= 6);
  checkAnthropicUsage(m.usage);
});

await check('thinking disabled, system string, claude-* model name accepted', async () => {
  const m = await anthropic.messages.create({
    model: 'claude-sonnet-local', max_tokens: 5, system: 'Be brief.',
    thinking: {type: 'disabled'}, messages: [{role: 'user', content: 'Hi'}]});
  assert.equal(m.model, 'claude-sonnet-local');
  assert.ok(m.content.every((b) => b.type !== 'thinking'));
  assert.equal(m.content[0].type, 'text');
});

await check('streamed message: full event sequence, same text as non-streaming', async () => {
  const body = {model: 'deepseek-chat', max_tokens: 10, temperature: 0,
                messages: [{role: 'user', content: 'Hi'}]};
  const once = await anthropic.messages.create(body);
  const events = [];
  const stream = anthropic.messages.stream(body);
  stream.on('streamEvent', (e) => events.push(e));
  const final = await stream.finalMessage();
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(types.at(-2), 'message_delta');
  assert.equal(types.filter((t) => t === 'content_block_start').length,
               types.filter((t) => t === 'content_block_stop').length);
  const delta = events.at(-2);
  // A trained model may end its turn first.
  assert.ok(delta.delta.stop_reason === 'max_tokens' ? delta.usage.output_tokens === 10
                                                     : delta.delta.stop_reason === 'end_turn');
  assert.deepEqual(final.content, once.content);
});

await check('streamed thinking: thinking block with a signature, then text', async () => {
  const events = [];
  const stream = anthropic.messages.stream({model: 'deepseek-reasoner', max_tokens: 8,
                                            messages: [{role: 'user', content: 'Hi'}]});
  stream.on('streamEvent', (e) => events.push(e));
  const final = await stream.finalMessage();
  const start = events.find((e) => e.type === 'content_block_start');
  assert.equal(start.content_block.type, 'thinking');
  assert.ok(events.some((e) => e.type === 'content_block_delta' && e.delta.type === 'signature_delta'));
  assert.equal(final.content[0].type, 'thinking');
});

await check('beta path (?beta=true) and the /anthropic prefix', async () => {
  const m = await anthropic.beta.messages.create({model: 'deepseek-chat', max_tokens: 3,
                                                  messages: [{role: 'user', content: 'Hi'}]});
  assert.equal(m.type, 'message');
  const prefixed = new Anthropic({baseURL: `${base}/anthropic`, apiKey: KEY, maxRetries: 0});
  const p = await prefixed.messages.create({model: 'deepseek-chat', max_tokens: 3,
                                            messages: [{role: 'user', content: 'Hi'}]});
  assert.equal(p.type, 'message');
});

await check('count_tokens agrees with the input tokens of a request', async () => {
  const body = {model: 'deepseek-chat', system: 'Count me.',
                messages: [{role: 'user', content: 'How many tokens is this?'}]};
  const c = await anthropic.messages.countTokens(body);
  const b = await anthropic.beta.messages.countTokens(body);
  const m = await anthropic.messages.create({...body, max_tokens: 1});
  assert.equal(c.input_tokens, m.usage.input_tokens + m.usage.cache_read_input_tokens);
  assert.equal(b.input_tokens, c.input_tokens);
});

await check('tool_use / tool_result history and system inside messages are accepted', async () => {
  const m = await anthropic.messages.create({
    model: 'deepseek-v4-flash', max_tokens: 3,
    tools: [{name: 'get_weather', description: 'Weather',
             input_schema: {type: 'object', properties: {city: {type: 'string'}}}}],
    messages: [
      {role: 'user', content: 'Weather in Paris?'},
      {role: 'assistant', content: [
        {type: 'thinking', thinking: 'Use the tool.', signature: 'x'},
        {type: 'tool_use', id: 'call_00_abc', name: 'get_weather', input: {city: 'Paris'}}]},
      {role: 'user', content: [
        {type: 'tool_result', tool_use_id: 'call_00_abc', content: 'sunny'},
        {type: 'text', text: 'Thanks', cache_control: {type: 'ephemeral'}}]},
      {role: 'system', content: 'Answer in French.'}]});
  assert.equal(m.type, 'message');
});

await check('Anthropic errors: bad key 401, unknown model 400, malformed JSON 400', async () => {
  const bad = new Anthropic({baseURL: base, apiKey: 'wrong', maxRetries: 0});
  await assert.rejects(bad.messages.create({model: 'deepseek-chat', max_tokens: 2, messages: hello}),
                       (e) => e.status === 401 && e.error.error.type === 'authentication_error');
  await assert.rejects(anthropic.messages.create({model: 'gpt-4o', max_tokens: 2, messages: hello}),
                       (e) => e.status === 400 && e.error.type === 'error' &&
                              e.error.error.type === 'invalid_request_error');
  const r = await raw('/v1/messages', '{"model":', {'x-api-key': KEY});
  assert.equal(r.status, 400);
  assert.equal(r.body.type, 'error');
});

await check('/metrics totals requests, tokens and cost per key', async () => {
  const text = await (await fetch(`${base}/metrics`, {headers: {authorization: `Bearer ${KEY}`}})).text();
  const value = (name) => Number(text.match(new RegExp(`^${name}\\{key="\\*\\*\\*\\*test"\\} (\\S+)$`, 'm'))?.[1]);
  assert.ok(value('dsv4_key_requests_total') >= 10, text);
  assert.ok(value('dsv4_key_completion_tokens_total') > 0);
  assert.ok(value('dsv4_key_cached_tokens_total') >= 256);  // the cache-hit checks
  assert.ok(value('dsv4_key_cost_usd_total') > 0);
  assert.ok(!text.includes(KEY));
});

// ---------------------------------------------------------------- shutdown
await check('SIGTERM lets an in-flight stream finish, then the server exits 0', async () => {
  const stream = await openai.chat.completions.create(
      {model: 'deepseek-chat', messages: hello, max_tokens: 200, stream: true});
  let n = 0;
  let finish = null;
  for await (const chunk of stream) {
    if (++n === 2) server.kill('SIGTERM');
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.ok(finish === 'length' || finish === 'stop', String(finish));
  const {code} = await exited;
  assert.equal(code, 0, served.log());
  assert.match(served.log(), /stopped/);
});

if (server.exitCode === null) server.kill('SIGKILL');
fs.rmSync(work, {recursive: true, force: true});
if (failures) {
  console.log(`${failures} check(s) failed; server log:\n${served.log().slice(-4000)}`);
  process.exit(1);
}
console.log('all server API checks passed');
