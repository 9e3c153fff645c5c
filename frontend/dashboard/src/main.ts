import "./styles.css";

import { Api, type Meta } from "./api";
import { disposeCharts } from "./charts";
import { readConfig, type DashboardConfig } from "./config";
import { clear, h } from "./dom";
import { lang, setLang, t, type MessageKey } from "./i18n";
import { renderAttribution } from "./pages/attribution";
import { renderExperiments } from "./pages/experiments";
import { renderModels } from "./pages/models";
import { renderVariants } from "./pages/variants";

export interface PageContext {
  api: Api;
  config: DashboardConfig;
  root: HTMLElement;
  params: URLSearchParams;
  /** Change query parameters (replacing history) and re-render the page. */
  setParams: (changes: Record<string, string | null>) => void;
  meta: () => Promise<Meta>;
  /** True while this render is still the one on screen (a newer navigation cancels it). */
  current: () => boolean;
}

type PageRenderer = (ctx: PageContext) => Promise<void>;

const PAGES: Record<string, { title: MessageKey; render: PageRenderer }> = {
  experiments: { title: "nav.experiments", render: renderExperiments },
  attribution: { title: "nav.attribution", render: renderAttribution },
  variants: { title: "nav.variants", render: renderVariants },
  models: { title: "nav.models", render: renderModels },
};

const config = readConfig();
const api = new Api(config);
let metaPromise: Promise<Meta> | undefined;
const meta = () => (metaPromise ??= api.meta().catch((e) => ((metaPromise = undefined), Promise.reject(e))));
let renderSeq = 0;

function pageFromPath(pathname: string): string {
  const rest = pathname.startsWith(config.basePath) ? pathname.slice(config.basePath.length) : "";
  const name = rest.split("/")[0] ?? "";
  return name in PAGES ? name : "experiments";
}

function shell(page: string): HTMLElement {
  const nav = h("nav", { class: "nav", "aria-label": t("app.subtitle") },
    ...Object.entries(PAGES).map(([name, p]) =>
      h("a", { href: `${config.basePath}${name}/`, class: "nav__link", "data-page": name, "aria-current": name === page ? "page" : null }, t(p.title))));
  const langButton = h("button", {
    type: "button",
    class: "btn btn--ghost",
    "aria-label": t("nav.languageLabel"),
    lang: lang() === "en" ? "zh" : "en",
    "data-testid": "lang-toggle",
    onclick: () => {
      setLang(lang() === "en" ? "zh" : "en");
      render();
    },
  }, t("nav.language"));
  const header = h("header", { class: "topbar" },
    h("a", { class: "brand", href: config.basePath }, h("strong", {}, t("app.title")), h("span", { class: "brand__sub" }, t("app.subtitle"))),
    nav,
    h("div", { class: "topbar__user" },
      h("span", { class: "muted" }, config.user.username),
      langButton,
      h("form", { method: "post", action: config.logoutUrl, class: "inline" },
        h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: config.csrfToken }),
        h("button", { type: "submit", class: "btn btn--ghost" }, t("nav.logout")))));
  return header;
}

function render(): void {
  const seq = ++renderSeq;
  disposeCharts();
  const app = document.getElementById("app")!;
  const page = pageFromPath(location.pathname);
  document.title = `${t(PAGES[page]!.title)} · Kaleido`;
  clear(app);
  const main = h("main", { class: "page", id: "main", "data-page": page });
  app.append(shell(page), main);
  app.setAttribute("aria-busy", "true");
  const ctx: PageContext = {
    api,
    config,
    root: main,
    params: new URLSearchParams(location.search),
    setParams: (changes) => {
      const params = new URLSearchParams(location.search);
      for (const [k, v] of Object.entries(changes)) {
        if (v === null || v === "") params.delete(k);
        else params.set(k, v);
      }
      const query = params.toString();
      history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`);
      render();
    },
    meta,
    current: () => seq === renderSeq,
  };
  PAGES[page]!.render(ctx).finally(() => {
    if (seq === renderSeq) {
      app.setAttribute("aria-busy", "false");
      main.dataset.ready = "true";
    }
  });
}

document.addEventListener("click", (event) => {
  const link = (event.target as Element).closest?.("a.nav__link, a.brand") as HTMLAnchorElement | null;
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  history.pushState(null, "", link.getAttribute("href"));
  render();
});
window.addEventListener("popstate", render);

setLang(lang());
render();
