// Drives Coffer's transparent proxy (/v1/proxy/{binding}/...) through the official OpenAI and
// Anthropic Node SDKs, unmodified but for their base URL and API key: the agent's own Coffer key.
// Run by tests/integration/test_gateway_sdk.py, which starts a Coffer server and a loopback fake
// upstream (tests/integration/fake_llm.py) and passes COFFER_ADDR, AGENT_KEY, OPENAI_BINDING,
// ANTHROPIC_BINDING and STREAM_DELAY_MS (the fake's pause between streamed chunks).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const { COFFER_ADDR, AGENT_KEY, OPENAI_BINDING, ANTHROPIC_BINDING } = process.env;
const STREAM_DELAY_MS = Number(process.env.STREAM_DELAY_MS || '500');

function openai() {
  return new OpenAI({
    baseURL: `${COFFER_ADDR}/v1/proxy/${OPENAI_BINDING}/v1`,
    apiKey: AGENT_KEY,
    maxRetries: 0,
    timeout: 20000,
  });
}

describe('the OpenAI SDK through /v1/proxy', () => {
  it('lists models', async () => {
    const page = await openai().models.list();
    const ids = [];
    for await (const m of page) ids.push(m.id);
    assert.deepEqual(ids, ['gpt-fake']);
  });

  it('makes a chat completion', async () => {
    const completion = await openai().chat.completions.create({
      model: 'gpt-fake',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices[0].message.content, 'Hello there!');
    assert.equal(completion.usage.total_tokens, 8);
  });

  it('streams a chat completion as the upstream sends it', async () => {
    const started = performance.now();
    const stream = await openai().chat.completions.create({
      model: 'gpt-fake',
      messages: [{ role: 'user', content: 'Say hello slowly' }],
      stream: true,
    });
    const arrivals = [];
    let text = '';
    let finish = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice.delta.content) {
        text += choice.delta.content;
        arrivals.push(performance.now() - started);
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    assert.equal(text, 'Hello there!');
    assert.equal(finish, 'stop');
    // The fake pauses STREAM_DELAY_MS between content chunks: each must arrive on its own, the
    // first long before the fake finished sending (a gateway that buffers the body would deliver
    // them all at once, at the end).
    assert.equal(arrivals.length, 4);
    const spread = arrivals[arrivals.length - 1] - arrivals[0];
    assert.ok(spread >= 0.8 * 3 * STREAM_DELAY_MS,
      `content chunks arrived within ${spread.toFixed(0)} ms of each other: buffered, not streamed`);
    for (let i = 1; i < arrivals.length; i++) {
      const gap = arrivals[i] - arrivals[i - 1];
      assert.ok(gap >= 0.5 * STREAM_DELAY_MS, `chunk ${i} came ${gap.toFixed(0)} ms after the one before`);
    }
  });

  it('is refused with a wrong key', async () => {
    const client = new OpenAI({
      baseURL: `${COFFER_ADDR}/v1/proxy/${OPENAI_BINDING}/v1`,
      apiKey: 'ocv_notarealkey',
      maxRetries: 0,
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.AuthenticationError && err.status === 401);
  });

  it('gets a 404 for a binding the agent does not have', async () => {
    const client = new OpenAI({
      baseURL: `${COFFER_ADDR}/v1/proxy/no-such-binding/v1`,
      apiKey: AGENT_KEY,
      maxRetries: 0,
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.NotFoundError && err.status === 404);
  });
});

describe('the Anthropic SDK through /v1/proxy', () => {
  it('creates a message, authenticated by x-api-key', async () => {
    const client = new Anthropic({
      baseURL: `${COFFER_ADDR}/v1/proxy/${ANTHROPIC_BINDING}`,
      apiKey: AGENT_KEY,
      maxRetries: 0,
      timeout: 20000,
    });
    const message = await client.messages.create({
      model: 'claude-fake',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    assert.equal(message.type, 'message');
    assert.equal(message.content[0].text, 'Hello from the fake.');
  });
});
