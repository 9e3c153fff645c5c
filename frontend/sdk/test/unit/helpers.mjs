/** A scripted stand-in for fetch: each call takes the next answer and records the request. */
export function scriptedFetch(answers) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const call = { url, init, body: init.body ? JSON.parse(init.body) : undefined, headers: init.headers ?? {} };
    calls.push(call);
    const answer = answers.length > 1 ? answers.shift() : answers[0];
    if (typeof answer === "function") return answer(call);
    if (answer instanceof Error) throw answer;
    return new Response(answer.body === undefined ? "" : JSON.stringify(answer.body), {
      status: answer.status ?? 200,
      headers: answer.headers ?? {},
    });
  };
  return { fetch, calls };
}

export const accepted = (call) =>
  new Response(JSON.stringify({ accepted: call.body.events.length, duplicates: 0, rejected: [] }), { status: 202 });

export function rankResponse(overrides = {}) {
  return {
    decision_id: "6f1c2d7e-0000-4000-8000-000000000001",
    placement: "wealth-home-banner",
    bucket: "model",
    experiment: "home-banner-ab",
    model_version: "7",
    items: [1, 2, 3].map((rank) => ({
      variant_id: 410 + rank,
      variant_key: `c${rank}-i1-l1`,
      rank,
      score: 0.04 - rank * 0.005,
      propensity: 0.8,
      tags: { button_color: ["red"] },
      image_url: `/media/${410 + rank}.png`,
      render: { layout: "single_image_text", headline: `Headline ${rank}`, cta: "Go", colors: { button: "#E8322E" } },
      pinned: false,
    })),
    ...overrides,
  };
}

export const noSleep = () => Promise.resolve();

/** The decision the events of these tests report on (not the one rankResponse() answers). */
export const DECISION = "6f1c2d7e-0000-4000-8000-0000000000aa";

export function impression(overrides = {}) {
  return { type: "impression", decision_id: DECISION, variant_id: 411, user_id: "u-1", placement: "wealth-home-banner", position: 1, ...overrides };
}

/** A clock the test moves: sleeping advances it, so retry windows and cooldowns run without waiting. */
export function fakeClock(start = 1_700_000_000_000) {
  const clock = { t: start, slept: [] };
  clock.now = () => clock.t;
  clock.sleep = (ms) => {
    clock.slept.push(ms);
    clock.t += ms;
    return Promise.resolve();
  };
  return clock;
}
