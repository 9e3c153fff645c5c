import type { RankItem, RankResponse, RenderSpec, Tags } from "./types.js";

/** One variant of a BFF's default design, as the BFF knows it (only `variant_id` is required). */
export interface DesignVariant {
  variant_id: number;
  variant_key?: string;
  image_url?: string;
  render?: RenderSpec;
  tags?: Tags;
}

/**
 * A rank answer built from the BFF's own default design, to pass as rank()'s `fallback`: no
 * decision (`decision_id` ""), bucket "control", the variants in the given order with propensity 1.
 * Its impressions are not sent to Kaleido: track() refuses an event without a decision.
 */
export function fallbackFromDesign(placement: string, design: DesignVariant | DesignVariant[]): RankResponse {
  const variants = Array.isArray(design) ? design : [design];
  return {
    decision_id: "",
    placement,
    bucket: "control",
    experiment: null,
    model_version: null,
    items: variants.map((variant, index) => toItem(variant, index)),
  };
}

/** A full rank item from a partial one (fixtures, designs): rank by order, no score, propensity 1. */
export function toItem(variant: DesignVariant & Partial<RankItem>, index: number): RankItem {
  return {
    variant_id: variant.variant_id,
    variant_key: variant.variant_key ?? `variant-${variant.variant_id}`,
    rank: variant.rank ?? index + 1,
    score: variant.score ?? null,
    propensity: variant.propensity ?? 1,
    tags: variant.tags ?? {},
    image_url: variant.image_url ?? "",
    render: variant.render ?? {},
    pinned: variant.pinned ?? false,
  };
}
