import type { Meta } from "./api";
import { clear, h } from "./dom";
import { t } from "./i18n";
import type { PageContext } from "./main";

let idSeq = 0;

export function loading(label = t("common.loading")): HTMLElement {
  return h("div", { class: "state state--loading", role: "status", "aria-live": "polite", "data-state": "loading" },
    h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

export function empty(message: string): HTMLElement {
  return h("div", { class: "state state--empty", role: "status", "data-state": "empty" }, message);
}

export function failure(error: unknown, retry?: () => void): HTMLElement {
  const message = error instanceof Error ? error.message : String(error);
  return h("div", { class: "state state--error", role: "alert", "data-state": "error" },
    h("span", {}, t("common.error", { message })),
    retry ? h("button", { type: "button", class: "btn", onclick: () => retry() }, t("common.retry")) : null);
}

export interface Option {
  value: string;
  label: string;
}

export function select(label: string, options: Option[], value: string, onChange: (value: string) => void, name = ""): HTMLElement {
  const id = `f${++idSeq}`;
  const el = h("select", { id, name: name || id, onchange: (e: Event) => onChange((e.target as HTMLSelectElement).value) },
    ...options.map((o) => h("option", { value: o.value, selected: o.value === value }, o.label)));
  return h("label", { class: "field", for: id }, h("span", { class: "field__label" }, label), el);
}

export function segmented(label: string, options: Option[], value: string, onChange: (value: string) => void, name: string): HTMLElement {
  return h("fieldset", { class: "segmented", "data-name": name },
    h("legend", { class: "field__label" }, label),
    ...options.map((o) => {
      const id = `s${++idSeq}`;
      return h("span", { class: "segmented__item" },
        h("input", { type: "radio", id, name, value: o.value, checked: o.value === value, onchange: () => onChange(o.value) }),
        h("label", { for: id }, o.label));
    }));
}

export function card(title: string, body: Node, attrs: Record<string, string> = {}): HTMLElement {
  return h("section", { class: "card", ...attrs }, h("h2", { class: "card__title" }, title), body);
}

export function chartBox(testid: string, height = 320): HTMLElement {
  return h("div", { class: "chart", "data-testid": testid, style: `height:${height}px` });
}

/** Await `request` for `box`, which shows a loading state until then. On failure the box shows the
 *  error (with a retry unless `retry` is false). Null when it failed or the user has moved on. */
export async function load<T>(ctx: PageContext, box: HTMLElement, request: Promise<T>, retry = true): Promise<T | null> {
  let value: T;
  try {
    value = await request;
  } catch (error) {
    if (!ctx.current()) return null;
    clear(box);
    box.append(failure(error, retry ? () => ctx.setParams({}) : undefined));
    return null;
  }
  if (!ctx.current()) return null;
  clear(box);
  return value;
}

/** Every page starts the same way: its title, a loading state, then the shared metadata.
 *  Returns null when the metadata failed (a retry is shown) or the user has moved on. */
export async function openPage(ctx: PageContext, title: string): Promise<{ body: HTMLElement; meta: Meta } | null> {
  ctx.root.append(h("h1", { class: "page__title" }, title));
  const body = h("div", { class: "stack" }, loading());
  ctx.root.append(body);
  const meta = await load(ctx, body, ctx.meta());
  return meta && { body, meta };
}

/** The placement a page shows: the URL's, else the first experiment's, else the first placement. */
export function currentPlacement(ctx: PageContext, meta: Meta): string {
  return ctx.params.get("placement") ?? meta.experiments[0]?.placement ?? meta.placements[0]?.slug ?? "";
}

/** The placement picker; choosing one also clears the `reset` parameters. */
export function placementSelect(ctx: PageContext, meta: Meta, placement: string, reset: Record<string, null> = {}): HTMLElement {
  return select(t("common.placement"), meta.placements.map((p) => ({ value: p.slug, label: `${p.name} (${p.slug})` })), placement,
    (v) => ctx.setParams({ placement: v, ...reset }), "placement");
}
