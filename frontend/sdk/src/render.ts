import type { RankItem, RenderSpec } from "./types.js";

export interface RenderCardOptions {
  /** Where the card's call to action goes. Without it the CTA is a <button>. */
  href?: string;
  /** Image to draw; defaults to `spec.image_url`. */
  imageUrl?: string;
  /** Alt text for the image; empty marks it decorative (the headline carries the message). */
  imageAlt?: string;
  /** Heading level of the headline, 2–6. Default 3. */
  headingLevel?: 2 | 3 | 4 | 5 | 6;
  /** Extra attributes on the root element, e.g. {"data-position": "1"}. */
  attributes?: Record<string, string | number>;
  variantId?: number;
}

const HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const LAYOUTS = new Set(["single_image_text", "left_image", "list", "grid"]);

export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Only http(s), protocol-relative and same-site paths; anything else (javascript:, data:) is dropped. */
export function safeUrl(value: unknown): string | undefined {
  if (typeof value !== "string" || !value.trim()) return undefined;
  const url = value.trim();
  if (/^https?:\/\//i.test(url) || url.startsWith("/") || url.startsWith("./") || url.startsWith("../")) return url;
  if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
  return undefined;
}

function safeColor(value: unknown): string | undefined {
  return typeof value === "string" && HEX.test(value) ? value : undefined;
}

function channel(c: number): number {
  const s = c / 255;
  return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance of a #rgb / #rrggbb colour. */
export function luminance(hex: string): number {
  let h = hex.slice(1);
  if (h.length === 3) h = [...h].map((c) => c + c).join("");
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  return 0.2126 * channel(r!) + 0.7152 * channel(g!) + 0.0722 * channel(b!);
}

export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** Black or white, whichever reads better on `background` (WCAG contrast). */
export function readableTextOn(background: string): "#000000" | "#FFFFFF" {
  return contrastRatio(background, "#000000") >= contrastRatio(background, "#FFFFFF") ? "#000000" : "#FFFFFF";
}

/**
 * The `render` spec of a ranked item as accessible HTML: an <article> labelled by its headline,
 * a real heading, an image with alt text, and a CTA link or button whose text colour is chosen
 * for contrast against the button colour. Every value is escaped, so copy is safe to inject.
 */
export function renderCard(spec: RenderSpec, options: RenderCardOptions = {}): string {
  const layout = typeof spec.layout === "string" && LAYOUTS.has(spec.layout) ? spec.layout : "single_image_text";
  const level = options.headingLevel ?? 3;
  const idSeed = options.variantId ?? Math.floor(Math.random() * 1e9);
  const headingId = `kaleido-card-${idSeed}-title`;
  const fontScale = typeof spec.font_scale === "number" && spec.font_scale > 0 && spec.font_scale < 4 ? spec.font_scale : 1;
  const colors = spec.colors ?? {};
  const button = safeColor(colors.button) ?? "#E8322E";
  const buttonText = safeColor(colors.button_text) ?? readableTextOn(button);
  const background = safeColor(colors.background);
  const text = safeColor(colors.text) ?? (background ? readableTextOn(background) : undefined);
  const image = safeUrl(options.imageUrl ?? spec.image_url);
  const href = safeUrl(options.href);
  const lang = typeof spec.language === "string" && /^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$/.test(spec.language) ? spec.language : undefined;

  const style = [`--kaleido-font-scale:${fontScale}`];
  if (background) style.push(`background-color:${background}`);
  if (text) style.push(`color:${text}`);
  const attrs: string[] = [
    `class="kaleido-card kaleido-card--${layout}"`,
    `aria-labelledby="${headingId}"`,
    `style="${escapeHtml(style.join(";"))}"`,
  ];
  if (lang) attrs.push(`lang="${escapeHtml(lang)}"`);
  if (options.variantId !== undefined) attrs.push(`data-variant-id="${escapeHtml(options.variantId)}"`);
  for (const [name, value] of Object.entries(options.attributes ?? {})) {
    if (/^(?:data-[a-z0-9-]+|id|title)$/i.test(name)) attrs.push(`${name}="${escapeHtml(value)}"`);
  }

  const ctaStyle = `background-color:${button};color:${buttonText}`;
  const ctaLabel = escapeHtml(spec.cta || "Learn more");
  const cta = href
    ? `<a class="kaleido-card__cta" href="${escapeHtml(href)}" style="${ctaStyle}">${ctaLabel}</a>`
    : `<button type="button" class="kaleido-card__cta" style="${ctaStyle}">${ctaLabel}</button>`;
  const parts = [`<article ${attrs.join(" ")}>`];
  if (image) {
    parts.push(
      `<img class="kaleido-card__image" src="${escapeHtml(image)}" alt="${escapeHtml(options.imageAlt ?? "")}" loading="lazy" decoding="async">`,
    );
  }
  parts.push(`<div class="kaleido-card__body">`);
  parts.push(`<h${level} id="${headingId}" class="kaleido-card__headline">${escapeHtml(spec.headline ?? "")}</h${level}>`);
  if (spec.subline) parts.push(`<p class="kaleido-card__subline">${escapeHtml(spec.subline)}</p>`);
  parts.push(cta, `</div>`, `</article>`);
  return parts.join("");
}

/** renderCard for a ranked item: uses its image and variant id. */
export function renderItem(item: RankItem, options: RenderCardOptions = {}): string {
  return renderCard(item.render ?? {}, { imageUrl: item.image_url || undefined, variantId: item.variant_id, ...options });
}

/** Default styles for the cards; include once in the page (or write your own against the class names). */
export const cardStyles = `
.kaleido-card{display:flex;flex-direction:column;gap:.5rem;border-radius:12px;overflow:hidden;background:#fff;color:#1b1b1f;font-size:calc(1rem * var(--kaleido-font-scale,1));font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif}
.kaleido-card--left_image{flex-direction:row;align-items:center}
.kaleido-card--left_image .kaleido-card__image{width:40%}
.kaleido-card__image{display:block;width:100%;height:auto;object-fit:cover}
.kaleido-card__body{padding:.75rem 1rem 1rem}
.kaleido-card__headline{margin:0 0 .25rem;font-size:1.25em;line-height:1.3}
.kaleido-card__subline{margin:0 0 .75rem;opacity:.85}
.kaleido-card__cta{display:inline-block;border:0;border-radius:999px;padding:.5rem 1.25rem;font:inherit;font-weight:600;text-decoration:none;cursor:pointer;min-height:44px}
.kaleido-card__cta:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
`;
