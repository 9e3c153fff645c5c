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
/** A layout name as templates write it; a template the SDK does not know still draws (its frame says where). */
const LAYOUT_NAME = /^[a-z][a-z0-9_]{0,40}$/;
const COPY_LINES = ["headline", "subline", "cta"] as const;
type CopyLine = (typeof COPY_LINES)[number];

/** The server composes with Noto Sans CJK; the same family in the page keeps glyph widths (and line breaks) alike. */
const FONT_STACK = `'Noto Sans CJK SC','Noto Sans SC','Noto Sans CJK JP','PingFang SC','Microsoft YaHei',sans-serif`;

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
  const layout = typeof spec.layout === "string" && LAYOUT_NAME.test(spec.layout) ? spec.layout : "single_image_text";
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
  const ctaLabel = escapeHtml(displayedLine(spec, "cta") || "Learn more");
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
  parts.push(`<h${level} id="${headingId}" class="kaleido-card__headline">${escapeHtml(displayedLine(spec, "headline"))}</h${level}>`);
  const subline = displayedLine(spec, "subline");
  if (subline) parts.push(`<p class="kaleido-card__subline">${escapeHtml(subline)}</p>`);
  parts.push(cta, `</div>`, `</article>`);
  return parts.join("");
}

/**
 * The copy line to display: the rank answer's filled text when the line states a live number
 * (`render.filled`), else the line as answered (already its static fallback when no value backs it).
 */
export function displayedLine(spec: RenderSpec, line: CopyLine): string {
  const filled = spec.filled?.[line]?.text;
  if (typeof filled === "string") return filled;
  const value = spec[line];
  return typeof value === "string" ? value : "";
}

export interface RenderBannerOptions extends RenderCardOptions {
  /** Width in CSS pixels to draw at; default the composed width (`frame.width`). Height keeps the aspect. */
  width?: number;
}

interface FrameLine { text: string; x: number; y: number }
interface FrameBlock {
  name: string; text: string; box: number[]; weight: string; size: number; line_height: number; color: string;
  lines: FrameLine[];
}
interface Frame {
  width: number; height: number; background?: string; blocks: FrameBlock[];
  button?: { box: number[]; color: string; text: string };
}

function isBox(value: unknown): value is [number, number, number, number] {
  return Array.isArray(value) && value.length === 4 && value.every((v) => typeof v === "number" && Number.isFinite(v));
}

function frameOf(spec: RenderSpec): Frame | undefined {
  const frame = (spec as { frame?: unknown }).frame as Frame | undefined;
  if (!frame || typeof frame !== "object" || !(frame.width > 0) || !(frame.height > 0) || !Array.isArray(frame.blocks)) {
    return undefined;
  }
  return frame;
}

const px = (value: number) => `${Math.round(value * 100) / 100}px`;

/**
 * The variant drawn natively the way the server composed it (`render.frame`, from the layout template):
 * the textless background (art, backdrop, brand colours) as an image, and every text and the button at
 * the positions, sizes and weights the server's typesetter chose, as real, selectable, accessible text.
 * A line filled with a live number (render.filled) is set in its box by the browser, wrapping as needed.
 * Without a frame (an imported design, an older server) it falls back to renderCard.
 */
export function renderBanner(spec: RenderSpec, options: RenderBannerOptions = {}): string {
  const frame = frameOf(spec);
  const background = frame ? safeUrl(frame.background) : undefined;
  if (!frame || !background) return renderCard(spec, options);
  const width = options.width && options.width > 0 ? options.width : frame.width;
  const scale = width / frame.width;
  const W = frame.width * scale;
  const H = frame.height * scale;
  const level = options.headingLevel ?? 3;
  const idSeed = options.variantId ?? Math.floor(Math.random() * 1e9);
  const headingId = `kaleido-banner-${idSeed}-title`;
  const lang = typeof spec.language === "string" && /^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$/.test(spec.language) ? spec.language : undefined;
  const attrs = [
    `class="kaleido-banner"`,
    `aria-labelledby="${headingId}"`,
    `style="position:relative;overflow:hidden;width:${px(W)};height:${px(H)};font-family:${FONT_STACK}"`,
  ];
  if (lang) attrs.push(`lang="${escapeHtml(lang)}"`);
  if (options.variantId !== undefined) attrs.push(`data-variant-id="${escapeHtml(options.variantId)}"`);
  for (const [name, value] of Object.entries(options.attributes ?? {})) {
    if (/^(?:data-[a-z0-9-]+|id|title)$/i.test(name)) attrs.push(`${name}="${escapeHtml(value)}"`);
  }
  const parts = [`<article ${attrs.join(" ")}>`];
  parts.push(
    `<img src="${escapeHtml(background)}" alt="${escapeHtml(options.imageAlt ?? "")}" decoding="async" ` +
      `style="position:absolute;left:0;top:0;width:100%;height:100%;display:block">`,
  );
  const textStyle = (block: FrameBlock) => {
    const color = safeColor(block.color) ?? "#000000";
    return `margin:0;padding:0;font-size:${px(block.size * H)};font-weight:${block.weight === "bold" ? 700 : 400};color:${color}`;
  };
  for (const block of frame.blocks) {
    if (block.name !== "headline" && block.name !== "subline") continue;
    if (!isBox(block.box)) continue;
    const shown = displayedLine(spec, block.name);
    const tag = block.name === "headline" ? `h${level}` : "p";
    const id = block.name === "headline" ? ` id="${headingId}"` : "";
    const cls = `kaleido-banner__${block.name}`;
    if (shown === block.text && Array.isArray(block.lines)) {
      // the server's own line breaks, each line from its drawing origin
      // (the space a Latin line broke at goes back between the spans, so the text reads "you choose", not "youchoose")
      const lines = block.lines
        .map((line, i) => {
          const previous = i > 0 ? block.lines[i - 1]!.text : "";
          const space = previous && /[\x21-\x7e]$/.test(previous) && /^[\x21-\x7e]/.test(line.text) ? " " : "";
          return (
            `${space}<span style="position:absolute;left:${px(line.x * W)};top:${px(line.y * H)};white-space:pre;line-height:normal">` +
            `${escapeHtml(line.text)}</span>`
          );
        })
        .join("");
      parts.push(`<${tag}${id} class="${cls}" style="${textStyle(block)}">${lines}</${tag}>`);
    } else {
      // a filled live number: the same box and type, broken by the browser with the strict CJK rules
      const [l, t, r] = block.box;
      parts.push(
        `<${tag}${id} class="${cls}" style="${textStyle(block)};position:absolute;left:${px(l! * W)};top:${px(t! * H)};` +
          `width:${px((r! - l!) * W)};line-height:${px(block.line_height * H)};line-break:strict;text-wrap:balance">` +
          `${escapeHtml(shown)}</${tag}>`,
      );
    }
  }
  const cta = frame.blocks.find((b) => b.name === "cta");
  if (frame.button && isBox(frame.button.box) && cta) {
    const [l, t, r, b] = frame.button.box;
    const color = safeColor(frame.button.color) ?? "#E8322E";
    const text = safeColor(frame.button.text) ?? readableTextOn(color);
    const h = (b! - t!) * H;
    const style =
      `position:absolute;left:${px(l! * W)};top:${px(t! * H)};width:${px((r! - l!) * W)};height:${px(h)};` +
      `border:0;border-radius:${px(h / 2)};background:${color};color:${text};display:flex;align-items:center;` +
      `justify-content:center;padding:0;font:inherit;font-size:${px(cta.size * H)};font-weight:${cta.weight === "bold" ? 700 : 400};` +
      `line-height:normal;white-space:nowrap;text-decoration:none;cursor:pointer`;
    const label = escapeHtml(displayedLine(spec, "cta"));
    const href = safeUrl(options.href);
    parts.push(
      href
        ? `<a class="kaleido-banner__cta" href="${escapeHtml(href)}" style="${style}">${label}</a>`
        : `<button type="button" class="kaleido-banner__cta" style="${style}">${label}</button>`,
    );
  }
  parts.push(`</article>`);
  return parts.join("");
}

/** renderBanner for a ranked item. */
export function renderItemBanner(item: RankItem, options: RenderBannerOptions = {}): string {
  return renderBanner(item.render ?? {}, { variantId: item.variant_id, ...options });
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
